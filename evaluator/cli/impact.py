"""`regelverk impact`: the decisions a change of the policy set flips, on a file of contacts."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import click
import orjson

from ..errors import PolicyError
from ..loading.yamlsource import display_path
from ..running.formats import FormatError, format_of
from ..running.formats import read_contacts as formats_read_contacts
from ..running.ndjson import split_ndjson
from ..running.parallel import default_jobs
from ..tools.impact import ImpactInputError, load_base, run_impact
from ..tools.impact_render import impact_json, render_markdown, render_text
from .common import (
    EXIT_INPUT,
    EXIT_OK,
    EXIT_POLICIES,
    EXIT_PROBLEMS,
    POLICIES_OPTION,
    cannot_read,
    load_or_exit,
    locate_or_exit,
    read_input,
    writing_stdout,
)


def read_contacts(path, input_format: str | None, fields: dict) -> tuple[list, bytes | None]:
    """The contacts of FILE as NDJSON lines, and the text they were split from (None for CSV
    and Parquet, read by evaluator.running.formats as `evaluate` reads them and each contact written as
    its JSON line; a row that could not be read is a line that is no contact, invalid on both
    sides, so never a difference)."""
    try:
        fmt = format_of(path, input_format)
    except FormatError as exc:
        raise click.BadParameter(str(exc), param_hint="--input-format") from exc
    if fmt == "ndjson":
        text = read_input(path)
        return split_ndjson(text), text
    try:
        records, _ = formats_read_contacts(path, fmt, fields)
    except OSError as exc:
        click.echo(f"regelverk: {cannot_read(path, exc)}", err=True)
        sys.exit(EXIT_INPUT)
    except FormatError as exc:
        click.echo(f"regelverk: cannot read {path}: {exc}", err=True)
        sys.exit(EXIT_INPUT)
    return [orjson.dumps(r, default=str) if r is not None else b"null" for r in records], None


def _problems(which: str, exc: PolicyError) -> None:
    click.echo(f"regelverk: {which} cannot be loaded ({len(exc.problems)} problem(s)):", err=True)
    for p in exc.problems:
        click.echo(p.render(), err=True)
    sys.exit(EXIT_POLICIES)


_DATE = click.DateTime(formats=["%Y-%m-%d"])


@click.command()
@click.argument("contacts", type=click.Path(dir_okay=False, allow_dash=True, readable=False))
@click.option("--base", required=True, metavar="REV|DIR",
              help="The policy set to compare with: a folder, or a git revision of the repository "
                   "holding the policy folder (e.g. origin/main).")
@POLICIES_OPTION
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown", "md"]), default="text",
              show_default=True, help="markdown (or md): for a pull-request comment or a job summary.")
@click.option("--as-if-in-force", "as_if", is_flag=True,
              help="Counterfactual: decide the contacts in a window with each new version in place of "
                   "the version it follows, as if it had been in force then.")
@click.option("--from", "start", type=_DATE, default=None, help="With --as-if-in-force: the window's first day.")
@click.option("--to", "end", type=_DATE, default=None, help="With --as-if-in-force: the window's last day.")
@click.option("--examples", type=click.IntRange(0), default=3, show_default=True,
              help="How many example contacts to show per group.")
@click.option("--lang", type=click.Choice(["en", "sv"]), default="en", show_default=True,
              help="The language of the findings' messages in the examples.")
@click.option("--jobs", "-j", type=click.IntRange(0, 64), default=0, show_default=True,
              help="Processes to decide in, as for evaluate (0: one per usable processor, at most 8).")
@click.option("--fail-on-change", is_flag=True, help="Exit 1 when any decision differs.")
@click.option("--input-format", type=click.Choice(["ndjson", "csv", "parquet"]), default=None,
              help="The format of CONTACTS (default: from its extension, else NDJSON).")
def impact(contacts, base, policies_dir, fmt, as_if, start, end, examples, lang, jobs, fail_on_change, input_format):
    """Compare the decisions on CONTACTS (NDJSON, CSV or Parquet) under the policy set at --base and under the
    working policy set, every policy of both, decided as `evaluate` decides. Reports the
    decisions that differ (status, an output, or a finding), grouped by output and change,
    with the policy versions and rules whose findings differ and example contacts.

    With --as-if-in-force, each new version (a version the base does not have) is put in
    force over a window in place of the version it follows. The window is --from/--to, or by
    default, per policy, the three months up to the last contact in the file the old version
    applied to (never before the old version starts).

    Exit 0 whether or not decisions differ (with --fail-on-change: 1 when they do); 2 for a
    base that names no folder or revision; 3 when either side's policies do not load; 4 when
    CONTACTS cannot be read.

    \b
    Example:
      regelverk impact examples/contacts.ndjson --base origin/main
      regelverk impact contacts.ndjson --base HEAD~1 --as-if-in-force --format markdown
      regelverk impact contacts.ndjson --base ../old-policies --as-if-in-force --from 2025-01-01 --to 2025-03-31
    """
    if (start is None) != (end is None):
        raise click.UsageError("give the window as both --from and --to (or neither, for the default)")
    if start is not None and not as_if:
        raise click.UsageError("--from and --to set the window of --as-if-in-force")
    window = (start.date(), end.date()) if start is not None else None
    if window and window[0] > window[1]:
        raise click.UsageError(f"--from {window[0]} is after --to {window[1]}")
    if contacts != "-" and not Path(contacts).exists():
        # said before both policy sets are loaded (and the base taken out of git) for nothing
        click.echo(f"regelverk: {cannot_read(contacts, FileNotFoundError())}", err=True)
        sys.exit(EXIT_INPUT)
    source = locate_or_exit(policies_dir)
    working_dir = source.root
    working = load_or_exit(source=source).policy_set
    with tempfile.TemporaryDirectory(prefix="regelverk-base-") as tmp:
        try:
            base_set, base_label = load_base(base, working_dir, Path(tmp), working.settings)
        except ImpactInputError as exc:
            raise click.BadParameter(str(exc), param_hint="--base") from exc
        except PolicyError as exc:
            _problems(f"the base ({base})", exc)
    lines, text = read_contacts(contacts, input_format, working.fields)
    report = run_impact(base_set, working, lines, base_label=base_label, working_label=display_path(working_dir),
                        source="standard input" if contacts == "-" else contacts, as_if=as_if, window=window,
                        jobs=jobs or default_jobs(), examples=examples, text=text)
    with writing_stdout():
        if fmt == "json":
            click.echo(json.dumps(impact_json(report), ensure_ascii=False, indent=2))
        elif fmt in ("markdown", "md"):
            click.echo(render_markdown(report, lang), nl=False)
        else:
            click.echo(render_text(report, lang), nl=False)
    sys.exit(EXIT_PROBLEMS if fail_on_change and report.changed else EXIT_OK)
