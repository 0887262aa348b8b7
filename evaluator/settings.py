"""Which policies a command means: the repository marker, its settings, and the bundled fallback.

A policy repository is a folder with a `regelverk.yaml` at its root (found as git finds `.git`:
from the current folder upwards). That file is where the repository's settings live: the
folder of its policies, the file of its declared facts, and sections other parts of regelverk
read (`limits`, `serve`, …). Without one, the policies bundled with regelverk are used, and the
command says so on standard error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .errors import Location, Problem

MARKER = "regelverk.yaml"
DEFAULT_POLICIES = "policies"
DEFAULT_FACTS = "facts.yaml"


@dataclass(frozen=True)
class Settings:
    """A policy repository's settings, read from its marker file. `root` is None for the
    bundled policies, which have no repository of their own."""

    root: Path | None
    raw: dict = field(default_factory=dict)

    @property
    def marker(self) -> Path | None:
        return self.root / MARKER if self.root is not None else None

    def section(self, name: str) -> dict:
        """A settings section (`limits`, `serve`, …) as a mapping; {} when absent."""
        value = self.raw.get(name)
        return value if isinstance(value, dict) else {}

    @property
    def policies_dir(self) -> Path | None:
        if self.root is None:
            return None
        return (self.root / str(self.raw.get("policies", DEFAULT_POLICIES))).resolve()

    @property
    def facts_file(self) -> Path | None:
        if self.root is None:
            return None
        return (self.root / str(self.raw.get("facts", DEFAULT_FACTS))).resolve()

    @property
    def region(self) -> str | None:
        value = self.raw.get("region")
        return value if isinstance(value, str) else None


def find_repository_root(start: Path | str) -> Path | None:
    """The nearest folder at or above `start` holding a `regelverk.yaml`; None when none does."""
    here = Path(start).resolve()
    if here.is_file():
        here = here.parent
    for folder in (here, *here.parents):
        if (folder / MARKER).is_file():
            return folder
    return None


def read_settings(root: Path) -> tuple[Settings, list[Problem]]:
    """The settings in `root/regelverk.yaml`, and the problems with them (at their places)."""
    from .yamlsource import display_path, load_yaml

    path = root / MARKER
    doc, problems = load_yaml(path, display_path(path))
    if doc is None or any(p.severity == "error" for p in problems):
        return Settings(root, {}), problems
    value = doc.value
    if value is None:
        value = {}
    if not isinstance(value, dict):
        return Settings(root, {}), [Problem("settings", f"{MARKER} must hold a mapping of settings",
                                            Location(doc.file, 1, 1))]
    for key in ("policies", "facts"):
        if key in value and not isinstance(value[key], str):
            problems.append(doc.problem("settings", f"'{key}' must be a folder or file name, relative to {MARKER}", (key,)))
    return Settings(root, value), problems
