"""One error type for everything a policy author or a caller can get wrong, with a place."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Location:
    """A place in a file: 1-based line and column."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a policy, a test file or an input, where it is and what it is.

    `code` is stable (`yaml_syntax`, `schema`, `dsl_syntax`, `type_error`, `unknown_name`,
    `overlap`, …) so tools can match on it; `message` is for a person.
    """

    code: str
    message: str
    location: Location | None = None
    source_line: str | None = None
    severity: str = "error"
    hint: str | None = None

    def sort_key(self) -> tuple:
        loc = self.location
        return (loc.file, loc.line, loc.column) if loc else ("", 0, 0)

    def headline(self) -> str:
        where = f"{self.location}: " if self.location else ""
        text = f"{where}{self.severity}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text

    def render(self) -> str:
        """`file:line:col: message`, then the offending line with a caret under the column."""
        text = self.headline()
        if self.source_line is not None and self.location is not None:
            line, column = _window(self.source_line.rstrip("\n"), self.location.column)
            caret = " " * (column - 1) + "^"
            text += f"\n    {line}\n    {caret}"
        return text

    def to_json(self) -> dict:
        loc = self.location
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "hint": self.hint,
            "file": loc.file if loc else None,
            "line": loc.line if loc else None,
            "column": loc.column if loc else None,
        }


SHOWN_LINE = 400  # characters of a long source line shown around the column (policy lines are shorter)


def _window(line: str, column: int) -> tuple[str, int]:
    """A long line cut to SHOWN_LINE characters around `column` (… where cut), and the column
    within what is shown: a 500,000-character condition is not printed whole."""
    if len(line) <= SHOWN_LINE:
        return line, column
    start = max(0, min(column - 1 - SHOWN_LINE // 2, len(line) - SHOWN_LINE))
    shown = line[start:start + SHOWN_LINE]
    lead = "…" if start > 0 else ""
    tail = "…" if start + SHOWN_LINE < len(line) else ""
    return lead + shown + tail, column - start + len(lead)


@dataclass
class PolicyError(Exception):
    """Raised when policies cannot be loaded; carries every problem found, not only the first."""

    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.problems = sorted(self.problems, key=Problem.sort_key)
        super().__init__(self.__str__())

    def __str__(self) -> str:
        return "\n".join(p.render() for p in self.problems) or "policy error"


def closest(name: str, candidates) -> str | None:
    """The candidate most like `name`, for "did you mean …", or None when nothing is close."""
    import difflib

    found = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return found[0] if found else None
