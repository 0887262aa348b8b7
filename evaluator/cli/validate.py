"""`regelverk validate`: every problem in a policy folder, as file:line:col: message."""

from __future__ import annotations

import json
import sys

import click

from ..errors import Code, Problem
from ..loading.settings import LocateError, locate_policies
from ..tools.validate import github_annotation, validate_policies
from .common import EXIT_OK, EXIT_PROBLEMS, locate_or_exit


@click.command()
@click.argument("directory", required=False, type=click.Path(exists=True))
@click.option("--format", "fmt", type=click.Choice(["text", "json", "github"]), default="text", show_default=True,
              help="github prints GitHub Actions annotations, so problems show on the pull request's lines.")
def validate(directory, fmt):
    """Check every policy in DIRECTORY (default: the policy repository this runs in; outside one,
    the bundled policies), or the part of it DIRECTORY names: YAML, schema, conditions
    and their types, placement, overlapping versions, and the form of its policy tests
    (*.test.yaml; `regelverk test` runs them); then, when they load, lint them: unused
    parameters, rules no contact can reach, single outputs two rules can set differently.
    Exit 0 when there is no error (warnings allowed), 1 otherwise.

    \b
    Example:
      regelverk validate policies/
      regelverk validate policies/ --format github
    """
    try:
        source = locate_policies(directory)
    except LocateError as exc:
        policy_set = None
        problems = exc.problems or [Problem(Code.IO, exc.message, hint=exc.hint)]
    else:
        if source.bundled:
            locate_or_exit(None)  # says on standard error that these are the bundled policies
        policy_set, problems = validate_policies(source)
    errors = [p for p in problems if p.severity == "error"]
    if fmt == "json":
        click.echo(json.dumps({"ok": not errors, "problems": [p.to_json() for p in problems]}, ensure_ascii=False, indent=2))
    elif fmt == "github":
        for p in problems:
            click.echo(github_annotation(p))
    else:
        for p in problems:
            click.echo(p.render())
        versions = sum(len(pol.versions) for pol in policy_set.policies.values()) if policy_set else 0
        summary = (f"{len(errors)} error(s), {len(problems) - len(errors)} warning(s)" if problems
                   else "no problems")
        click.echo(f"{summary}; {versions} policy version(s) loaded" if policy_set else summary,
                   err=bool(errors))
    sys.exit(EXIT_PROBLEMS if errors else EXIT_OK)
