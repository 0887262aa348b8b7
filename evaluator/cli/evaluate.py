"""`regelverk evaluate` and `regelverk explain`."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
import sys
import tempfile

import click
import orjson

from ..explaining.explain import render_text, trace_json
from ..running import inmemory
from ..running.formats import (
    FORMATS,
    FormatError,
    format_of,
    open_writer,
    output_file,
    output_kinds,
    read_chunks,
)
from ..running.parallel import MIN_RECORDS, default_jobs
from ..running.streaming import spool_stdin
from .common import (
    EXIT_INPUT,
    EXIT_OUTPUT,
    EXIT_PROBLEMS,
    EXIT_USAGE,
    POLICIES_OPTION,
    load_or_exit,
    writing_stdout,
)

INPUT_FORMAT_OPTION = click.option(
    "--input-format", type=click.Choice(FORMATS), default=None,
    help="The input's format (default: from the file's extension; standard input: ndjson).")


def _fail_input(message: str):
    click.echo(f"regelverk: {message}", err=True)
    sys.exit(EXIT_INPUT)


@contextlib.contextmanager
def _input(file):
    """(path, name for messages, a temporary folder) of FILE, or of standard input spooled to a
    file in that folder (so is a FILE that can be read only once: a named pipe, `<(…)`); the
    folder and all a run puts in it are removed at the end."""
    folder = tempfile.mkdtemp(prefix="regelverk-")
    try:
        path = file
        if file in (None, "-"):
            try:
                path = spool_stdin(folder)
            except OSError as exc:
                _fail_input(f"cannot read standard input: {exc.strerror or exc}")
        elif _read_once(file):
            try:
                with open(file, "rb") as stream:
                    path = spool_stdin(folder, stream)
            except OSError as exc:
                _fail_input(f"cannot read {file}: {exc.strerror or exc}")
        yield path, (file if file not in (None, "-") else "standard input"), folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _read_once(path: str) -> bool:
    """Whether `path` is a pipe, socket or device: read once, it is gone (a file is read twice:
    scanned, then decided)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False  # (said when it is opened)
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)


def _not_a_folder(file, hint: str = "") -> None:
    """A FILE that is a folder ends the command with exit 4, naming it."""
    if file not in (None, "-") and os.path.isdir(file):
        _fail_input(f"cannot read {file}: it is a folder{hint}")


@contextlib.contextmanager
def _reading(name: str):
    """An input that cannot be read ends the command with one line naming it (exit 4)."""
    try:
        yield
    except FormatError as exc:
        _fail_input(str(exc))
    except OSError as exc:
        _fail_input(f"cannot read {name}: {exc.strerror or exc}")


# FILE is a plain path: whether it can be read is found when it is opened, so that a file that
# cannot be read (no permission, a folder) is exit 4 naming it, as docs/data.md says, not
# click's usage error (exit 2).
@click.command()
@click.argument("file", required=False, type=click.Path(allow_dash=True, readable=False))
@POLICIES_OPTION
@INPUT_FORMAT_OPTION
@click.option("--output-format", type=click.Choice(FORMATS), default=None,
              help="The decisions' format (default: from --out's extension, else ndjson).")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="Write the decisions to this file (a file is written whole under a temporary "
                   "name, then renamed: a failed run leaves no half file; a device or pipe is "
                   "written as it is). Default: standard output.")
@click.option("--jobs", "-j", type=click.IntRange(0, 64), default=0, show_default=True,
              help="Processes to decide in, patients split between them (forked; the decisions "
                   "are the same). 0: one per processor this process may use, at most 8. A batch under "
                   f"{MIN_RECORDS:,} contacts is decided in one.")
@click.option("--memory-budget", type=click.IntRange(min=0), default=None, metavar="MB",
              help="Decide an NDJSON file whole in memory, the fastest way, when its estimated peak "
                   f"({inmemory.PEAK_PER_INPUT_BYTE:g} times the file's size, and "
                   f"{inmemory.PEAK_PER_PROCESS // inmemory.MIB} MB a process) fits in MB megabytes; beyond "
                   "it, in bounded memory. 0: always in bounded memory. Default: "
                   f"{inmemory.ENV}, else regelverk.yaml's evaluate: memory_budget_mb, else a quarter of "
                   "this machine's memory; at most the memory this process may use.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar (it shows only on a terminal).")
@click.option("--fail-on-invalid", is_flag=True,
              help="Exit 1 when any contact was invalid (all decisions are still written).")
@click.option("--dask", "dask_address", default=None, metavar="SCHEDULER_ADDRESS",
              help="Decide on a Dask cluster (tcp://host:8786) instead; FILE is Parquet (a file, "
                   "a folder or a glob) and --out a Parquet folder or file. See docs/data.md.")
def evaluate(file, policies_dir, input_format, output_format, out_path, jobs, memory_budget, quiet,
             fail_on_invalid, dask_address):
    """Decide contacts from FILE (or standard input): NDJSON, CSV or Parquet in, NDJSON, CSV or
    Parquet decisions out (standard output, or --out FILE).

    Every contact gets exactly one decision, in input order; a broken line or row gets status
    "invalid" and the others are still decided. An NDJSON input that fits the memory budget
    (--memory-budget) is decided whole in memory; beyond it, memory stays bounded whatever the
    input's size: input grouped by patient streams straight through, other input is first
    partitioned by patient into temporary files (in TMPDIR).

    \b
    Example:
      regelverk evaluate examples/contacts.ndjson
      regelverk evaluate contacts.parquet --out decisions.parquet
      cat contacts.csv | regelverk evaluate --input-format csv --output-format csv
    """
    repo = load_or_exit(policies_dir)
    if dask_address:
        from ..running.dask import SchedulerUnreachable, evaluate_on_cluster

        try:
            # The workers load the policies this command found, from the same path.
            evaluate_on_cluster(file, out_path, dask_address, str(repo.policy_set.root), output_format)
        except FormatError as exc:
            _fail_input(str(exc))
        except SchedulerUnreachable as exc:
            click.echo(f"regelverk: {exc}", err=True)
            sys.exit(EXIT_USAGE)
        except OSError as exc:
            if out_path is None and exc.errno == errno.EPIPE:
                raise  # a reader that stopped (`| head`): click ends quietly, as without --dask
            click.echo(f"regelverk: cannot write {out_path or 'the output'}: {exc.strerror or exc}", err=True)
            sys.exit(EXIT_OUTPUT)
        except Exception as exc:  # noqa: BLE001 - a worker's failure, as Dask reports it
            click.echo(f"regelverk: the Dask run failed: {type(exc).__name__}: {exc}", err=True)
            sys.exit(EXIT_PROBLEMS)
        return
    if out_path == "":
        raise click.UsageError("--out needs a file name (without --out the decisions go to standard output)")
    try:
        in_fmt = format_of(file, input_format)
        out_fmt = format_of(out_path, output_format)
    except FormatError as exc:
        raise click.UsageError(str(exc)) from None
    jobs = jobs or default_jobs()
    try:
        budget = inmemory.memory_budget_mb(repo.policy_set.settings, memory_budget)
    except inmemory.BudgetError as exc:
        raise click.UsageError(str(exc)) from None
    _not_a_folder(file, " (a folder of Parquet files is read with --dask)")
    with _input(file) as (path, name, folder):
        with _reading(name):
            source = inmemory.FileInput(path, in_fmt, budget_mb=budget, jobs=jobs, fields=repo.policy_set.fields,
                                        name=name)
        summary = _decide_to(repo, source, out_path, out_fmt, folder=folder, quiet=quiet)
    if fail_on_invalid and summary.invalid:
        click.echo(f"regelverk: {summary.invalid:,} of {summary.contacts:,} contacts are invalid", err=True)
        sys.exit(EXIT_PROBLEMS)


def _decide_to(repo, source: inmemory.FileInput, out_path, out_fmt, *, folder, quiet):
    from ..running.progress import Bar

    kinds = output_kinds(repo.policy_set)
    bar = Bar(source.size, enabled=False if quiet else None)
    try:
        if out_path is None:
            with writing_stdout():
                stream = sys.stdout.buffer
                summary = _run(repo, source, open_writer(out_fmt, stream, kinds), folder, bar)
                stream.flush()
            return summary
        try:
            with output_file(out_path) as stream:
                summary = _run(repo, source, open_writer(out_fmt, stream, kinds), folder, bar)
        except OSError as exc:
            click.echo(f"regelverk: cannot write {out_path}: {exc.strerror or exc}", err=True)
            sys.exit(EXIT_OUTPUT)
        return summary
    finally:
        bar.close()


def _run(repo, source: inmemory.FileInput, writer, folder, bar):
    write = writer.write_lines if writer.wants_lines else (
        lambda lines: writer.write([orjson.loads(line) for line in lines]))
    try:
        try:
            summary = source.decide(repo.engine, write, folder=folder, progress=bar)
        except FormatError as exc:
            _fail_input(str(exc))
    except BaseException:  # (stopped, or failed: the writer lets go while its stream is open)
        writer.abandon()
        raise
    writer.close()
    return summary


@click.command()
@click.argument("file", required=False, type=click.Path(allow_dash=True, readable=False))
@click.option("--contact", "contact_id", required=True, help="The id of the contact to explain.")
@click.option("--lang", type=click.Choice(["sv", "en"]), default="en", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@INPUT_FORMAT_OPTION
@POLICIES_OPTION
def explain(file, contact_id, lang, fmt, input_format, policies_dir):
    """Explain how one contact in FILE was decided: the versions applied, each rule and its
    result, the contacts a count used, and the passage each rule cites.

    \b
    Example:
      regelverk explain examples/contacts.ndjson --contact c7 --lang sv
    """
    repo = load_or_exit(policies_dir)
    try:
        in_fmt = format_of(file, input_format)
    except FormatError as exc:
        raise click.UsageError(str(exc)) from None
    _not_a_folder(file)
    # (read up to three times; held: the contact's patient's contacts, not the whole input)
    with _input(file) as (path, name, _folder), _reading(name):
        decision, trace, contact = repo.explain_input(
            lambda: read_chunks(path, in_fmt, repo.policy_set.fields, name=name), contact_id)
    if decision is None:
        raise click.UsageError(f"there is no contact with id {contact_id!r} in the input")
    with writing_stdout():
        if fmt == "json":
            click.echo(json.dumps({"decision": decision, "trace": trace_json(trace)}, ensure_ascii=False, indent=2))
        else:
            click.echo(render_text(decision, trace, contact, lang, repo.policy_set.facts), nl=False)
