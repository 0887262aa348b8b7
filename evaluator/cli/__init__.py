"""The `regelverk` command: thin — load, call, print, map errors to exit codes.

A module per command (or pair of commands): validate, test (its mutation report in mutation),
fmt, diff, impact, render, new_version, init (and schemas), evaluate (and explain), policies,
serve, compile; common holds what they share (finding and loading the policies, reading
input, writing standard output, the exit codes: common.EXIT_*).
"""

from __future__ import annotations

import click

from .. import __version__
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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="regelverk")
def main() -> None:
    """Regional guidelines on distance contacts as versioned, tested policies.

    \b
    Examples:
      regelverk validate policies/
      regelverk evaluate contacts.ndjson > decisions.ndjson
      regelverk explain contacts.ndjson --contact c7 --lang sv
    """


for command in (init, validate, test, fmt, diff, impact, render, new_version, evaluate, explain, policies, serve, schemas,
                compile_):
    main.add_command(command)
