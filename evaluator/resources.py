"""Where the grammar, the schemas, the templates and the bundled policies are, installed or in a checkout."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    # In a wheel they are copied into evaluator/_bundled/; in a checkout (or an editable
    # install) they stand at the repository's top level, next to evaluator/.
    for candidate in (_PACKAGE / "_bundled" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"regelverk cannot find its {name}/ folder (looked in {_PACKAGE})")


def grammar_dir() -> Path:
    return _find("grammar")


def schemas_dir() -> Path:
    return _find("schemas")


def policies_dir() -> Path:
    return _find("policies")


def bundled_root() -> Path:
    """The folder that holds the bundled policies' regelverk.yaml: evaluator/_bundled/ in a
    wheel, this repository's top level in a checkout."""
    bundled = _PACKAGE / "_bundled"
    return bundled if (bundled / "regelverk.yaml").is_file() else _PACKAGE.parent


def templates_dir() -> Path:
    """The files `regelverk init` writes into a new repository (inside the package)."""
    return _PACKAGE / "templates"


def examples_dir() -> Path:
    return _find("examples")


@cache
def load_schema(name: str) -> dict:
    with open(schemas_dir() / name, encoding="utf-8") as handle:
        return json.load(handle)
