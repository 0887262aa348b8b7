"""`regelverk policies`: each policy with its version timeline."""

from __future__ import annotations

import json

import click

from ..loading import citation
from .common import POLICIES_OPTION, load_or_exit


@click.command()
@POLICIES_OPTION
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def policies(policies_dir, fmt):
    """List each policy and its versions, with the days each is in force.

    \b
    Example:
      regelverk policies
    """
    repo = load_or_exit(policies_dir)
    ps = repo.policy_set
    if fmt == "json":
        click.echo(json.dumps([
            {"id": p.id, "versions": [{"version": v.version, "valid_from": v.valid_from.isoformat(),
                                       "valid_to": v.valid_to.isoformat() if v.valid_to else None,
                                       "title": v.title, "region": v.region, "file": v.file,
                                       "document": citation.fields(v.source),
                                       "rules": [r.id for r in v.rules]} for v in p.versions]}
            for p in ps.policies.values()], ensure_ascii=False, indent=2))
        return
    for p in ps.policies.values():
        latest = p.latest
        click.echo(f"{p.id}  [{latest.region}]  {latest.title}")
        for v in p.versions:
            end = v.valid_to.isoformat() if v.valid_to else "until further notice"
            click.echo(f"  {v.version:>6}  {v.valid_from.isoformat()} – {end}  ({len(v.rules)} rules)  {v.file}")
