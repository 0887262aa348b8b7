"""`regelverk new-version`: start the next version of a policy from a date."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..loading.yamlsource import display_path
from ..tools.new_version import NewVersionError, cases_from, plan, write
from .common import EXIT_PROBLEMS, load_or_exit, locate_policies_to_change


@click.command("new-version")
@click.argument("policy")
@click.option("--from", "valid_from", required=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="First day the new version is in force (YYYY-MM-DD).")
@click.option("--version", "version", default=None,
              help="The new version's number (default: the next major one, 4.0 → 5.0).")
@click.option("--policies", "policies_dir", type=click.Path(file_okay=False), default=None,
              help="Policy folder (default: the policy repository this runs in).")
def new_version(policy, valid_from, version, policies_dir):
    """Copy POLICY's latest version file to the next version, in force from --from and until
    further notice, and end the previous version the day before (if it ran longer). Comments
    and layout stay. The result is validated first; nothing is written unless it loads.

    Exit 0 when written; 1 when the result would not validate (nothing written); 2 for a wrong
    request (unknown policy, a date not after the previous version's start, a version that
    exists); 3 when the policies cannot be loaded.

    \b
    Example:
      regelverk new-version my-policy --from 2027-01-31
      regelverk new-version other-policy --from 2026-01-01 --version 1.1
    """
    if policies_dir is not None and not Path(policies_dir).is_dir():
        raise click.BadParameter(f"{policies_dir} is not a folder", param_hint="--policies")
    source = locate_policies_to_change(policies_dir, "new-version")
    repo = load_or_exit(source=source)
    try:
        result = plan(repo.policy_set, policy, valid_from.date(), version)
    except NewVersionError as exc:
        raise click.UsageError(str(exc)) from exc
    for p in result.problems:
        click.echo(p.render(), err=p.severity == "error")
    if not result.ok:
        click.echo(f"regelverk: version {result.version} of {policy} would not validate; nothing was written",
                   err=True)
        sys.exit(EXIT_PROBLEMS)
    write(result)
    shown = display_path
    click.echo(f"created {shown(result.new_file)}: version {result.version}, in force from {result.valid_from} "
               "until further notice")
    if result.new_old_valid_to != result.old_valid_to:
        before = result.old_valid_to.isoformat() if result.old_valid_to else "until further notice"
        click.echo(f"updated {shown(result.old_file)}: version {result.previous.version} now ends "
                   f"{result.new_old_valid_to} (was {before})")
    else:
        click.echo(f"kept {shown(result.old_file)}: version {result.previous.version} already ends "
                   f"{result.old_valid_to}, before the new version starts")
    moved = cases_from(repo.policy_set, policy, result.valid_from)
    if moved:
        click.echo(f"{len(moved)} test case(s) are dated from {result.valid_from}: they now test version "
                   f"{result.version}:")
        for case in moved:
            ended = result.old_valid_to is not None and case.date > result.old_valid_to
            was = "no version in force" if ended else f"version {result.previous.version}"
            click.echo(f"  {case.file}:{case.line}  {case.name}  ({case.date}; tested {was} until now)")
        click.echo(f"  for each, decide: to keep it testing version {result.previous.version}, date it (and its "
                   f"history) before {result.valid_from}; or keep it, with version {result.version}'s expectations")
    click.echo("next: edit the new version's rules, its source (document id, validity) and description, "
               f"and add test cases dated from {result.valid_from}")
