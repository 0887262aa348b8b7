"""Check incoming contacts against the contact schema, fast, and turn them into typed records.

The checks are built from schemas/contact.schema.json (the keywords it uses: type, enum,
pattern, format date, minimum, maximum, minLength, items, required, default), so the schema stays the
one place a field is defined; tests compare this checker with jsonschema itself.
"""

from __future__ import annotations

import json
import re
from datetime import date
from functools import lru_cache

import orjson

from ..loading.privacy import echo, kind_of
from ..resources import load_schema


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


def _describe(value, identifying: bool = False) -> str:
    """A value as an error repeats it (privacy.echo): never an identifying field's value."""
    return echo(value, identifying)


def _text_check(spec: dict, pattern, is_date: bool, min_length):
    hidden = bool(spec.get("x-identifying"))

    def check(value):
        if not isinstance(value, str):
            return None, f"must be text, not {_describe(value, hidden)}"
        if min_length and len(value) < min_length:
            return None, "must not be empty"
        if pattern is not None and not pattern.fullmatch(value):
            if is_date:
                return None, f"{_describe(value, hidden)} is not a date written YYYY-MM-DD"
            # x-form: the pattern in words, for the person who reads the error
            return None, f"{_describe(value, hidden)} is not in the expected form ({spec.get('x-form') or spec['pattern']})"
        if is_date:
            try:
                return date.fromisoformat(value), None
            except ValueError:
                # (the value matched the pattern: ten characters YYYY-MM-DD, shown as written)
                return None, f"{'the date' if hidden else value} is not a real date"
        return value, None
    return check


def _field_check(name: str, spec: dict):
    """A function value -> (typed value, None) or (None, what is wrong)."""
    kind = spec.get("type")
    if isinstance(kind, list):  # ["boolean", "null"]: null is handled before the check
        kind = next((k for k in kind if k != "null"), None)
    enum = [v for v in spec["enum"] if v is not None] if "enum" in spec else None
    pattern = re.compile(spec["pattern"]) if "pattern" in spec else None
    is_date = spec.get("format") == "date"
    minimum = spec.get("minimum")
    maximum = spec.get("maximum")
    min_length = spec.get("minLength")
    items = spec.get("items", {}).get("type") if kind == "array" else None

    text = _text_check(spec, pattern, is_date, min_length)
    if kind == "string" and (pattern is not None or is_date):
        # Dates, times and slugs repeat across a batch: remember each text's verdict.
        memo: dict = {}
        plain = text

        def check(value):
            if type(value) is not str:
                return plain(value)
            found = memo.get(value)
            if found is None:
                if len(memo) > 65536:
                    memo.clear()
                found = memo[value] = plain(value)
            return found
        return check

    hidden = bool(spec.get("x-identifying"))

    def check(value):
        if enum is not None:
            if value in enum and isinstance(value, str):
                return value, None
            return None, f"{_describe(value, hidden)} is not one of {', '.join(enum)}"
        if kind == "string":
            return text(value)
        if kind == "boolean":
            if isinstance(value, bool):
                return value, None
            return None, f"must be true or false, not {_describe(value, hidden)}"
        if kind == "integer":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                isinstance(value, float) and not value.is_integer()
            ):
                return None, f"must be a whole number, not {_describe(value, hidden)}"
            if minimum is not None and value < minimum:
                return None, f"must be at least {minimum}, not {_describe(value, hidden)}"
            if maximum is not None and value > maximum:
                return None, f"must be at most {maximum}, not {_describe(value, hidden)}"
            return int(value), None
        if kind == "array":
            if not isinstance(value, list):
                return None, f"must be a list, not {_describe(value, hidden)}"
            if items == "string" and not all(isinstance(v, str) for v in value):
                k, bad = next((k, v) for k, v in enumerate(value, start=1) if not isinstance(v, str))
                return None, f"must be a list of texts; item {k} is {_describe(bad, hidden)}"
            if items == "integer" and not all(_whole(v) for v in value):
                k, bad = next((k, v) for k, v in enumerate(value, start=1) if not _whole(v))
                return None, f"must be a list of whole numbers; item {k} is {_describe(bad, hidden)}"
            if items == "integer":
                return [int(v) for v in value], None
            return list(value), None
        return value, None

    return check


def _whole(value) -> bool:
    return not isinstance(value, bool) and (isinstance(value, int) or (isinstance(value, float) and value.is_integer()))


_PLAIN_TEXT, _YES_NO, _ONE_OF, _NONEMPTY_TEXT, _OTHER = range(5)


def _quick_kind(spec: dict):
    """How a field's common case can be accepted without calling its full check."""
    kind = spec.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if "enum" in spec:
        return _ONE_OF, frozenset(v for v in spec["enum"] if v is not None)
    if kind == "boolean":
        return _YES_NO, None
    if kind == "string" and not ({"pattern", "format", "minLength"} & set(spec)):
        return _PLAIN_TEXT, None
    if kind == "string" and spec.get("minLength") == 1 and not ({"pattern", "format"} & set(spec)):
        return _NONEMPTY_TEXT, None
    return _OTHER, None


class ContactChecker:
    """The contact check for one contact schema: the contract's core fields, plus the facts a
    policy repository declares (facts.contact_schema_with)."""

    def __init__(self, schema: dict, refuse_personnummer: bool = True):
        """`refuse_personnummer`: a `patient` written as a personnummer is invalid (contract
        §1: pseudonymous ids only); a repository whose own pseudonyms can look like one turns
        this off in its settings (privacy: refuse_personnummer_patient: false)."""
        self.refuse_personnummer = refuse_personnummer
        props = schema["properties"]
        # name -> (quick kind, allowed values, full check); the full check also words the error.
        self.checks = {name: (*_quick_kind(spec), _field_check(name, spec)) for name, spec in props.items()}
        self.defaults = {name: spec["default"] for name, spec in props.items() if "default" in spec}
        self.required = tuple(schema["required"])

    def check(self, record, copy: bool = True) -> tuple[dict | None, list[dict]]:
        """A typed contact (date as datetime.date, defaults filled) or None and the errors.

        An optional fact given as null counts as absent (unknown). Fields the schema does not
        name pass through untouched. The common case, a valid contact, takes a quick path;
        anything wrong is worded by the full check, which names every field at fault. With
        `copy=False` a valid record is typed in place (for records nobody else holds, e.g.
        just parsed); an invalid one is left as it was.
        """
        if type(record) is not dict:
            return self.full_check(record)
        checks = self.checks
        for name in self.required:
            if record.get(name) is None:
                return self.full_check(record)
        converted = []
        for name, value in record.items():
            spec = checks.get(name)
            if spec is None or value is None:
                continue
            quick, allowed, check = spec
            if quick == _YES_NO:
                if value is True or value is False:
                    continue
            elif quick == _PLAIN_TEXT:
                if type(value) is str:
                    continue
            elif quick == _ONE_OF:
                if type(value) is str and value in allowed:
                    continue
            elif quick == _NONEMPTY_TEXT:
                if type(value) is str and value:
                    continue
            else:
                good, problem = check(value)
                if problem is None:
                    if good is not value:
                        converted.append((name, good))
                    continue
            return self.full_check(record)
        patient = record["patient"]
        if (10 <= len(patient) <= 13 and patient[:2].isdigit() and self.refuse_personnummer
                and looks_like_personnummer(patient)):
            return self.full_check(record)
        typed = dict(record) if copy else record
        for name, good in converted:
            typed[name] = good
        return _with_defaults(typed, self.defaults), []

    def full_check(self, record) -> tuple[dict | None, list[dict]]:
        """Every field's full check: names each field at fault, in plain words."""
        if not isinstance(record, dict):
            # (the whole line: its value is not repeated, it may be anything a person typed)
            return None, [{"field": None, "message": f"a contact must be a JSON object, not {kind_of(record)}"}]
        errors = []
        typed = {}
        for name in self.required:
            if record.get(name) is None:
                errors.append({"field": name, "message": "is required but missing"})
        for name, value in record.items():
            spec = self.checks.get(name)
            if spec is None:
                typed[name] = value
                continue
            if value is None:
                continue
            good, problem = spec[2](value)
            if problem is not None:
                errors.append({"field": name, "message": problem})
            else:
                typed[name] = good
        patient = record.get("patient")
        if self.refuse_personnummer and isinstance(patient, str) and looks_like_personnummer(patient):
            errors.append({"field": "patient", "message": PERSONNUMMER_MESSAGE})
        if errors:
            return None, errors
        return _with_defaults(typed, self.defaults), []


@lru_cache(maxsize=1)
def core_checker() -> ContactChecker:
    """The check of the contract's core fields alone (schemas/contact.schema.json)."""
    return ContactChecker(load_schema("contact.schema.json"))


def check_contact(record, copy: bool = True, checker: ContactChecker | None = None) -> tuple[dict | None, list[dict]]:
    """`record` checked by `checker` (default: the contract's core fields); see ContactChecker.check."""
    return (checker or core_checker()).check(record, copy)


def _with_defaults(typed: dict, defaults: dict) -> dict:
    """Absent or null fields that the schema gives a default (group: false) get it."""
    for name, value in defaults.items():
        if typed.get(name) is None:
            typed[name] = value
    return typed


# Contract §1: patient ids are pseudonymous. A personnummer (or samordningsnummer) given as
# one is refused, and never repeated back: not in the error, not in a log.
PERSONNUMMER_MESSAGE = ("looks like a personnummer (a valid date and check digit); send the "
                        "pseudonymous patient id instead (the value is not repeated here)")
_PERSONNUMMER = re.compile(r"(\d{2})?(\d{2})(\d{2})(\d{2})[-+]?(\d{4})")


def looks_like_personnummer(text: str) -> bool:
    """Whether `text` is written as a Swedish personnummer or samordningsnummer: YYMMDD-NNNN,
    YYMMDD+NNNN, YYMMDDNNNN, YYYYMMDDNNNN or YYYYMMDD-NNNN, with a real date (the day plus
    60 in a samordningsnummer) and a right Luhn check digit."""
    found = _PERSONNUMMER.fullmatch(text)
    if found is None:
        return False
    century, yy, mm, dd, tail = found.groups()
    day = int(dd) - 60 if int(dd) > 60 else int(dd)
    try:  # (without the century, 20YY: a leap year exactly when 19YY was or 18YY would be)
        date(int(century + yy) if century else 2000 + int(yy), int(mm), day)
    except ValueError:
        return False
    digits = yy + mm + dd + tail
    total = 0
    for position, digit in enumerate(digits):
        value = int(digit) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _with_defaults(typed: dict, defaults: dict) -> dict:
    """Absent or null fields that the schema gives a default (group: false) get it."""
    for name, value in defaults.items():
        if typed.get(name) is None:
            typed[name] = value
    return typed
