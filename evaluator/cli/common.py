"""What the subcommands share: loading policies with errors mapped to exit codes, reading input."""

from __future__ import annotations

import errno
import os
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import click

from .. import __version__
from ..errors import PolicyError
from ..loading.repository import load_policies
from ..loading.settings import LocateError, PolicySource, locate_policies
from ..running.api import Repository
from ..running.formats import standard_input
from ..running.ndjson import split_ndjson

POLICIES_HELP = ("Policy folder (default: the policy repository this command runs in, found by its "
                 "regelverk.yaml; outside one, the policies bundled with regelverk).")
POLICIES_OPTION = click.option(
    "--policies", "policies_dir", type=click.Path(file_okay=False, exists=True), default=None,
    help=POLICIES_HELP)


# Exit codes: 0 success; 1 a check found problems (validate, test, fmt --check, impact
# --fail-on-change); 2 the command was called wrongly (click's usage errors too); 3 the
# policies could not be loaded; 4 an input file could not be read; 5 the output could not be
# written.
EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_POLICIES, EXIT_INPUT, EXIT_OUTPUT = 0, 1, 2, 3, 4, 5

# What ends a command from outside, besides Ctrl-C (Python's KeyboardInterrupt): a `kill`, a
# scheduler's time limit, a closed terminal.
ENDING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Terminated(SystemExit):
    """A command ended by SIGTERM or SIGHUP, raised where it stood: what it has under way is
    undone on the way out as for any exception (its temporary folder removed, a half-written
    `--out` file deleted, its worker processes killed), then it exits 128 + the signal's
    number, as a shell reports a process the signal killed."""

    def __init__(self, signum: int):
        super().__init__(128 + signum)
        self.signum = signum


def _terminated(signum, frame):
    raise Terminated(signum)


def end_cleanly_on_signals() -> dict:
    """SIGTERM and SIGHUP raise Terminated in this process from now on, where they would have
    killed it at once and left its temporary files behind; the handlers they had, to be put
    back (restore_signals). A signal this process was started ignoring (`nohup`) stays ignored;
    only the main thread can set handlers, so elsewhere (a test's thread) nothing changes."""
    before: dict = {}
    if threading.current_thread() is not threading.main_thread():
        return before
    for signum in ENDING_SIGNALS:
        if signal.getsignal(signum) is signal.SIG_DFL:
            before[signum] = signal.signal(signum, _terminated)
    return before


def restore_signals(before: dict) -> None:
    """Put back the handlers end_cleanly_on_signals replaced."""
    for signum, handler in before.items():
        signal.signal(signum, handler)


def _located(path) -> PolicySource:
    """settings.locate_policies, or exit 3 saying what is wrong and what to do."""
    try:
        return locate_policies(path)
    except LocateError as exc:
        click.echo(f"regelverk: {exc}", err=True)
        for p in exc.problems:
            click.echo(p.render(), err=True)
        sys.exit(EXIT_POLICIES)


def locate_or_exit(path=None) -> PolicySource:
    """The policies a command means (settings.locate_policies): exit 3 with what to do when a
    path names none; a line on standard error when they are the bundled ones."""
    source = _located(path)
    if source.bundled:
        click.echo(f"regelverk: no policy repository here (no regelverk.yaml in {Path.cwd()} or above); "
                   f"using the policies bundled with regelverk {__version__}", err=True)
    return source


def locate_policies_to_change(path, command: str) -> PolicySource:
    """The policies a command that writes files means: as for every command, but never the
    copy installed with regelverk (exit 2 with what to do)."""
    source = _located(path)
    if source.bundled:
        raise click.UsageError(f"{command} writes into a policy repository, and there is no policy repository here "
                               f"(no regelverk.yaml in {Path.cwd()} or above); run it in your policy repository, "
                               "or start one with 'regelverk init'")
    return source


def load_or_exit(path=None, source: PolicySource | None = None) -> Repository:
    """The policies a command means, loaded: exit 3 listing every problem when they cannot be."""
    source = source or locate_or_exit(path)
    try:
        return Repository(load_policies(source.root, source.settings))
    except PolicyError as exc:
        click.echo(f"regelverk: the policies cannot be loaded ({len(exc.problems)} problem(s)):", err=True)
        for p in exc.problems:
            click.echo(p.render(), err=True)
        sys.exit(EXIT_POLICIES)


def read_input_lines(path) -> list:
    """Lines of FILE, or of standard input when FILE is '-' or absent, as bytes: each line is
    decoded on its own, so one bad byte spoils one line, not the batch."""
    return split_ndjson(read_input(path))


def read_input(path) -> bytes:
    """The bytes of FILE, or of standard input when FILE is '-' or absent; exit 4 when they
    cannot be read."""
    try:
        if path in (None, "-"):
            data = standard_input().read()
        else:
            with open(path, "rb") as handle:
                data = handle.read()
    except OSError as exc:
        if path in (None, "-"):
            click.echo(f"regelverk: cannot read standard input: {exc.strerror or exc}", err=True)
        else:
            click.echo(f"regelverk: {cannot_read(path, exc)}", err=True)
        sys.exit(EXIT_INPUT)
    return data


def cannot_read(name, exc: OSError) -> str:
    """Why the file `name` cannot be read, in words that say what to do."""
    if isinstance(exc, FileNotFoundError):
        where = "" if Path(name).is_absolute() else f" (looked for in {Path.cwd()})"
        return (f"cannot read {name}: there is no such file{where}; "
                "check its name, and give its folder too when it lies elsewhere")
    if isinstance(exc, IsADirectoryError):
        return f"cannot read {name}: it is a folder; name a file in it"
    if isinstance(exc, PermissionError):
        return f"cannot read {name}: you are not allowed to read it (its permissions)"
    return f"cannot read {name}: {exc.strerror or exc}"


@contextmanager
def writing_stdout():
    """Standard output that cannot be written (a full disk, a closed file) ends the command with
    exit 5 and the reason, not a traceback. A reader that stopped reading (`| head`) is left to
    click, which ends quietly."""
    if sys.stdout is None:  # started with standard output closed (`>&-`)
        click.echo("regelverk: cannot write the output: standard output is closed", err=True)
        sys.exit(EXIT_OUTPUT)
    try:
        yield
        sys.stdout.flush()
    except OSError as exc:
        if exc.errno == errno.EPIPE:
            raise
        # What is still buffered would fail again when Python flushes it on the way out.
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), sys.stdout.fileno())
        click.echo(f"regelverk: cannot write the output: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_OUTPUT)
