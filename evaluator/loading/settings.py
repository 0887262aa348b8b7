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

from ..errors import Code, Problem
from .schema import schema_problems

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


def _is(path: Path, kind: str) -> bool:
    """Whether `path` is a folder (`dir`) or a file; False for a name the system refuses (too
    long, say) rather than an OSError."""
    try:
        return path.is_dir() if kind == "dir" else path.is_file()
    except OSError:
        return False


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
        return Settings(root, {}), []
    from jsonschema import Draft202012Validator

    from ..resources import load_schema

    problems = schema_problems(doc, Draft202012Validator(load_schema("settings.schema.json")), Code.SETTINGS)
    if problems:
        return Settings(root, {}), problems
    settings = Settings(root, value)
    folder = settings.policies_dir
    if not _is(folder, "dir"):
        problems.append(doc.problem(Code.SETTINGS, f"the policy folder '{value.get('policies', DEFAULT_POLICIES)}' does not exist",
                                    ("policies",), hint="create it, or correct 'policies'"))
    facts = settings.facts_file
    if "facts" in value and not _is(facts, "file"):
        problems.append(doc.problem(Code.SETTINGS, f"the facts file '{value['facts']}' does not exist", ("facts",),
                                    hint="create it (regelverk init writes one), or correct 'facts'"))
    from ..limits import section_problems

    problems += section_problems(doc)
    return settings, problems


@dataclass(frozen=True)
class PolicySource:
    """Where a command's policies come from: the policy folder, the repository's settings, and
    how it was found (`given`: a path or --policies; `repository`: the repository the command
    runs in; `bundled`: the copy installed with regelverk). `within` is the narrower part of the
    folder a path named (a region, a policy, a test file), for the commands that narrow."""

    root: Path
    settings: Settings
    origin: str
    within: Path | None = None

    @property
    def bundled(self) -> bool:
        return self.origin == "bundled"


class LocateError(Exception):
    """No policies can be found where a command was pointed; says what to do instead.
    `problems`: what is wrong with a repository's settings, at their places."""

    def __init__(self, message: str, hint: str | None = None, problems: list[Problem] | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.problems = problems or []

    def __str__(self) -> str:
        return self.message + (f" ({self.hint})" if self.hint else "")


def bundled_source() -> PolicySource:
    """The policies installed with regelverk, and the settings they came with."""
    from ..resources import bundled_root

    root = bundled_root()
    settings = Settings(root, {})
    if (root / MARKER).is_file():
        settings, _ = read_settings(root)
    return PolicySource(settings.policies_dir or root / DEFAULT_POLICIES, settings, "bundled")


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _repository(root: Path) -> Settings:
    settings, problems = read_settings(root)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise LocateError(f"the repository's settings ({root / MARKER}) are wrong", problems=errors)
    return settings


def locate_policies(path: Path | str | None = None, cwd: Path | str | None = None) -> PolicySource:
    """The one meaning of "the policies" for every command and the Python API:

    1. a path (an argument or --policies): the policy folder it is, or is inside, or holds;
    2. else the policy repository that contains the current folder (its regelverk.yaml);
    3. else the policies bundled with regelverk (the caller says so on standard error).

    Raises LocateError for a path that is neither in a policy repository nor a policy folder.
    """
    if path is None:
        here = Path(cwd) if cwd is not None else Path.cwd()
        root = find_repository_root(here)
        if root is None:
            return bundled_source()
        settings = _repository(root)
        return PolicySource(settings.policies_dir, settings, "repository")
    given = Path(path).resolve()
    if not (_is(given, "dir") or _is(given, "file")):
        raise LocateError(f"{path} does not exist")
    root = find_repository_root(given)
    if root is not None:
        settings = _repository(root)
        folder = settings.policies_dir
        if _inside(given, folder):
            return PolicySource(folder, settings, "given", None if given == folder else given)
        if given.is_dir() and _inside(folder, given):
            # The repository itself, or a folder between it and its policies.
            return PolicySource(folder, settings, "given")
    # A policy folder of its own (outputs.yaml at its top), or a part of one, outside any
    # repository's policy folder: test fixtures, a copy being compared.
    start = given if given.is_dir() else given.parent
    for folder in (start, *start.parents):
        if (folder / "outputs.yaml").is_file():
            return PolicySource(folder, Settings(None, {}), "given", None if given == folder else given)
        if root is not None and folder == root:
            break
    where = "this folder" if given == Path.cwd().resolve() else str(path)
    if root is not None:
        raise LocateError(f"{where} is outside the policy folder of the repository at {root} "
                          f"({settings.policies_dir})", hint="name a folder or file under the policy folder")
    raise LocateError(
        f"{where} is not in a policy repository (no regelverk.yaml in it or above it) and is not a policy "
        "folder (no outputs.yaml in it or above it)",
        hint="run 'regelverk init' to start a repository, or name the policy folder")
