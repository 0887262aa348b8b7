"""Format policy files in one canonical layout: key order, 2-space indentation, comments kept.

The YAML is read and written with ruamel.yaml in round-trip mode, which keeps comments, blank
lines, quoting and block styles (`>-`) as the author wrote them; only the order of keys and the
indentation change. After formatting, the file is read again with the loader the evaluator uses
and must give exactly the same value, or it is left alone: formatting never changes meaning.

Round-trip YAML keeps a comment on a line of its own with the entry above it; a reader takes
it for the entry below. When keys move, such comments are moved with the entry below them,
unless indented deeper than it (then they close the block above, e.g. the last rule). Comments
before a mapping's first key stay first (a file's header stays at the top).
"""

from __future__ import annotations

import copy
import io
import re
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import CommentMark, MarkedYAMLError, YAMLError
from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString
from ruamel.yaml.tokens import CommentToken

from ..errors import Code, Location, Problem
from ..loading.repository import OUTPUTS_FILE, TEST_SUFFIX, policy_files
from ..loading.schema import schema_problems
from ..loading.yamlsource import decode_utf8, parse_yaml, syntax_hint

TOP_ORDER = ("id", "version", "title", "issuer", "region", "valid_from", "valid_to", "source",
             "description", "applies_when", "parameters", "rules")
RULE_ORDER = ("id", "section", "passage", "reading", "when", "then", "otherwise", "severity", "message")
SOURCE_ORDER = ("title", "document_id", "version", "url")  # then the other source keys in the author's order
MESSAGE_ORDER = ("sv", "en")
PARAMETER_ORDER = ("type", "value", "description")


def line_ends(text: str) -> tuple[str, str]:
    """The text with its line ends made line feeds, as reading in text mode does (ruamel reads
    and writes them), and the line end the file had (its first: CRLF from an editor on Windows,
    say), for what is written back to keep it."""
    first = re.search(r"\r\n|\r|\n", text)
    return text.replace("\r\n", "\n").replace("\r", "\n"), first.group() if first else "\n"


def yaml_writer() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.indent(mapping=2, sequence=4, offset=2)  # rules:\n  - id: …\n    section: …
    y.width = 4096  # never re-wrap a line the author wrote
    return y


def _is_block(node) -> bool:
    return isinstance(node, (CommentedMap, CommentedSeq)) and not node.fa.flow_style()


def _is_block_scalar(value) -> bool:
    return isinstance(value, (FoldedScalarString, LiteralScalarString))


def _deepest_last(mapping: CommentedMap, key=None, into_lists: bool = False) -> tuple[CommentedMap, object]:
    """The mapping and key after whose value the entry `key` of `mapping` (default: its last)
    ends in the text: a nested block mapping's last entry ends it too, and with `into_lists`
    the last mapping of a block list. The comment lines that follow an entry are kept there."""
    if key is None:
        key = list(mapping)[-1]
    value = mapping[key]
    if into_lists and isinstance(value, CommentedSeq) and _is_block(value) and len(value):
        value = value[-1]
    if isinstance(value, CommentedMap) and _is_block(value) and len(value):
        return _deepest_last(value, into_lists=into_lists)
    return mapping, key


def _take_after(mapping: CommentedMap, key, everything: bool = False) -> CommentToken | None:
    """Detach the comment lines (and blank lines) that follow the entry `key` and stand before
    the next entry: they go with it, wherever it goes. Comment lines indented deeper than the
    mapping's keys belong to the entry above (to its last rule, say) and stay with it, unless
    `everything` (what ends the mapping: it stays at the end)."""
    m, last = _deepest_last(mapping, key, into_lists=True)
    if isinstance(m[last], CommentedSeq) and _is_block(m[last]):
        return None  # a list of plain values ends the entry: its comments stay with it
    slot = m.ca.items.get(last)
    token = slot[2] if slot and len(slot) > 2 else None
    if token is None or "\n" not in token.value:
        return None
    block = _is_block_scalar(m[last])  # its own line break ended the entry: all stands below
    head, rest = ("", token.value) if block else token.value.split("\n", 1)
    lines = rest.split("\n")  # the last is "" (the value ends with a line break)
    column = getattr(mapping.lc, "col", None) or 0
    written = [i for i, line in enumerate(lines) if line.strip()]
    outdented = [i for i in written if len(lines[i]) - len(lines[i].lstrip()) <= column]
    cut = 0 if everything else outdented[0] if outdented else (written[-1] + 1 if written else 0)
    while cut > 0 and not lines[cut - 1].strip():  # blank lines go with what they precede
        cut -= 1
    if cut >= len(lines) - 1:
        return None
    stay, go = lines[:cut], lines[cut:]
    after = copy.copy(token)
    after.value = "\n" + "\n".join(go)
    kept = "".join(line + "\n" for line in stay)
    kept = kept if block else (head + "\n" + kept if head or kept else "")
    if kept:
        token.value = kept
    else:
        slot[2] = None
    return after


def _slot(mapping: CommentedMap, key) -> list:
    """The comment slots ruamel keeps for the entry `key`, all four of them there."""
    slot = mapping.ca.items.setdefault(key, [None, None, None, None])
    while len(slot) < 4:
        slot.append(None)
    return slot


def _give_tail(mapping: CommentedMap, tail: CommentToken) -> None:
    """Put the comment lines that ended the mapping after its new last entry, all of it."""
    m, key = _deepest_last(mapping, into_lists=True)
    slot = _slot(m, key)
    if _is_block_scalar(m[key]) and slot[2] is None:  # (its own line break ends the entry)
        tail.value = tail.value[1:]
    if slot[2] is None:
        slot[2] = tail
    else:
        slot[2].value = slot[2].value.rstrip("\n") + tail.value


def _give_lead(mapping: CommentedMap, key, lead: CommentToken) -> None:
    """Put comment lines (and blank lines) before the entry `key`, one token per line; their
    column is set with the mapping's indentation (_indent_comments)."""
    slot = _slot(mapping, key)
    lines = lead.value.split("\n")[1:-1]  # after the line break that ended the entry above
    tokens = [CommentToken(line.strip() + "\n" if line.strip() else "\n", CommentMark(0), None) for line in lines]
    slot[1] = tokens + (slot[1] or [])


def _reorder(mapping, order) -> None:
    """Put the keys of `mapping` in `order` (unknown keys after, as they were). A comment on a
    line of its own goes with the entry below it, as a reader takes it; the comments after the
    last entry stay at the end."""
    if not isinstance(mapping, CommentedMap) or not mapping:
        return
    keys = list(mapping)
    wanted = [k for k in order if k in mapping] + [k for k in keys if k not in order]
    if wanted == keys:
        return
    tail = _take_after(mapping, keys[-1], everything=True)
    leads = {key: lead for above, key in pairwise(keys) if (lead := _take_after(mapping, above))}
    for key in wanted:
        mapping.move_to_end(key)
    for key, lead in leads.items():
        _give_lead(mapping, key, lead)
    if tail is not None:
        _give_tail(mapping, tail)


def _set_column(tokens, column: int) -> None:
    for token in tokens or []:
        if isinstance(token, CommentToken) and token.start_mark is not None:
            token.column = column


def _indent_comments(node, indent: int) -> None:
    """Comment lines that stand on their own line move to the indentation of what they precede."""
    if isinstance(node, CommentedMap) and _is_block(node):
        if node.ca.comment and len(node.ca.comment) > 1:
            _set_column(node.ca.comment[1], indent)
        for key, value in node.items():
            child = indent + 2
            slot = node.ca.items.get(key)
            if slot and len(slot) > 1:
                _set_column(slot[1], indent)  # comment lines before the key (_give_lead)
            if slot and len(slot) > 3:
                _set_column(slot[3], child)
            _indent_comments(value, child)
    elif isinstance(node, CommentedSeq) and _is_block(node):
        for item in node:
            _indent_comments(item, indent + 2)


def _canonical(doc) -> None:
    _reorder(doc, TOP_ORDER)
    _reorder(doc.get("source"), SOURCE_ORDER)
    parameters = doc.get("parameters")
    if isinstance(parameters, CommentedMap):
        for value in parameters.values():
            _reorder(value, PARAMETER_ORDER)
    for rule in doc.get("rules") or []:
        _reorder(rule, RULE_ORDER)
        if isinstance(rule, CommentedMap):
            _reorder(rule.get("message"), MESSAGE_ORDER)
    _indent_comments(doc, 0)


# The scanner the loader uses (libyaml where PyYAML has it): where it reads a tab as white space
# between tokens, fmt does too.
_SCANNER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _spaces_for_tabs(text: str) -> str:
    """The text with every tab that stands between the YAML's tokens (after `key:`, before a
    value or a comment) made a space. The loader reads such a tab as a space, and validate
    passes it; ruamel refuses it ("found character '\\t' that cannot start any token"). A tab
    inside a value (quoted, plain or block text) or inside a comment is left as it is."""
    if "\t" not in text:
        return text
    try:
        tokens = list(yaml.scan(text, Loader=_SCANNER))
    except yaml.YAMLError:
        return text  # (the loader has said what is wrong already)
    out, pos = [], 0
    for token in tokens:
        start, end = token.start_mark.index, token.end_mark.index
        if start > pos:
            out.append(_untab_between(text[pos:start]))
            pos = start
        if end > pos:
            out.append(text[pos:end])
            pos = end
    out.append(_untab_between(text[pos:]))
    return "".join(out)


def _untab_between(gap: str) -> str:
    """White space and comments between tokens: tabs before a comment's # become spaces."""
    lines = gap.split("\n")
    for i, line in enumerate(lines):
        cut = line.find("#")
        lines[i] = line.replace("\t", " ") if cut < 0 else line[:cut].replace("\t", " ") + line[cut:]
    return "\n".join(lines)


class FormatError(Exception):
    """The file is not formatted: `problems` say why, each at its place (`problem`: the first)."""

    def __init__(self, problem: Problem, *more: Problem):
        super().__init__("\n".join(p.render() for p in (problem, *more)))
        self.problem = problem
        self.problems = [problem, *more]


def format_text(text: str, name: str = "<policy>") -> str:
    """The canonical layout of one policy file's text. Raises FormatError when it is not one."""
    # What the evaluator's loader refuses with a place (a syntax error, a date the calendar
    # lacks, aliases that multiply, a file or nesting over the limits: ruamel recurses once per
    # level) is not formatted, and is told in the loader's words.
    source, problems = parse_yaml(text, name)
    refused = [p for p in problems if p.code in (Code.YAML_SYNTAX, Code.YAML_VALUE, Code.YAML_SIZE, Code.LIMIT)]
    if refused:
        raise FormatError(*refused)
    # Nor is a file whose keys are not a policy's (a line indented wrongly makes its key one of
    # the file's, and `parameters:` above it empty): the canonical order would move that key
    # away from where it was written, and validate would then point elsewhere. A key that is
    # missing moves nothing, so a policy being written can be formatted before it is complete.
    if source is not None and isinstance(source.value, dict):
        refused = schema_problems(source, skip=frozenset({"required"}))
        if refused:
            raise FormatError(*sorted(refused, key=lambda p: (p.location.line, p.location.column)))
    y = yaml_writer()
    try:
        doc = y.load(_spaces_for_tabs(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(name, mark.line + 1, mark.column + 1) if mark else Location(name, 1, 1)
        lines = text.splitlines()
        shown = lines[loc.line - 1] if 0 < loc.line <= len(lines) else None
        if mark is not None and "cannot start any token" in (exc.problem or "") and text[mark.index:mark.index + 1] == "\t":
            # (the tabs between tokens are spaces by now: this one is inside plain text)
            raise FormatError(Problem(Code.YAML_SYNTAX, "a tab stands inside a text that is not in quotes, and fmt "
                                      "cannot keep it there", loc, shown,
                                      hint="type a space instead, or write the text in quotes")) from exc
        raise FormatError(Problem(Code.YAML_SYNTAX, f"YAML syntax: {exc.problem or exc.context or 'invalid YAML'}", loc,
                                  shown, hint=syntax_hint(exc.problem or ""))) from exc
    except YAMLError as exc:
        raise FormatError(Problem(Code.YAML_SYNTAX, f"YAML syntax: {exc}", Location(name, 1, 1))) from exc
    if not isinstance(doc, CommentedMap):
        raise FormatError(Problem(Code.SCHEMA, "a policy file holds a mapping of keys (id, version, rules …)",
                                  Location(name, 1, 1)))
    _canonical(doc)
    out = io.StringIO()
    y.dump(doc, out)
    formatted = out.getvalue()
    # read both as validate and the evaluator read them (libyaml where PyYAML has it)
    before = source.value if source is not None else None
    again, problems = parse_yaml(formatted, name)
    after = again.value if again is not None and not problems else _UNREADABLE
    if after != before:  # a guard: the layout above moved something it must not
        place = _first_difference(before, after)
        where = "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in place).lstrip(".")
        message = ("formatting would change what the file says" + (f" (the value of {where})" if where else "")
                   + "; it is left as it is")
        hint = ("most often a comment next to a key fmt moves, which would end up inside a block of text: "
                "move the comment, or put the keys in the canonical order yourself")
        raise FormatError(source.problem(Code.FMT, message, place, hint=hint) if source is not None and place
                          else Problem(Code.FMT, message, Location(name, 1, 1), hint=hint))
    return formatted


_UNREADABLE = object()


def _first_difference(a, b, path: tuple = ()) -> tuple:
    """The path of the first value that differs between two parsed documents (their common
    part where one is a mapping or list the other is not)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in a:
            if key not in b or a[key] != b[key]:
                return _first_difference(a[key], b.get(key), path + (key,)) if key in b else path + (key,)
        return path
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            if x != y:
                return _first_difference(x, y, path + (i,))
        return path
    return path


def policy_files_in(paths: list[Path]) -> list[Path]:
    """Policy files named or under the folders named: *.yaml, not outputs.yaml, not tests."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            candidates = policy_files(path)
        else:
            candidates = [] if path.name == OUTPUTS_FILE or path.name.endswith(TEST_SUFFIX) else [path]
        found += [p for p in candidates if p not in found]
    return found


@dataclass
class Outcome:
    path: Path
    changed: bool
    formatted: str | None = None
    original: str | None = None
    problem: Problem | None = None
    problems: list[Problem] | None = None  # all of them, where there are more (`problem` is the first)
    newline: str = "\n"  # the file's own line end (its first), which a formatted file keeps


def format_file(path: Path, display: str | None = None) -> Outcome:
    name = display or str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        return Outcome(path, False, problem=Problem(Code.IO, f"cannot read the file: {exc.strerror or exc}",
                                                    Location(name, 1, 1)))
    text, problem = decode_utf8(data, name)
    if problem is not None:
        return Outcome(path, False, problem=problem)
    text, newline = line_ends(text)
    try:
        formatted = format_text(text, name)
    except FormatError as exc:
        return Outcome(path, False, original=text, problem=exc.problem, problems=exc.problems)
    return Outcome(path, formatted != text, formatted, text, newline=newline)
