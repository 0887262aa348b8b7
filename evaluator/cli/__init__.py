"""The `regelverk` command: thin — load, call, print, map errors to exit codes.

A module per command (or pair of commands): validate, test (its mutation report in mutation),
fmt, diff, impact, render, new_version, init (and schemas), evaluate (and explain), policies,
serve, compile; common holds what they share (finding and loading the policies, reading
input, writing standard output, the exit codes: common.EXIT_*).
"""

from __future__ import annotations

import functools
import signal

import click

from .. import __version__
from .common import Terminated, end_cleanly_on_signals, restore_signals
from .compile import compile_
from .diff import diff
from .evaluate import evaluate, explain
from .fmt import fmt
from .impact import impact
from .init import init, schemas
from .new_version import new_version
from .policies import policies
from .render import render
from .serve import serve
from .test import test
from .validate import validate


class _Commands(click.Group):
    """The group of commands; one ended by SIGTERM or SIGHUP says so on its way out."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except Terminated as ended:  # (its clean-up has run: the exception came through it)
            click.echo(f"regelverk: stopped by {signal.Signals(ended.signum).name}; "
                       "its temporary files are removed and no --out file is written", err=True)
            raise


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="regelverk")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Regional guidelines on distance contacts as versioned, tested policies.

    \b
    Examples:
      regelverk validate policies/
      regelverk evaluate contacts.ndjson > decisions.ndjson
      regelverk explain contacts.ndjson --contact c7 --lang sv
    """
    # A command killed by SIGTERM or SIGHUP cleans up first (see common.Terminated); `serve`
    # has its own handling of both (a graceful stop, a reload).
    if ctx.invoked_subcommand != "serve":
        ctx.call_on_close(functools.partial(restore_signals, end_cleanly_on_signals()))


for command in (init, validate, test, fmt, diff, impact, render, new_version, evaluate, explain, policies, serve, schemas,
                compile_):
    main.add_command(command)
