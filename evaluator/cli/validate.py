"""`regelverk validate`: every problem in a policy folder, as file:line:col: message."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..errors import Code, Problem
from ..tools.lint import lint_policy_set
from ..loading.repository import load_policy_set
from ..loading.settings import LocateError, locate_policies
from ..tools.testing import contact_field_problems, find_test_files, load_cases
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
        policy_set, source = None, None
        problems = exc.problems or [Problem(Code.IO, exc.message, hint=exc.hint)]
    else:
        if source.bundled:
            locate_or_exit(None)  # says on standard error that these are the bundled policies
        policy_set, problems = load_policy_set(source.root, source.settings)
        # The policy tests' own form (YAML, test schema); `regelverk test` runs them.
        for path in find_test_files(source.within or source.root):
            doc, found = load_cases(path)
            problems = problems + found
            if doc is not None and policy_set is not None:
                problems = problems + contact_field_problems(doc, policy_set)
        if policy_set is not None:
            problems = problems + lint_policy_set(policy_set)
        if source.within is not None:  # a part of the folder: its problems, and those of no file
            problems = [p for p in problems if p.location is None or _under(p.location.file, source.within)]
    problems = sorted(problems, key=Problem.sort_key)
    errors = [p for p in problems if p.severity == "error"]
    if fmt == "json":
        click.echo(json.dumps({"ok": not errors, "problems": [p.to_json() for p in problems]}, ensure_ascii=False, indent=2))
    elif fmt == "github":
        for p in problems:
            kind = "error" if p.severity == "error" else "warning"
            loc = p.location
            # GitHub's workflow command: ::error file=…,line=…,col=…,title=…::message
            props = [f"file={_github(loc.file, True)}", f"line={loc.line}", f"col={loc.column}"] if loc else []
            props.append(f"title=regelverk {p.code}")
            text = _github(p.message + (f" ({p.hint})" if p.hint else ""), False)
            click.echo(f"::{kind} {','.join(props)}::{text}")
    else:
        for p in problems:
            click.echo(p.render())
        versions = sum(len(pol.versions) for pol in policy_set.policies.values()) if policy_set else 0
        summary = (f"{len(errors)} error(s), {len(problems) - len(errors)} warning(s)" if problems
                   else "no problems")
        click.echo(f"{summary}; {versions} policy version(s) loaded" if policy_set else summary,
                   err=bool(errors))
    sys.exit(EXIT_PROBLEMS if errors else EXIT_OK)


def _under(file: str, within: Path) -> bool:
    path = Path(file).resolve()
    return path == within or within in path.parents


def _github(text: str, prop: bool) -> str:
    """Escaped for a workflow command: a message escapes %, CR and LF; a property also : and ,."""
    text = str(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text
