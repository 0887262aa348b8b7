"""Golden files for the toolchain's text output: compare, or rewrite with REGELVERK_UPDATE_GOLDEN=1."""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"
FIXTURES = Path(__file__).parent / "fixtures"


def check_golden(name: str, actual: str) -> None:
    """Assert that `actual` equals tests/golden/<name>; with REGELVERK_UPDATE_GOLDEN=1, write it."""
    path = GOLDEN / name
    if os.environ.get("REGELVERK_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"no golden file {path}; run with REGELVERK_UPDATE_GOLDEN=1 to create it"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, (
        f"output differs from {path} (REGELVERK_UPDATE_GOLDEN=1 rewrites it after review)\n"
        f"--- expected\n{expected}\n--- actual\n{actual}")
