"""`regelverk evaluate` and `regelverk explain`."""

from __future__ import annotations

import json
import sys

import click

from ..explain import render_text, trace_json
from ..parallel import MIN_RECORDS, default_jobs
from .common import POLICIES_OPTION, load_or_exit, read_input, read_input_lines, writing_stdout


@click.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False, allow_dash=True))
@POLICIES_OPTION
@click.option("--jobs", "-j", type=click.IntRange(0, 64), default=0, show_default=True,
              help="Processes to decide in, patients split between them (forked; the decisions "
                   "are the same). 0: one per processor this process may use, at most 8. A batch under "
                   f"{MIN_RECORDS:,} contacts, or with a duplicate id, is decided in one.")
def evaluate(file, policies_dir, jobs):
    """Decide NDJSON contacts from FILE (or standard input); NDJSON decisions to standard output.

    Every input line gets exactly one output line, in input order; a broken line gets
    status "invalid" and the others are still decided.

    \b
    Example:
      regelverk evaluate examples/contacts.ndjson
      cat contacts.ndjson | regelverk evaluate --policies my-policies/
    """
    repo = load_or_exit(policies_dir)
    text = read_input(file)
    with writing_stdout():  # (write_ndjson writes only once every line is decided)
        repo.write_ndjson(text, sys.stdout.buffer, jobs=jobs or default_jobs())
        sys.stdout.buffer.flush()


@click.command()
@click.argument("file", required=False, type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--contact", "contact_id", required=True, help="The id of the contact to explain.")
@click.option("--lang", type=click.Choice(["sv", "en"]), default="en", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@POLICIES_OPTION
def explain(file, contact_id, lang, fmt, policies_dir):
    """Explain how one contact in FILE was decided: the versions applied, each rule and its
    result, the contacts a count used, and the passage each rule cites.

    \b
    Example:
      regelverk explain examples/contacts.ndjson --contact c7 --lang sv
    """
    repo = load_or_exit(policies_dir)
    lines = read_input_lines(file)
    decision, trace, contact = repo.explain(lines, contact_id)
    if decision is None:
        raise click.UsageError(f"there is no contact with id {contact_id!r} in the input")
    with writing_stdout():
        if fmt == "json":
            click.echo(json.dumps({"decision": decision, "trace": trace_json(trace)}, ensure_ascii=False, indent=2))
        else:
            click.echo(render_text(decision, trace, contact, lang, repo.policy_set.facts), nl=False)
