"""Check incoming contacts against the contact schema, fast, and turn them into typed records.

The checks are built from schemas/contact.schema.json (the keywords it uses: type, enum,
pattern, format date, minimum, maximum, minLength, items, required, default), so the schema stays the
one place a field is defined; tests compare this checker with jsonschema itself.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from functools import lru_cache, partial

from ..loading.privacy import PERSONNUMMER_MESSAGE, echo, kind_of, looks_like_personnummer
from ..loading.yamlsource import nfc
from ..resources import load_schema


def _describe(value, identifying: bool = False) -> str:
    """A value as an error repeats it (privacy.echo): never an identifying field's value."""
    return echo(value, identifying)


# A time of day as a reader or a person may write one that the contract's HH:MM does not take:
# with seconds, or past 23:59 (a Parquet time column can hold 25:00), or before midnight.
_CLOCK = re.compile(r"(-?)(\d+):(\d\d)(?::(\d\d)(?:\.\d+)?)?")


def _time_words(shown: str, value: str, form: str) -> str | None:
    """What is wrong with a time (the contract's `time`, HH:MM) written as a clock time, in
    plain words; None for any other text (the pattern's words then say it)."""
    clock = _CLOCK.fullmatch(value)
    if clock is None:
        return None
    sign, hours, minutes, seconds = clock.groups()
    if sign or int(hours) > 23 or int(minutes) > 59 or (seconds is not None and int(seconds) > 59):
        return f"{shown} is not a time of day ({form})"
    if seconds is not None:
        return f"{shown} has seconds: a time is hours and minutes only ({form})"
    return None


# The ids of a contact and its patient are kept as written: a decision names its contact by the
# id it came with, and a patient's contacts are found by theirs. Every other text of a contact
# is compared in Unicode's composed form, NFC (yamlsource.nfc), as the policies' texts are read.
AS_WRITTEN = frozenset({"id", "patient"})
_is_nfc = partial(unicodedata.is_normalized, "NFC")


def _text_check(spec: dict, pattern, is_date: bool, min_length, is_time: bool = False, as_written: bool = False):
    hidden = bool(spec.get("x-identifying"))

    def check(value):
        if not isinstance(value, str):
            return None, f"must be text, not {_describe(value, hidden)}"
        if not as_written:
            value = nfc(value)
        if min_length and len(value) < min_length:
            return None, "must not be empty"
        if pattern is not None and not pattern.fullmatch(value):
            if is_date:
                return None, f"{_describe(value, hidden)} is not a date written YYYY-MM-DD"
            # x-form: the pattern in words, for the person who reads the error
            form = spec.get("x-form") or spec["pattern"]
            words = _time_words(_describe(value, hidden), value, form) if is_time else None
            return None, words or f"{_describe(value, hidden)} is not in the expected form ({form})"
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

    as_written = name in AS_WRITTEN
    text = _text_check(spec, pattern, is_date, min_length, is_time=name == "time", as_written=as_written)
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
        check.memo = memo  # (the generated layout checks read it directly, see generate_layout_source)
        return check

    hidden = bool(spec.get("x-identifying"))

    def check(value):
        if enum is not None:
            if isinstance(value, str):
                value = nfc(value)
                if value in enum:
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
            if items == "string" and not as_written:
                return [nfc(v) for v in value], None
            return list(value), None
        return value, None

    return check


def _whole(value) -> bool:
    return not isinstance(value, bool) and (isinstance(value, int) or (isinstance(value, float) and value.is_integer()))


# A text field's common case is a text in NFC (ASCII, most often); an id's, any text.
_PLAIN_TEXT, _YES_NO, _ONE_OF, _NONEMPTY_TEXT, _OTHER, _NONEMPTY_ID = range(6)


def _quick_kind(name: str, spec: dict):
    """How a field's common case can be accepted without calling its full check."""
    kind = spec.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if "enum" in spec:
        return _ONE_OF, frozenset(v for v in spec["enum"] if v is not None)
    if kind == "boolean":
        return _YES_NO, None
    if kind == "string" and not ({"pattern", "format", "minLength"} & set(spec)) and name not in AS_WRITTEN:
        return _PLAIN_TEXT, None
    if kind == "string" and spec.get("minLength") == 1 and not ({"pattern", "format"} & set(spec)):
        return (_NONEMPTY_ID if name in AS_WRITTEN else _NONEMPTY_TEXT), None
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
        self.checks = {name: (*_quick_kind(name, spec), _field_check(name, spec)) for name, spec in props.items()}
        self.defaults = {name: spec["default"] for name, spec in props.items() if "default" in spec}
        self.required = tuple(schema["required"])
        self.specs = props
        # The quick check generated for each layout of fields seen (see _layout_check).
        self._layouts: dict[tuple, object] = {}
        self._seen: dict[tuple, int] = {}  # how often layouts without one have come
        self.layout_after = LAYOUT_AFTER

    def check(self, record, copy: bool = True) -> tuple[dict | None, list[dict]]:
        """A typed contact (date as datetime.date, defaults filled) or None and the errors.

        An optional fact given as null counts as absent (unknown). Fields the schema does not
        name pass through untouched. The common case, a valid contact, takes a quick path;
        anything wrong is worded by the full check, which names every field at fault. With
        `copy=False` a valid record is typed in place (for records nobody else holds, e.g.
        just parsed); an invalid one is left as it was.

        The quick path is a function generated from the schema's tables for the record's
        layout (its field names in order: the records of one source share a few), which
        tests each value where it stands without looking its field up; see _layout_check.
        """
        if type(record) is not dict:
            return self.full_check(record)
        layout = tuple(record)
        quick = self._layouts.get(layout)
        if quick is None:
            quick = self._layout_check(layout)
            if quick is None:
                return self.loop_check(record, copy)
        return quick(record, copy, *record.values())

    def _layout_check(self, layout: tuple):
        """The quick check of records with exactly these field names in this order, generated
        and compiled once the layout has come `layout_after` times (compiling one costs about
        what a few hundred records gain from it); None until then, and beyond MAX_LAYOUTS
        (the records then take loop_check)."""
        seen = self._seen
        count = seen.get(layout, 0) + 1
        if count < self.layout_after or len(self._layouts) >= MAX_LAYOUTS:
            if len(seen) >= 4 * MAX_LAYOUTS:
                seen.clear()
            seen[layout] = count
            return None
        seen.pop(layout, None)
        quick = self._layouts[layout] = generate_layout_check(self, layout)
        return quick

    def loop_check(self, record: dict, copy: bool = True) -> tuple[dict | None, list[dict]]:
        """check's quick path as a loop over the fields (for a record of a layout that has no
        generated check): the same answer as the generated check."""
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
                if type(value) is str and (value.isascii() or _is_nfc(value)):
                    continue
            elif quick == _ONE_OF:
                if type(value) is str and value in allowed:
                    continue
            elif quick == _NONEMPTY_TEXT:
                if type(value) is str and value and (value.isascii() or _is_nfc(value)):
                    continue
            elif quick == _NONEMPTY_ID:
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
        if len(patient) >= 10 and self.refuse_personnummer and looks_like_personnummer(patient):
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


# At most this many record layouts get a generated check each; records of further layouts are
# checked by ContactChecker.loop_check (the same answers, a little slower). Records of one
# source share a few layouts; this bounds what a stream of ever-new ones can cost.
MAX_LAYOUTS = 512
# A layout gets its generated check when it comes for this many records.
LAYOUT_AFTER = 64
# A record with more fields than this is checked by loop_check (no function of that many
# arguments is generated).
MAX_LAYOUT_FIELDS = 128

_LAYOUT_NAMES = re.compile(r"[vtkacdlhnm]_\d+")
_LAYOUT_FIXED = {"make", "quick", "record", "copy", "values", "typed", "p", "x", "get", "FULL", "DICT", "PN", "NFC", "len", "type",
                 "str", "int", "isascii"}


def generate_layout_source(checker: ContactChecker, layout: tuple) -> tuple[str, dict]:
    """The source of the quick check of records with the fields `layout`, in that order, and
    the objects its names are bound to. The record's values arrive as the arguments v_0, v_1,
    …; each field the schema names is tested where it stands, as check's quick path tests it
    (the field's quick kind, else its full check, whose typed value replaces the given one);
    anything wrong hands the record to the full check, which words the errors. No field name
    or value becomes code: the schema's tables are bound as arguments (k_: a field name, a_:
    a set of allowed values, c_: a field's check, m_: the texts it has checked, d_: a default,
    l_/h_: bounds)."""
    bound: dict = {"FULL": checker.full_check, "DICT": dict, "PN": looks_like_personnummer, "NFC": _is_nfc}
    fail = "return FULL(record)"
    position = {name: i for i, name in enumerate(layout)}
    required = set(checker.required)
    if not required.issubset(position):
        return f"def make(FULL):\n    def quick(record, copy, *values):\n        {fail}\n    return quick\n", \
            {"FULL": checker.full_check}
    args = [f"v_{i}" for i in range(len(layout))]
    body: list[str] = []
    converted: list[tuple[str, str, str]] = []  # (value, typed value, field name) of checked fields
    for i, name in enumerate(layout):
        spec = checker.checks.get(name) if isinstance(name, str) else None
        if spec is None:
            continue  # a field the schema does not name passes through untouched
        quick, allowed, full = spec
        v = f"v_{i}"
        must = name in required
        if quick == _YES_NO:
            test = f"{v} is not True and {v} is not False"
        elif quick == _PLAIN_TEXT:  # (a text not in NFC is made so by the full check)
            test = f"type({v}) is not str or not ({v}.isascii() or NFC({v}))"
        elif quick == _ONE_OF:
            bound[f"a_{i}"] = allowed
            test = f"type({v}) is not str or {v} not in a_{i}"
        elif quick == _NONEMPTY_TEXT:
            test = f"type({v}) is not str or not {v} or not ({v}.isascii() or NFC({v}))"
        elif quick == _NONEMPTY_ID:
            test = f"type({v}) is not str or not {v}"
        else:
            bound[f"c_{i}"] = full
            bound[f"k_{i}"] = name
            spec_of = checker.specs.get(name, {})
            kind = spec_of.get("type")
            if isinstance(kind, list):
                kind = next((k for k in kind if k != "null"), None)
            run = [f"t_{i}, p = c_{i}({v})", f"if p is not None: {fail}"]
            memo = getattr(full, "memo", None)
            if memo is not None:
                # A text's verdict remembered by the field's check (dates, times, slugs) is
                # read here without calling it.
                bound[f"m_{i}"] = memo
                run = [f"x = m_{i}.get({v}) if type({v}) is str else None",
                       f"t_{i}, p = c_{i}({v}) if x is None else x", f"if p is not None: {fail}"]
            if kind == "integer" and "enum" not in spec_of:
                # A whole number within its bounds is itself (its full check says so, too).
                bounds = []
                for side, key, op in (("l", "minimum", ">="), ("h", "maximum", "<=")):
                    if spec_of.get(key) is not None:
                        bound[f"{side}_{i}"] = spec_of[key]
                        bounds.append(f"{v} {op} {side}_{i}")
                run = [f"if type({v}) is int{''.join(' and ' + b for b in bounds)}:",
                       f"    t_{i} = {v}", "else:"] + ["    " + line for line in run]
            if must:
                body.append(f"if {v} is None: {fail}")
                body += run
            else:
                body.append(f"t_{i} = {v}")
                body.append(f"if {v} is not None:")
                body += ["    " + line for line in run]
            converted.append((v, f"t_{i}", f"k_{i}"))
            continue
        # (an optional field's null is absent: tested last, as most values are given)
        body.append(f"if {test}: {fail}" if must else f"if ({test}) and {v} is not None: {fail}")
    if "patient" in position and checker.refuse_personnummer:
        v = f"v_{position['patient']}"
        body.append(f"if len({v}) >= 10 and PN({v}): {fail}")
    body.append("typed = DICT(record) if copy else record")
    for v, t, k in converted:
        body.append(f"if {t} is not {v}: typed[{k}] = {t}")
    for j, (name, value) in enumerate(checker.defaults.items()):
        bound[f"d_{j}"] = value
        if name in position:
            i = position[name]
            bound[f"k_{i}"] = name
            body.append(f"if v_{i} is None: typed[k_{i}] = d_{j}")
        else:
            bound[f"n_{j}"] = name
            body.append(f"typed[n_{j}] = d_{j}")
    body.append("return typed, []")
    source = "\n".join([f"def make({', '.join(sorted(bound))}):",
                        f"    def quick(record, copy, {', '.join(args)}):",
                        *("        " + line for line in body),
                        "    return quick"]) + "\n"
    return source, bound


def generate_layout_check(checker: ContactChecker, layout: tuple):
    """The compiled quick check of a layout (see generate_layout_source), or for a layout too
    wide for one a function that calls loop_check."""
    if len(layout) > MAX_LAYOUT_FIELDS:
        loop = checker.loop_check
        return lambda record, copy, *values: loop(record, copy)
    source, bound = generate_layout_source(checker, layout)
    code = compile(source, "<regelverk contact check>", "exec")
    stack = [code]
    while stack:  # the guard: only the names generated above, no constant but small ones
        c = stack.pop()
        for name in (*c.co_names, *c.co_varnames, *c.co_cellvars, *c.co_freevars):
            if name not in _LAYOUT_FIXED and not _LAYOUT_NAMES.fullmatch(name) and name not in bound:
                raise ValueError(f"generated contact check names {name!r}")
        for const in c.co_consts:
            if type(const) is type(code):
                stack.append(const)
            elif not (const is None or type(const) in (bool, int) or (type(const) is tuple and not const)):
                raise ValueError(f"generated contact check holds a constant {const!r}")
    namespace: dict = {"__builtins__": {"len": len, "type": type, "str": str, "int": int}}
    exec(code, namespace)  # noqa: S102 - generated from the schema's tables, checked above
    return namespace["make"](**bound)


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
