"""The size limits every file and condition is held to, read from the settings' `limits:` section.

A policy, outputs, facts, test or settings file is refused when it is larger than
`max_file_bytes` or its YAML nests deeper than `max_yaml_nesting`; a condition when it is
longer than `max_condition_chars` or nests deeper than `max_condition_nesting`. Each refusal is
a problem at the place where the limit is passed, naming the limit, so a hostile or mistaken
file costs bounded time and memory and never ends in a traceback.

Where a value comes from, first found first: the `limits:` section of the repository's
`regelverk.yaml`, the environment (`REGELVERK_MAX_FILE_BYTES`, …), the defaults below. The
settings file itself is read under the environment's limits and the defaults.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, fields, replace

from .errors import Code, Problem

# A policy file is a few kilobytes, a test file with long histories some tens; the worst 1 MB
# of YAML (a quarter of a million one-character list items) loads in a few seconds
# (benchmarks/limits.py prints the figures).
DEFAULTS = {
    "max_file_bytes": 1_000_000,
    # The longest bundled condition is about 300 characters; parsing 10,000 takes milliseconds.
    "max_condition_chars": 10_000,
    # Levels of `not`, `-`, calls, lists, comparisons and history counts inside one another
    # (a chain of `and`/`or` is one level however long, and brackets alone add none).
    "max_condition_nesting": 50,
    # Mappings and lists inside one another in a YAML file; a policy uses six.
    "max_yaml_nesting": 100,
}

@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = DEFAULTS["max_file_bytes"]
    max_condition_chars: int = DEFAULTS["max_condition_chars"]
    max_condition_nesting: int = DEFAULTS["max_condition_nesting"]
    max_yaml_nesting: int = DEFAULTS["max_yaml_nesting"]

    @classmethod
    def from_env(cls, environ=None) -> Limits:
        """The defaults, overridden by REGELVERK_<NAME> variables that hold a positive whole number."""
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            raw = environ.get(f"REGELVERK_{f.name.upper()}")
            if raw is not None and raw.strip().isdigit() and int(raw) > 0:
                values[f.name] = int(raw)
        return cls(**values)


def from_section(section: dict, doc=None, base: Limits | None = None) -> tuple[Limits, list[Problem]]:
    """The limits a settings `limits:` section sets over `base` (the environment and defaults),
    and a problem for each value that is not a positive whole number or not a limit at all.
    `doc` is the settings file's SourceDoc, for the problems' places."""
    base = base or Limits.from_env()
    problems: list[Problem] = []
    values = {}
    known = {f.name for f in fields(Limits)}
    for name, value in section.items():
        path = ("limits", name)
        if name not in known:
            if doc is not None:
                from .errors import closest

                guess = closest(str(name), known)
                problems.append(doc.problem(Code.SETTINGS, f"'{name}' is not a limit", path, key=True,
                                            hint=f"did you mean '{guess}'?" if guess else f"limits: {', '.join(sorted(known))}"))
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            if doc is not None:
                problems.append(doc.problem(Code.SETTINGS, f"limit '{name}' must be a positive whole number", path))
            continue
        values[name] = value
    return replace(base, **values), problems


_current: ContextVar[Limits | None] = ContextVar("regelverk_limits", default=None)


def current() -> Limits:
    """The limits in force: those set with `using`, else the environment's and the defaults."""
    limits = _current.get()
    return limits if limits is not None else Limits.from_env()


@contextmanager
def using(limits: Limits) -> Iterator[Limits]:
    """Hold the files and conditions read inside the block to `limits`."""
    token = _current.set(limits)
    try:
        yield limits
    finally:
        _current.reset(token)


def from_settings(settings) -> Limits:
    """The limits a repository's settings set (their `limits:` section) over the environment's
    and the defaults; a value that is not a limit or not a positive whole number is left out
    (read_settings reports it at its place)."""
    if settings is None:
        return current()
    limits, _ = from_section(settings.section("limits"), None, current())
    return limits


def section_problems(doc) -> list[Problem]:
    """What is wrong with the `limits:` section of a settings file's document, at its places."""
    section = doc.value.get("limits") if isinstance(doc.value, dict) else None
    if section is None:
        return []
    if not isinstance(section, dict):
        return [doc.problem(Code.SETTINGS, "'limits' must be a mapping of limit names to whole numbers", ("limits",),
                            hint=", ".join(DEFAULTS))]
    return from_section(section, doc)[1]


def refused(what: str, limit: str, value: int, size: int) -> str:
    """The words of a refusal: what passed which limit, and how to raise it."""
    return f"{what} ({size:,}) is over the limit {limit}: {value:,}"


def raise_hint(limit: str) -> str:
    return f"raise it under 'limits:' in regelverk.yaml ({limit}: …) if this is meant"
