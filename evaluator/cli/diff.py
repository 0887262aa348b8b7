"""`regelverk diff`: what changed between two versions of a policy, and how decisions change."""

from __future__ import annotations

import json
import sys

import click

from ..errors import PolicyError
from ..tools.diff import (
    DiffInputError,
    compare,
    impact,
    render_markdown,
    render_text,
    resolve_side,
    to_json,
)
from .common import EXIT_OK, EXIT_POLICIES, EXIT_PROBLEMS, read_input_lines


def _side(spec: str, policies_dir, which: str):
    try:
        return resolve_side(spec, policies_dir)
    except DiffInputError as exc:
        raise click.BadParameter(str(exc), param_hint=which) from exc
    except PolicyError as exc:
        click.echo(f"regelverk: {which} cannot be loaded ({len(exc.problems)} problem(s)):", err=True)
        for p in exc.problems:
            click.echo(p.render(), err=True)
        sys.exit(EXIT_POLICIES)


@click.command()
@click.argument("old")
@click.argument("new")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "md"]), default="text", show_default=True,
              help="md is Markdown, e.g. for a pull-request comment.")
@click.option("--impact", "contacts", type=click.Path(dir_okay=False, allow_dash=True, readable=False), default=None,
              help="NDJSON contacts to decide under both versions; summarizes the decisions that change.")
@click.option("--examples", type=click.IntRange(0), default=5, show_default=True,
              help="With --impact: how many changed decisions to list.")
@click.option("--policies", "policies_dir", type=click.Path(file_okay=False, exists=True), default=None,
              help="Policy folder where POLICY_ID and POLICY_ID@REV are looked up (default: the policy repository "
                   "this runs in, found by its regelverk.yaml; outside one, the bundled policies).")
@click.option("--exit-code", is_flag=True, help="Exit 1 when the versions differ (as git diff --exit-code).")
def diff(old, new, fmt, contacts, examples, policies_dir, exit_code):
    """Compare two versions of a policy: metadata and dates, parameters, and rules added, removed
    and changed. OLD and NEW are each a policy file, FILE@REV (that file as it was at a git
    revision: what a pull request changes in it), POLICY_ID@REV (the policy's latest version
    file at a git revision) or POLICY_ID (its latest version file on disk).

    Exit 0 (with --exit-code: 0 when equal, 1 when they differ); 2 for a side that names no file,
    policy or revision; 3 when a side does not load; 4 when the contacts cannot be read.

    \b
    Example:
      regelverk diff policies/my-region/my-policy/4.0.yaml policies/my-region/my-policy/5.0.yaml
      regelverk diff my-policy@main my-policy --impact contacts.ndjson
      regelverk diff my-policy@HEAD~3 my-policy@HEAD --format md
      regelverk diff policies/my-region/my-policy/4.0.yaml@main policies/my-region/my-policy/4.0.yaml
    """
    before = _side(old, policies_dir, "OLD")
    after = _side(new, policies_dir, "NEW")
    changes = compare(before.version, after.version, before.label, after.label)
    result = None
    if contacts is not None:
        lines = read_input_lines(contacts)
        result = impact(before, after, lines, "standard input" if contacts == "-" else contacts, examples)
    if fmt == "json":
        click.echo(json.dumps(to_json(changes, result), ensure_ascii=False, indent=2))
    elif fmt == "md":
        click.echo(render_markdown(changes, result), nl=False)
    else:
        click.echo(render_text(changes, result), nl=False)
    sys.exit(EXIT_PROBLEMS if exit_code and not changes.empty else EXIT_OK)
