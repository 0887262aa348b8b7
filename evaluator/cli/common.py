"""What the subcommands share: loading policies with errors mapped to exit codes, reading input."""

from __future__ import annotations

import sys

import click

from ..api import Repository
from ..errors import PolicyError

POLICIES_OPTION = click.option(
    "--policies", "policies_dir", type=click.Path(file_okay=False, exists=True), default=None,
    help="Policy folder (default: the policies that ship with regelverk).")


def load_or_exit(policies_dir) -> Repository:
    try:
        return Repository.load(policies_dir)
    except PolicyError as exc:
        click.echo(f"regelverk: the policies cannot be loaded ({len(exc.problems)} problem(s)):", err=True)
        for p in exc.problems:
            click.echo(p.render(), err=True)
        sys.exit(3)


def read_input_lines(path) -> list[str]:
    """Lines of FILE, or of standard input when FILE is '-' or absent."""
    try:
        if path in (None, "-"):
            return sys.stdin.read().splitlines()
        with open(path, encoding="utf-8") as handle:
            return handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        click.echo(f"regelverk: cannot read {path}: {exc}", err=True)
        sys.exit(4)
