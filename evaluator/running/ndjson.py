"""NDJSON: contacts read from lines, each unreadable line reported on its own; decisions written as lines."""

from __future__ import annotations

import json
from collections.abc import Iterable

import orjson

from .contacts import check_contact


def read_json(line):
    """One JSON value from one line (text, or UTF-8 bytes), read by orjson. orjson refuses some
    JSON that is well formed: a number too large for a double (1e400). Such a line is read again
    by the standard library, which takes the number as infinity, so the contact check can name
    the field it is in instead of calling the line "not JSON". What is not JSON stays refused,
    with orjson's error: NaN and Infinity (which the standard library would take), and a string
    holding a lone surrogate (no UTF-8 output could carry it back)."""
    try:
        return orjson.loads(line)
    except ValueError as refused:
        try:
            return read_json_again(line, refused)
        finally:
            refused.__traceback__ = None  # see read_json_again: no frame kept alive


def read_json_again(line, refused: ValueError):
    """The line orjson refused with `refused`, read by the standard library (see read_json);
    raises the error that says what is wrong when it is not JSON.

    The error raised carries no traceback: a traceback holds the frames it passed through,
    and they hold the error, a cycle that kept each caller's whole batch alive until the
    cyclic collector ran (which it does not during a batch: see engine.cyclic_gc_paused)."""
    try:
        return _read_json_again(line, refused)
    except ValueError as exc:
        exc.__traceback__ = None
        exc.__context__ = None
        raise exc from None
    finally:
        del refused


def _read_json_again(line, refused: ValueError):
    if not isinstance(line, (str, bytes, bytearray, memoryview)):
        raise refused from None  # (bytes(n) of a number would make n zero bytes)
    try:
        text = line if isinstance(line, str) else bytes(line).decode("utf-8")
        value = json.loads(text, parse_constant=_not_json)
    except json.JSONDecodeError as also:
        # Both read alike up to where orjson stopped; the later error is the one that says
        # what is wrong ({"a": 1e400 cut short: the end, not the number).
        raise (also if also.pos > getattr(refused, "pos", len(text)) else refused) from None
    except (ValueError, RecursionError):  # a UnicodeDecodeError is a ValueError too
        raise refused from None
    if not _all_text_is_unicode(value):
        raise refused from None
    return value


def forget_traceback(exc: BaseException) -> None:
    """Drop the tracebacks of an exception that has been dealt with, and of those it was raised
    in the handling of. A re-raised exception sits in a reference cycle with the frame that
    raised it (the frame holds it, its traceback holds the frame); while a batch pauses the
    cyclic collector (engine.cyclic_gc_paused), each unreadable line's cycle, about 9 KB, was
    kept until the batch ended: a million unreadable lines took gigabytes."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        exc.__traceback__ = None
        following = exc.__context__ or exc.__cause__
        exc.__context__ = exc.__cause__ = None
        exc = following


def _not_json(constant: str):
    raise ValueError(f"{constant} is not JSON")


def _all_text_is_unicode(value) -> bool:
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(item, dict):
            todo.extend(item)
            todo.extend(item.values())
        elif isinstance(item, list):
            todo.extend(item)
    return True


def split_ndjson(data: bytes | str) -> list:
    """The lines of an NDJSON text: split at line feeds only (JSON strings may hold U+2028 and
    the like), a carriage return before the line feed dropped, no empty line after a final
    line feed, a UTF-8 byte-order mark at the start ignored."""
    if isinstance(data, bytes):
        bom, lf, cr, empty = b"\xef\xbb\xbf", b"\n", b"\r", b""
    else:
        bom, lf, cr, empty = "\ufeff", "\n", "\r", ""
    if data.startswith(bom):
        data = data[len(bom):]
    lines = data.split(lf)
    if lines and lines[-1] == empty:
        lines.pop()
    if cr not in data:  # the common case: nothing to strip
        return lines
    return [line[:-1] if line.endswith(cr) else line for line in lines]


def lines_of(lines):
    """NDJSON given as its text (str, bytes, a bytearray or memoryview) split into its lines;
    anything else is taken to be the lines already."""
    if isinstance(lines, (str, bytes, bytearray, memoryview)):
        return split_ndjson(lines if isinstance(lines, (str, bytes)) else bytes(lines))
    if not hasattr(lines, "__iter__"):
        raise TypeError(f"NDJSON is its text or a list of its lines, not {type(lines).__name__}")
    return lines


def parse_ndjson(lines: Iterable[str | bytes], numbers: Iterable[int] | None = None) -> tuple[list, dict]:
    """Records from NDJSON lines (text, or bytes decoded line by line) and, by index, the
    errors of lines that are not JSON objects or not UTF-8: each such line is reported on its
    own and the others are still read. `numbers`: the lines' numbers in the whole input, for
    the errors (default 1, 2, …)."""
    records: list = []
    errors: dict = {}
    loads = orjson.loads
    for number, line in zip(numbers, lines, strict=True) if numbers is not None else enumerate(lines, start=1):
        try:
            record = loads(line)
        except ValueError as refused:
            try:  # well-formed JSON that orjson refuses (1e400) is read again; see read_json
                record = read_json_again(line, refused)
            except ValueError as exc:
                errors[len(records)] = [{"field": None, "line": number, "message": _unreadable(line, number, exc)}]
                records.append(None)
                forget_traceback(exc)
                forget_traceback(refused)
                continue
        if type(record) is not dict:  # JSON, but no contact: say which line, in the check's words
            _, problems = check_contact(record)
            errors[len(records)] = [{"field": None, "line": number, "message": f"line {number}: {problems[0]['message']}"}]
            records.append(None)
            continue
        records.append(record)
    return records, errors


def _unreadable(line, number: int, exc: Exception) -> str:
    if not isinstance(line, (str, bytes, bytearray, memoryview)):
        return f"line {number} is not text but {type(line).__name__}"
    if not isinstance(line, str):  # bytes, or a bytearray or memoryview
        try:
            line = bytes(line).decode("utf-8")
        except UnicodeDecodeError as bad:
            return f"line {number} is not UTF-8 text (byte {bad.start + 1})"
    if not line.strip():
        return f"line {number} is empty"
    # The parser counts the one line it was given as line 1: only its column is said.
    what, column = getattr(exc, "msg", None), getattr(exc, "colno", None)
    if what and column:
        return f"line {number} is not JSON: {what} (column {column})"
    return f"line {number} is not JSON: {exc}"


def decision_line(decision: dict) -> bytes:
    """A decision as its NDJSON line (bytes, with the line feed), copied out of the buffer
    orjson returns, which holds about 8 KB however short the text: the buffer is then free for
    the next decision, where a batch's worth of kept buffers would be hundreds of megabytes to
    fault in."""
    return memoryview(orjson.dumps(decision, option=orjson.OPT_APPEND_NEWLINE)).tobytes()


def ndjson_line(decision: dict) -> str:
    """A decision as one line of NDJSON (compact, no line feed). Decoded at once: kept as the
    bytes orjson returns, a million decisions held several times their size in memory."""
    return orjson.dumps(decision).decode()
