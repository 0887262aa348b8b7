"""One error type for everything a policy author or a caller can get wrong, with a place."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Code(StrEnum):
    """Every error and warning code regelverk gives, in one place (docs/errors.md lists them).

    A code is stable: tools match on it, while its message is for a person and may be
    reworded. A member is a `str`, so it is written, compared and serialised as its value.
    """

    def __new__(cls, value: str, area: str, meaning: str):
        member = str.__new__(cls, value)
        member._value_ = value
        member.area = area
        member.meaning = meaning
        return member

    # Files: reading a repository's files at all
    IO = "io", "files", "a file or folder cannot be read or written, or is not what was named"
    YAML_SYNTAX = "yaml_syntax", "files", "the file is not well-formed YAML"
    YAML_VALUE = "yaml_value", "files", "a YAML value cannot be read (a date that does not exist, say), is a number not written in plain digits (012, 17:30, 0x1A), or an invisible character (a non-breaking space) stands where it changes what the YAML says"
    YAML_SIZE = "yaml_size", "files", "YAML anchors and aliases expand to more values than a file may hold"
    DUPLICATE_KEY = "duplicate_key", "files", "a key appears twice in one mapping"
    LIMIT = "limit", "files", "a file or condition is over one of the repository's size limits"
    EMPTY = "empty", "files", "the policy folder holds no policy file"
    PLACE = "place", "files", "a file's folder or name does not say what it holds (<region>/<policy-id>/<version>.yaml)"
    OUTPUTS = "outputs", "files", "the outputs file is missing or wrong"
    SETTINGS = "settings", "files", "regelverk.yaml is wrong: an unknown key, a folder or file that does not exist, a limit"
    FACTS = "facts", "files", "facts.yaml is wrong: a core field declared again, a wrong kind, a badly formed name"
    # Policies: what a policy version says
    SCHEMA = "schema", "policy", "a policy file breaks its schema: a key missing, unknown or of the wrong kind"
    DSL_SYNTAX = "dsl_syntax", "policy", "a condition is not written in the condition language"
    TYPE_ERROR = "type_error", "policy", "a condition compares or computes with values of kinds that do not go together"
    UNKNOWN_NAME = "unknown_name", "policy", "a condition or effect names a field, parameter or function that does not exist"
    UNKNOWN_VALUE = "unknown_value", "policy", "a condition compares a fact with a value outside the fact's declared list"
    HISTORY_NOT_ALLOWED = "history_not_allowed", "policy", "applies_when counts the patient's history"
    HISTORY_NESTED = "history_nested", "policy", "a history count stands inside another"
    WINDOW_OUTSIDE_HISTORY = "window_outside_history", "policy", "a time window stands outside a history count"
    PARAMETER = "parameter", "policy", "a parameter has a reserved name, a field's name, or a value of no kind"
    DUPLICATE_RULE = "duplicate_rule", "policy", "two rules of one version have the same id"
    UNKNOWN_OUTPUT = "unknown_output", "policy", "a rule sets an output the outputs file does not declare"
    OUTPUT_TYPE = "output_type", "policy", "a rule gives an output a value of the wrong kind"
    MESSAGE_PLACEHOLDER = "message_placeholder", "policy", "a message names something it cannot show, or a field that identifies a person"
    DATES = "dates", "policy", "valid_to is before valid_from"
    DUPLICATE_VERSION = "duplicate_version", "policy", "two files define the same version of a policy"
    OVERLAP = "overlap", "policy", "two versions of a policy are in force on the same day"
    VERSION_ORDER = "version_order", "policy", "a later version has a lower number"
    GAP = "gap", "policy", "warning: no version of a policy is in force between two versions"
    # Lint: warnings on a policy set that loads
    UNUSED_PARAMETER = "unused_parameter", "lint", "warning: a parameter no condition or message uses"
    NEVER_APPLIES = "never_applies", "lint", "error: applies_when cannot be true for any contact"
    UNREACHABLE_RULE = "unreachable_rule", "lint", "error when no contact can make a rule's when true; warning when only the contacts the policy applies to cannot"
    OTHERWISE_UNREACHABLE = "otherwise_unreachable", "lint", "warning: a rule's otherwise can never take effect"
    OUTPUT_CONFLICT = "output_conflict", "lint", "warning: two rules can set one output to different values for one contact"
    UNKNOWN_REGION = "unknown_region", "lint", "warning: a condition asks for a region that no policy folder is for"
    # Policy tests
    TEST_SCHEMA = "test_schema", "tests", "a test file breaks its schema"
    TEST_FIELD = "test_field", "tests", "a test contact has a value of the wrong kind (error) or a field that is neither core nor declared (warning)"
    TEST_NAME = "test_name", "tests", "a test names a policy, rule, output or history contact that does not exist, or expects an output of the wrong kind"
    TEST_HISTORY = "test_history", "tests", "a test case's history holds a contact that is not earlier than the case's contact"
    NO_TESTS = "no_tests", "tests", "no test file under the path given"
    MUTANT_KILLED = "mutant_killed", "tests", "a mutant declared equivalent is noticed by a case, so it is not equivalent"
    MUTANT_UNKNOWN = "mutant_unknown", "tests", "warning: a mutant declared equivalent does not exist"
    # fmt
    FMT = "fmt", "fmt", "formatting would change what a file says, so fmt leaves it alone"
    # The HTTP service ({"error": ..., "code": ...} with the status)
    BAD_REQUEST = "bad_request", "service", "400: the body of /evaluate-one is not {\"contact\": ..., \"history\": [...]}"
    UNKNOWN_KEY = "unknown_key", "service", "400: the body of /evaluate-one has a key it does not take"
    BAD_HISTORY = "bad_history", "service", "400: history is not a list (an item of it that is no valid contact takes no part, as an invalid line takes none in a batch)"
    NOT_JSON = "not_json", "service", "400: the body is not JSON"
    NOT_UTF8 = "not_utf8", "service", "400: the body is not UTF-8 text"
    UNREADABLE_BODY = "unreadable_body", "service", "400: a CSV or Parquet body cannot be read"
    BAD_CONTENT_LENGTH = "bad_content_length", "service", "400: Content-Length is not one whole number"
    CLIENT_DISCONNECTED = "client_disconnected", "service", "400: the client went away before its body arrived"
    MALFORMED_REQUEST = "malformed_request", "service", "400: the request is not HTTP/1.1 the server can read"
    UNAUTHORIZED = "unauthorized", "service", "401: the admin request lacks the right bearer token"
    ADMIN_DISABLED = "admin_disabled", "service", "403: reload by request is off (no admin_token set)"
    NOT_FOUND = "not_found", "service", "404: no such route"
    METHOD_NOT_ALLOWED = "method_not_allowed", "service", "405: the route does not take this method"
    HEADER_TIMEOUT = "header_timeout", "service", "408: the request's head did not arrive in time"
    BODY_TIMEOUT = "body_timeout", "service", "408: the body did not arrive in time"
    BODY_TOO_LARGE = "body_too_large", "service", "413: the body is over max_body_bytes"
    LINE_TOO_LARGE = "line_too_large", "service", "413: an NDJSON line is over max_line_bytes"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type", "service", "415: a batch in a format the service does not read"
    POLICY_SET_INVALID = "policy_set_invalid", "service", "422: a reload's new policy set does not load; the old one serves on"
    HEADER_TOO_LARGE = "header_too_large", "service", "431: the request's line and headers are over max_header_bytes"
    HTTP_ERROR = "http_error", "service", "another HTTP error from the server's own layer, with its status"
    INTERNAL_ERROR = "internal_error", "service", "500: the service failed on this request (logged)"
    NOT_READY = "not_ready", "service", "503: the service is starting or shutting down"
    TOO_MANY_BATCHES = "too_many_batches", "service", "503: max_concurrent_batches are being decided"
    DECISION_LOG_BACKLOG = "decision_log_backlog", "service", \
        "503: the decision log's consumer is behind by log_backlog_lines; no decision is made until it catches up"


AREAS = {"files": "Files", "policy": "Policies", "lint": "Lint (warnings)", "tests": "Policy tests",
         "fmt": "fmt", "service": "The HTTP service"}


def codes_markdown() -> str:
    """The list of codes as docs/errors.md holds it (a test keeps the two the same)."""
    out = []
    for area, title in AREAS.items():
        out += [f"## {title}", "", "| code | meaning |", "| --- | --- |"]
        out += [f"| `{c.value}` | {c.meaning} |" for c in Code if c.area == area]
        out.append("")
    return "\n".join(out)


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

    `code` is one of `Code` (stable: `yaml_syntax`, `schema`, `dsl_syntax`, …, listed in
    docs/errors.md) so tools can match on it; `message` is for a person.
    """

    code: Code | str
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


# Characters a person cannot see, or cannot tell from an ordinary space, that come with text
# pasted from Word, a PDF or a web page. A message names them in words: shown as they are, a
# message would read "the character ' ' cannot be used here".
INVISIBLE = {
    "\u00a0": "a non-breaking space (U+00A0)",
    "\u202f": "a narrow non-breaking space (U+202F)",
    "\u2007": "a figure space (U+2007)",
    "\u200b": "a zero-width space (U+200B)",
    "\u200c": "a zero-width non-joiner (U+200C)",
    "\u200d": "a zero-width joiner (U+200D)",
    "\u2060": "a word joiner (U+2060)",
    "\ufeff": "an invisible byte order mark (U+FEFF)",
    "\u00ad": "an invisible soft hyphen (U+00AD)",
}
INVISIBLE_CLASS = "[\u00a0\u00ad\u1680\u180e\u2000-\u200f\u202a-\u202f\u205f-\u2064\u3000\ufeff]"
INVISIBLE_HINT = "it often comes with text pasted from Word or a PDF: delete it and type an ordinary space, or nothing"


def character_in_words(ch: str) -> str:
    """A character as a message names it: 'a non-breaking space (U+00A0)', or quoted when it can be seen."""
    import re
    import unicodedata

    if ch in INVISIBLE:
        return INVISIBLE[ch]
    if ch == "\t":
        return "a tab"
    if re.fullmatch(INVISIBLE_CLASS, ch) or unicodedata.category(ch) in ("Zs", "Cf", "Cc"):
        name = unicodedata.name(ch, "").lower()
        return f"an invisible character (U+{ord(ch):04X}{', ' + name if name else ''})"
    return f"the character '{ch}'"
