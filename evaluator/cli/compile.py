"""`regelverk compile`: print the Python source a policy version is compiled to (a debug aid)."""

from __future__ import annotations

import click

from ..compiling.program import version_source
from .common import POLICIES_OPTION, load_or_exit


@click.command("compile")
@click.argument("policy_id")
@click.option("--version", "version", default=None, help="The version to show (default: the latest).")
@POLICIES_OPTION
def compile_(policy_id, version, policies_dir):
    """Print the Python source that decides contacts under POLICY_ID's version: the function
    deciding a contact (applies_when, every rule, the effects on the outputs), the history replay,
    and the traced variants that findings and `explain` use. Generated from the checked policy;
    names in it are generated identifiers, and the policy's values are bound arguments. Read it
    to see what a slow rule does.

    Exit 0 when printed; 2 when there is no such policy or version; 3 when the policies cannot be
    loaded.

    \b
    Example:
      regelverk compile my-policy
      regelverk compile my-policy --version 2.0 --policies policies/
    """
    repo = load_or_exit(policies_dir)
    policy_set = repo.policy_set
    if policy_id not in policy_set.policies:
        known = ", ".join(sorted(policy_set.policies))
        raise click.BadParameter(f"there is no policy '{policy_id}' (policies: {known})", param_hint="POLICY_ID")
    try:
        source = version_source(policy_set, list(policy_set.outputs.values()), policy_id, version)
    except KeyError as exc:
        raise click.BadParameter(exc.args[0], param_hint="--version") from exc
    click.echo(source, nl=False)
