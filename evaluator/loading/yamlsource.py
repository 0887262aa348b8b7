"""Read YAML safely, keeping where every value stands and refusing duplicate keys."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import yaml

from .. import limits as _limits
from ..errors import INVISIBLE_CLASS, INVISIBLE_HINT, Code, Location, Problem, character_in_words

Path_ = tuple  # a path into the document: ("rules", 2, "when")


@dataclass(frozen=True)
class SourceDoc:
    """A parsed YAML document: its plain value and a map from paths to their YAML nodes."""

    file: str
    text: str
    value: object
    nodes: dict
    # the paths of values the loader could not read (a date the calendar lacks), each already a
    # yaml_value problem at its place: kept as their text, and not reported again by a schema
    unreadable: frozenset = frozenset()

    def location(self, path: Path_ = ()) -> Location:
        """Where the value at `path` starts; the nearest enclosing value when it is absent."""
        while path and path not in self.nodes:
            path = path[:-1]
        node = self.nodes.get(path)
        if node is None:
            return Location(self.file, 1, 1)
        return Location(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def key_location(self, path: Path_) -> Location:
        """Where the key of the value at `path` stands (for "unknown key" and the like)."""
        node = self.nodes.get(("key",) + tuple(path))
        if node is None:
            return self.location(path)
        return Location(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def line_text(self, line: int) -> str | None:
        lines = self.text.splitlines()
        return lines[line - 1] if 0 < line <= len(lines) else None

    def problem(self, code: str, message: str, path: Path_ = (), *, key: bool = False,
                hint: str | None = None, severity: str = "error") -> Problem:
        loc = self.key_location(path) if key else self.location(path)
        return Problem(code, message, loc, self.line_text(loc.line), severity, hint)

    def offset_location(self, path: Path_, offset: int) -> Location:
        """The file position of character `offset` of the string scalar at `path`.

        Folded and plain scalars lose line breaks and indentation when YAML reads them, so the
        position is found by walking the raw text and the value side by side, matching every
        character that is not white space.
        """
        node = self.nodes.get(path)
        if node is None or not isinstance(node, yaml.ScalarNode):
            return self.location(path)
        value = node.value
        if not is_nfc(value):  # `offset` is into the text as read, in NFC (see nfc)
            offset = _raw_offset(value, offset)
        raw = self.text
        i = node.start_mark.index
        end = node.end_mark.index
        if node.style in ("|", ">"):
            i = raw.find("\n", i) + 1 or i  # the block starts on the next line
        elif node.style in ("'", '"'):
            i += 1
        target = None
        for k, ch in enumerate(value):
            if ch in " \t\r\n\x85\u2028\u2029":  # (YAML's white space and line breaks, which folding moves)
                continue
            while i < end and raw[i] != ch:
                i += 1
            if k >= offset:
                target = i
                break
            i += 1
        if target is None:
            target = min(i, max(end - 1, node.start_mark.index))
        line = raw.count("\n", 0, target) + 1
        column = target - (raw.rfind("\n", 0, target) + 1) + 1
        return Location(self.file, line, column)


def is_nfc(text: str) -> bool:
    """Whether a text is in Unicode's composed form (NFC), fast: ASCII always is."""
    return text.isascii() or unicodedata.is_normalized("NFC", text)


def nfc(text: str) -> str:
    """A text in NFC: "ö" as one character, as a keyboard writes it, and not "o" followed by a
    combining diaeresis (NFD, as a Mac's file names or text copied from a PDF may hold it). The
    two look alike and mean the same, so every text a YAML file holds is read in NFC and
    contacts' texts are compared in it (docs/policy-format.md). Already NFC: the text itself."""
    return text if is_nfc(text) else unicodedata.normalize("NFC", text)


def _raw_offset(raw: str, offset: int) -> int:
    """The offset in `raw` of the character at `offset` of nfc(raw) (the first character of
    `raw` it was composed from)."""
    for end in range(len(raw) + 1):
        if len(unicodedata.normalize("NFC", raw[:end])) > offset:
            return end - 1
    return len(raw)


def shorten(text: str, most: int = 40) -> str:
    """A value as a message echoes it: at most `most` characters, an ellipsis where cut."""
    text = str(text)
    return text if len(text) <= most else text[: most - 1] + "…"


def display_path(path: Path) -> str:
    """A file's name as problems show it: relative to the working folder when inside it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


class _Loader(yaml.SafeLoader):
    """SafeLoader: plain data only, never Python objects."""


# Composing the nodes (with their positions) is most of the time it takes to load the
# policies: libyaml does it several times faster where PyYAML was built with it. Both give the
# same nodes and marks (tests/test_yamlsource.py compares them on every bundled file).
_Composer = getattr(yaml, "CSafeLoader", _Loader)


_MIN_VALUES = 200_000
_VALUES_PER_CHARACTER = 50


class _TooLarge(Exception):
    def __init__(self, node):
        super().__init__()
        self.node = node


# What the YAML parser's words usually mean in a policy file, for a person who edits one.
_SYNTAX_HINTS = (
    ("mapping values are not allowed",
     "a text that holds ': ' must be in quotes or written on the next lines after >-; "
     "or this line is indented deeper than the key above it"),
    ("did not find expected key",
     "this line is indented differently from the keys around it; or a text that starts with "
     "{ [ * & ! | > ' or \" must be in quotes or written after >-"),
    ("did not find expected '-' indicator", "this line is indented differently from the list items around it"),
    ("cannot start any token", "indent with spaces, not tabs; a text that starts with @ or ` must be in quotes"),
    ("could not find expected ':'", "a key needs ': ' after it; a text over several lines is written after >-"),
    ("found unexpected end of stream", "a quote or a bracket is opened and not closed"),
    ("found unknown escape character", "in double quotes a \\ starts an escape: use single quotes, or >-"),
)


def syntax_hint(problem: str) -> str | None:
    return next((hint for words, hint in _SYNTAX_HINTS if words in problem), None)


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")


def _why_no_date(text: str) -> str:
    """Why a YYYY-MM-DD text names no day, in words: ': February 2026 has 28 days'."""
    import calendar

    found = re.match(r"\s*(\d{4})-(\d{1,2})-(\d{1,2})", str(text))
    if not found:
        return ""
    year, month, day = (int(g) for g in found.groups())
    if not 1 <= month <= 12:
        return f": there is no month {month}"
    days = calendar.monthrange(year, month)[1] if year >= 1 else 31
    if not 1 <= day <= days:
        return f": {_MONTHS[month - 1]} {year} has {days} days"
    return ""


# A number is written in plain decimal digits (`12`, `-3`, `2.5`, `.5`): YAML 1.1, which the
# loader follows, and YAML 1.2, which editors follow, read those alike. Every other form of
# number is refused at its place, saying how to write it, rather than read as something other
# than it says: `012` is octal 10 in YAML 1.1 and 12 in YAML 1.2; `17:30` is 1050 (counted in
# sixties) in YAML 1.1 and text in YAML 1.2; `0x1A`, `0o17`, `0b101`, `1_000` and `1e3` are
# numbers in one or both, none of them written as a person reads them (docs/policy-format.md).
_PLAIN_NUMBER = re.compile(r"[-+]?(?:0|[1-9][0-9]*)|[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")
# YAML 1.2's numbers (core schema) that YAML 1.1 reads as text: 08, 0o17, 1e3
_YAML12_NUMBER = re.compile(r"[-+]?[0-9]+|0o[0-7]+|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+")
_BASES = {"x": 16, "o": 8, "b": 2}


def _number_text(number) -> str:
    if isinstance(number, float) and number.is_integer() and abs(number) < 1e16:
        return str(int(number))
    return str(number)


def number_form_problem(raw: str, value) -> tuple[str, str] | None:
    """(message, hint) for a plain (unquoted) scalar written as a number in a form other than
    plain decimal digits, `value` being what YAML 1.1 reads; None for a plain number or a text."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    if isinstance(value, str) and not _YAML12_NUMBER.fullmatch(raw):
        return None
    if not isinstance(value, str) and _PLAIN_NUMBER.fullmatch(raw):
        return None
    if ":" in raw:
        return (f"{raw} is read as the number {_number_text(value)}: YAML counts the parts between the colons "
                "in sixties, as minutes and seconds", f'write it in quotes: "{raw}"')
    digits = raw.replace("_", "")
    base = re.match(r"[-+]?0([xob])", digits, re.IGNORECASE)
    if base:
        meant = int(digits, 0)
        how = f"the number {meant}, written in base {_BASES[base.group(1).lower()]}"
    elif "e" in digits.lower():
        meant = float(digits)
        how = f"the number {_number_text(meant)}, written with an exponent"
    else:
        meant = float(digits) if "." in digits else int(digits, 10)
        if re.match(r"[-+]?0[0-9]", digits):
            how = f"the number {_number_text(value)}: a whole number with a 0 in front is read in base 8"
        else:
            how = f"the number {_number_text(meant)}: YAML leaves out the _ (YAML 1.2 reads text)"
    finite = isinstance(meant, int) or abs(meant) != float("inf")
    if isinstance(value, str):
        message = (f"{raw} is read as text, but as {'the number ' + _number_text(meant) if finite else 'a number'} "
                   "by the editors and tools that follow YAML 1.2")
    else:
        message = f"{raw} is read as {how}"
    hint = (f'write {_number_text(meant)} for the number, or in quotes for the text: "{raw}"' if finite
            else f'write it in quotes: "{raw}"')
    return message, hint


_INVISIBLE = re.compile(INVISIBLE_CLASS)


def _blank(text: str) -> bool:
    """Whether `text` holds nothing but spaces, tabs and invisible characters."""
    return not _INVISIBLE.sub("", text).strip(" \t")


def _invisible_characters(text: str, at) -> list[Problem]:
    """An invisible character (a non-breaking space pasted from Word, a zero-width space, a
    byte order mark inside the file) where it changes what the YAML says, unseen: one problem
    at each, in words. YAML takes such a character for part of a name or a value, so as
    indentation it made the line a key of its own, reported at the next line with a hint that
    did not fit; after a value (`channel: video` and one) it made a value that only looks
    right. In quoted text, block text (>-, |), comments and between the words of unquoted text
    it is kept: a message may mean it."""
    found: list[Problem] = []

    def look(start: int, end: int) -> None:
        for match in _INVISIBLE.finditer(text, start, end):
            if match.start() == 0 and match.group() == "\ufeff":
                continue  # a byte order mark that starts the file is no part of it
            index = match.start()
            line_start = text.rfind("\n", 0, index) + 1
            line = text.count("\n", 0, index)
            mark = yaml.Mark("", index, line, index - line_start, None, None)
            found.append(at(Code.YAML_VALUE, f"{character_in_words(match.group())} stands here, where it cannot be seen and YAML does not take it for a space",
                            mark, INVISIBLE_HINT + "; in a text where it is meant, write the text in quotes"))

    def between(start: int, end: int) -> None:
        """White space and comments between tokens (libyaml passes over a byte order mark there)."""
        while start < end:
            stop = text.find("\n", start, end)
            stop = end if stop < 0 else stop
            comment = text.find("#", start, stop)
            look(start, stop if comment < 0 else comment)
            start = stop + 1

    def plain(start: int, end: int, key: bool) -> None:
        """Unquoted text: a key, anywhere in it (a name never holds one); a value, at its start
        or end (a line indented with one, `channel: video` with one after it) or after a
        colon (`key:` and one, which YAML reads as one text). Between two words of a value it
        is kept, as a soft hyphen in `video­kontakt` is meant."""
        if key:
            look(start, end)
            return
        for match in _INVISIBLE.finditer(text, start, end):
            i = match.start()
            line_start = max(start, text.rfind("\n", start, i) + 1)
            line_end = text.find("\n", i, end)
            line_end = end if line_end < 0 else line_end
            if text[i - 1] == ":" or _blank(text[line_start:i]) or _blank(text[i + 1:line_end]):
                look(i, i + 1)  # (at the start or the end of a line of the text, or after a colon)

    end, previous = 0, None
    try:
        for token in yaml.scan(text, Loader=_Composer):
            if token.start_mark.index > end:
                between(end, token.start_mark.index)
            if isinstance(token, yaml.ScalarToken) and token.plain:
                plain(token.start_mark.index, token.end_mark.index, isinstance(previous, yaml.KeyToken))
            end, previous = max(end, token.end_mark.index), token
        between(end, len(text))
    except yaml.MarkedYAMLError as exc:
        # the scanner stopped here: what it had not read yet, to the end of that line
        stop = exc.problem_mark.index if exc.problem_mark is not None else end
        stop = text.find("\n", stop)
        look(end, len(text) if stop < 0 else stop)
    except yaml.YAMLError:
        pass
    return found


def _syntax_problem(exc: yaml.MarkedYAMLError, text: str) -> tuple[str, object, str | None]:
    """(message, mark, hint) for a YAML syntax error, said where the mistake most likely is:
    a quote or a bracket that is never closed is said where it opens, not where the parser
    gave up (the end of the file, or a later line the open text swallowed)."""
    what = exc.problem or "invalid YAML"
    mark, context = exc.problem_mark, exc.context_mark
    if "single document" in (exc.context or "") and mark is not None:
        return ("YAML syntax: a second document starts here (a line '---' after the first): "
                "a file holds one document", mark,
                "remove the '---' line, or move what follows it to a file of its own")
    if context is not None and "quoted scalar" in (exc.context or ""):
        return ("YAML syntax: the quote opened here is never closed", context,
                "close it on this line; a text that holds a quote is written in the other kind of quotes, or after >-")
    if mark is not None and context is not None and mark.line > context.line and "flow" in (exc.context or ""):
        opened = text[context.index:context.index + 1]
        closer = {"{": "}", "[": "]"}.get(opened)
        if closer:
            return (f"YAML syntax: the '{opened}' opened here is not closed: a '{closer}' is missing "
                    f"(the text goes on to line {mark.line + 1} without it)", context,
                    f"close it on this line with '{closer}'")
    if context is not None and "simple key" in (exc.context or "") and mark is not None and mark.line > context.line:
        # a line with no ':' runs on into the next key, and the parser complains there
        key = (text[context.index:].split(None, 1) or ["key"])[0].rstrip(":")
        return ("YAML syntax: this line has no ':' after its key", context,
                f"write ': ' after the key, as '{shorten(key, 30)}: …'; a text over several lines is written after >-")
    quoted = _runaway_quote(text, mark) if mark is not None else None
    if quoted is not None:
        return (f"YAML syntax: the quote opened here is not closed on its line, so the text runs on to line "
                f"{quoted.end_mark.line + 1} (to the next {text[quoted.start_mark.index]})", quoted.start_mark,
                "close the quote on this line; a text that holds a quote is written in the other kind of quotes, or after >-")
    return f"YAML syntax: {what}", mark or context, syntax_hint(what)


def _runaway_quote(text: str, mark):
    """The quoted text that starts on an earlier line and ends on the line of `mark`, just
    before it, when there is one: a quote left open that swallowed the line break and the start
    of the next line (the parser then stumbles on what follows it)."""
    last = None
    try:
        for token in yaml.scan(text, Loader=_Loader):
            if token.start_mark.index >= mark.index:
                break
            last = token
    except yaml.YAMLError:
        pass
    if (isinstance(last, yaml.ScalarToken) and last.style in ('"', "'")
            and last.start_mark.line < last.end_mark.line == mark.line):
        return last
    return None


def _too_large(name: str, size: int, limit: int) -> Problem:
    return Problem(Code.LIMIT, _limits.refused("the file's size in bytes", "max_file_bytes", limit, size),
                   Location(name, 1, 1), hint=_limits.raise_hint("max_file_bytes"))


def load_yaml(path: Path | str, display: str | None = None) -> tuple[SourceDoc | None, list[Problem]]:
    """Parse one YAML file. Returns the document, or None and the problems that stopped it.
    A file larger than the limit max_file_bytes is refused unread."""
    path = Path(path)
    name = display or str(path)
    limit = _limits.current().max_file_bytes
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
            if len(data) > limit:
                try:
                    size = path.stat().st_size
                except OSError:
                    size = len(data)
                return None, [_too_large(name, max(size, len(data)), limit)]
    except OSError as exc:
        return None, [Problem(Code.IO, f"cannot read the file: {exc.strerror or exc}", Location(name, 1, 1))]
    text, problem = decode_utf8(data, name)
    if problem is not None:
        return None, [problem]
    return parse_yaml(text, name)


def decode_utf8(data: bytes, name: str) -> tuple[str | None, Problem | None]:
    """A file's bytes as text, or the problem at the first byte that is not UTF-8 (its line
    and column, the line shown)."""
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        start = data.rfind(b"\n", 0, exc.start) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        shown = data[start:data.find(b"\n", start) if b"\n" in data[start:] else len(data)]
        # the column in characters: what stands before the bad byte is UTF-8 up to there
        column = len(data[start:exc.start].decode("utf-8", "replace")) + 1
        return None, Problem(Code.IO, f"the file is not UTF-8 text: byte 0x{data[exc.start]:02x} cannot be read",
                             Location(name, line, column), shown.rstrip(b"\r").decode("utf-8", "replace"),
                             hint="save the file as UTF-8")


def parse_yaml(text: str, name: str) -> tuple[SourceDoc | None, list[Problem]]:
    """Parse YAML text. Returns the document, or None and the problems that stopped it. Every
    malformed input is a problem at its place, never an exception: text over the limit
    max_file_bytes, nesting over max_yaml_nesting, a value its tag cannot make (`!!bool maybe`,
    `!!int` with nothing, a date the calendar lacks), an alias inside its own anchor."""
    limits = _limits.current()
    if len(text) > limits.max_file_bytes:  # characters: at most as many as the bytes
        return None, [_too_large(name, len(text.encode("utf-8", "surrogatepass")), limits.max_file_bytes)]
    lines = text.splitlines()

    def at(code: str, message: str, mark, hint: str | None = None) -> Problem:
        """A problem at a YAML mark (1:1 when there is none), with its line for the caret."""
        loc = Location(name, mark.line + 1, mark.column + 1) if mark else Location(name, 1, 1)
        return Problem(code, message, loc, lines[loc.line - 1] if 0 < loc.line <= len(lines) else None, hint=hint)

    if _INVISIBLE.search(text, 1 if text.startswith("\ufeff") else 0):
        invisible = _invisible_characters(text, at)
        if invisible:
            return None, invisible
    loader = _Composer(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        return None, [at(Code.YAML_SYNTAX, *_syntax_problem(exc, text))]
    except yaml.YAMLError as exc:
        return None, [Problem(Code.YAML_SYNTAX, f"YAML syntax: {exc}", Location(name, 1, 1))]
    finally:
        loader.dispose()
    if root is None:
        return None, [Problem(Code.EMPTY, "the file is empty", Location(name, 1, 1))]
    nodes: dict = {}
    problems: list[Problem] = []
    constructor = _Loader("")
    # An alias (*name) repeats the value of its anchor (&name) in full, and aliases inside
    # anchored values multiply: ten lines can stand for a billion values. Repeating a value is
    # fine (a history shared by forty test cases), so the bound is loose, linear in the file's
    # size; multiplying runs past it within a few levels and is refused at once.
    limit = max(_MIN_VALUES, _VALUES_PER_CHARACTER * len(text))
    budget = [limit]

    max_depth = limits.max_yaml_nesting
    inside: set[int] = set()  # the collections being built, to catch an alias inside its own anchor
    unreadable: set = set()  # the paths of values their tag cannot make

    def scalar(node):
        """The value of a scalar as its tag reads it (a text in NFC); a problem and its text when
        it cannot, or when it is a number in a form other than plain digits (012, 17:30, 0x1A,
        1_000, 1e3)."""
        try:
            value = constructor.construct_object(node, deep=True)
            odd = number_form_problem(node.value, value) if not node.style else None
            # (a tag written out, !!str 012, says what is meant: only the value YAML guessed)
            if odd is not None and node.tag == constructor.resolve(yaml.ScalarNode, node.value, (True, False)):
                problems.append(at(Code.YAML_VALUE, odd[0], node.start_mark, odd[1]))
                return nfc(node.value)
            return nfc(value) if type(value) is str else value
        except yaml.constructor.ConstructorError as exc:
            problems.append(at(Code.YAML_VALUE, f"YAML value: {exc.problem}", exc.problem_mark or node.start_mark))
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
            # PyYAML's constructors fail this way on a value their tag cannot make: a date the
            # calendar does not have (ValueError), !!bool maybe (KeyError), !!timestamp x
            # (AttributeError), !!int with no value (IndexError).
            tag = node.tag.rsplit(":", 1)[-1]
            shown = shorten(node.value)
            if tag == "int" and "digits" in str(exc):
                problems.append(at(Code.YAML_VALUE, f"a whole number of {len(node.value):,} digits is too long",
                                   node.start_mark, "write it in quotes if it is a text"))
            elif tag == "timestamp":
                problems.append(at(Code.YAML_VALUE, f"{shown} is not a real date" + _why_no_date(node.value),
                                   node.start_mark, "a date is written YYYY-MM-DD, as 2025-02-28"))
            elif node.value == "":
                problems.append(at(Code.YAML_VALUE, f"a value tagged !!{tag} is empty", node.start_mark))
            else:
                problems.append(at(Code.YAML_VALUE, f"{shown} cannot be read as !!{tag}", node.start_mark,
                                   "leave out the !!tag, or quote the text" if node.tag.startswith("tag:yaml.org") else None))
        finally:
            constructor.constructed_objects.clear()
            constructor.recursive_objects.clear()
        return nfc(node.value)

    def build(node, path, depth=1):
        budget[0] -= 1
        if budget[0] < 0:
            raise _TooLarge(node)
        if depth > max_depth:
            problems.append(at(Code.LIMIT, f"the YAML nests deeper than {max_depth} levels here (the limit max_yaml_nesting)",
                               node.start_mark, _limits.raise_hint("max_yaml_nesting")))
            return None
        nodes[path] = node
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            if id(node) in inside:
                problems.append(at(Code.YAML_VALUE, "an alias (*name) stands inside the value of its own anchor (&name): "
                                   "the value would contain itself without end", node.start_mark))
                return None
            inside.add(id(node))
            try:
                return build_collection(node, path, depth)
            finally:
                inside.discard(id(node))
        before = len(problems)
        value = scalar(node)
        if len(problems) > before:
            unreadable.add(path)
        return value

    def build_collection(node, path, depth):
        if isinstance(node, yaml.MappingNode):
            result = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    problems.append(at(Code.YAML_VALUE, "a key must be a plain value (a name), not a list or a mapping",
                                       key_node.start_mark))
                    continue
                key = scalar(key_node)
                if not isinstance(key, (str, int, float, bool)):
                    key = str(key)
                if key in result:
                    first = nodes[("key",) + path + (key,)]
                    problems.append(at(Code.DUPLICATE_KEY, f"the key '{shorten(str(key))}' appears twice; the first is on line "
                                       f"{first.start_mark.line + 1}", key_node.start_mark))
                    continue
                nodes[("key",) + path + (key,)] = key_node
                result[key] = build(value_node, path + (key,), depth + 1)
            return result
        return [build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]

    try:
        value = build(root, ())
    except _TooLarge as exc:
        return None, [at(Code.YAML_SIZE, f"the anchors and aliases (&name, *name) expand to more than {limit:,} values; "
                         "the expansion ran over inside the anchored value that starts here", exc.node.start_mark,
                         "repeat fewer aliases inside one another")]
    except yaml.constructor.ConstructorError as exc:
        return None, [at(Code.YAML_VALUE, f"YAML value: {exc.problem}", exc.problem_mark)]
    return SourceDoc(name, text, value, nodes, frozenset(unreadable)), problems


def text_hash(text: str) -> str:
    """`sha256:` and the hex digest of `text` with CRLF and CR line ends made LF."""
    normal = text.replace("\r\n", "\n").replace("\r", "\n")
    return "sha256:" + hashlib.sha256(normal.encode("utf-8")).hexdigest()
