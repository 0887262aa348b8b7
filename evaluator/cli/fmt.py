"""`regelverk fmt`: policy files in the canonical layout, or a check that they are."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

import click

from ..errors import Code
from ..loading.yamlsource import display_path
from ..tools.fmt import format_file, policy_files_in
from .common import EXIT_INPUT, EXIT_OK, EXIT_POLICIES, EXIT_PROBLEMS, locate_policies_to_change


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--check", is_flag=True, help="Change nothing; list the files that would change and exit 1 if any.")
@click.option("--diff", "show_diff", is_flag=True, help="Show what would change, as a unified diff.")
def fmt(paths, check, show_diff):
    """Format policy files: keys in the canonical order (id, version, title, issuer, region,
    valid_from, valid_to, source, description, applies_when, parameters, rules; in a rule: id,
    section, passage, reading, when, then, otherwise, severity, message), 2-space indentation.
    Comments, blank lines, quoting and block styles stay as written.

    PATHS are policy files or folders (default: the policy folder of the repository this runs in). outputs.yaml and *.test.yaml are
    left alone.

    Exit 0 when done (with --check: when nothing would change); 1 with --check when a file would
    change; 3 when a file is not valid YAML, its keys or values are not a policy's (a line
    indented wrongly, say), or fmt cannot lay it out without changing what it says (the file is
    then left as it is, and the problems are listed at their lines); 4 when a file cannot be
    read or written.

    \b
    Example:
      regelverk fmt policies/
      regelverk fmt --check --diff policies/my-region/my-policy/4.0.yaml
    """
    if not paths:
        paths = (locate_policies_to_change(None, "fmt").root,)
    files = policy_files_in(list(paths))
    changed, unreadable, broken, failed = [], False, False, 0
    for path in files:
        shown = display_path(path)
        outcome = format_file(path, shown)
        if outcome.problem is not None:
            for problem in outcome.problems or [outcome.problem]:
                click.echo(problem.render(), err=True)
            unreadable |= outcome.problem.code == Code.IO
            broken |= outcome.problem.code != Code.IO
            failed += 1
            continue
        if not outcome.changed:
            continue
        changed.append(shown)
        if show_diff:
            click.echo("".join(difflib.unified_diff(
                outcome.original.splitlines(keepends=True), outcome.formatted.splitlines(keepends=True),
                fromfile=f"a/{shown}", tofile=f"b/{shown}")), nl=False)
        if check:
            click.echo(f"would reformat {shown}")
            continue
        try:
            path.write_text(outcome.formatted, encoding="utf-8", newline=outcome.newline)  # (its line ends kept)
        except OSError as exc:
            click.echo(f"regelverk: cannot write {shown}: {exc}", err=True)
            unreadable = True
            continue
        click.echo(f"formatted {shown}")
    verb = "would be reformatted" if check else "formatted"
    summary = f"{len(changed)} file(s) {verb}, {len(files) - len(changed) - failed} already in the canonical layout"
    if failed:
        summary += f", {failed} could not be formatted"
    click.echo(summary if files else "no policy files found")
    if unreadable:
        sys.exit(EXIT_INPUT)
    if broken:
        sys.exit(EXIT_POLICIES)
    sys.exit(EXIT_PROBLEMS if check and changed else EXIT_OK)
