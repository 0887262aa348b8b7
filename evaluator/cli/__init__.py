"""The `regelverk` command: thin — load, call, print, map errors to exit codes.

Exit codes: 0 success; 1 a check found problems (validate, test, fmt --check); 2 the command
was called wrongly (click's usage errors); 3 the policies could not be loaded; 4 an input file
could not be read; 5 the output could not be written (`evaluate`, `explain`).
"""

from __future__ import annotations

import click

from .. import __version__
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

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_POLICIES, EXIT_INPUT, EXIT_OUTPUT = 0, 1, 2, 3, 4, 5


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


for command in (init, validate, test, fmt, diff, impact, render, new_version, evaluate, explain, policies, serve, schemas):
    main.add_command(command)
