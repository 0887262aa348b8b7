"""Schema problems in words: a file that breaks its JSON Schema, said at its place as a person counts.

Every YAML file regelverk reads (policy versions, tests, facts, settings, outputs) is checked
against its schema in `schemas/`; jsonschema's errors become a plain sentence (`rule 4
(one-per-week), message lacks the key 'en'`), a hint where one helps ("did you mean", "write it
in quotes"), and the line and column of the value or key at fault.
"""

from __future__ import annotations

import re
from datetime import date

from jsonschema import Draft202012Validator, FormatChecker

from ..errors import Code, Problem, closest
from ..resources import load_schema
from .privacy import echo
from .yamlsource import SourceDoc


def _jsonable(value):
    """The YAML value as JSON Schema sees it: dates become ISO text."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


_ITEM = {"rules": "rule", "cases": "case", "history": "history contact", "values": "value"}
_SCHEMA_TYPES = {"string": "text", "object": "a mapping of keys", "integer": "a whole number",
                 "number": "a number", "boolean": "true or false", "array": "a list", "null": "nothing"}


def _place(path, root) -> str:
    """Where in the document, as a person counts: `rule 4 (one-per-week), message`."""
    parts, value, parent = [], root, None
    for step in path:
        value = value[step] if isinstance(value, (dict, list)) else None
        if isinstance(step, int):
            name = value.get("id") or value.get("name") if isinstance(value, dict) else None
            label = f"{_ITEM.get(parent, 'item')} {step + 1}" + (f" ({name})" if isinstance(name, str) else "")
            if parts and parts[-1] == parent:
                parts[-1] = label
            else:
                parts.append(label)
        else:
            parts.append(str(step))
        parent = step
    return ", ".join(parts) or "the document"


# The forms the schemas' patterns ask for, in words with an example, for a person who has not
# read a regular expression.
_FORMS = {
    "^[a-z0-9][a-z0-9-]*$": "an id is written in lower-case letters a-z, digits and -, "
                            "starting with a letter or a digit, as one-per-week",
    "^[0-9]+(\\.[0-9]+)*$": 'a version is whole numbers joined by dots, in quotes, as "4.0" or "4.1"',
    "^[a-z][a-z0-9_-]*$": "a region is a lower-case name: a letter a-z, then letters, digits, - or _, as my-region or my_region",
    "^[a-z_][a-z0-9_]*$": "a name is written in lower-case letters a-z, digits and _, starting with a letter or _, "
                          "as max_per_week",
}


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _shown(value) -> str:
    """A value from a list as the file would write it: text as it is, yes/no as true or false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, (str, int, float)) else _kind_of(value)


def _value_kind(value) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int):
        return f"the whole number {value}"
    if isinstance(value, float):
        return f"the number {value}"
    if isinstance(value, str):
        return "text"
    return _kind_of(value)


def _schema_message(error, root=None, raw: str | None = None) -> tuple[str | None, str | None, bool]:
    """A plain-words message for a JSON Schema error, a hint, and whether it points at a key
    (no message: another error says it better).
    `raw`: the value as the file writes it, where it is a single value (`yes` read as true)."""
    where = _place(error.absolute_path, root) if root is not None else (
        ".".join(str(p) for p in error.absolute_path) or "the document")
    v = error.validator
    if v == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        return f"{where} lacks the key '{missing[0] if missing else error.message}'", None, False
    if v == "additionalProperties":
        extra = re.findall(r"'([^']+)'", error.message)
        allowed = list(error.schema.get("properties", {}))
        name = extra[0] if extra else "?"
        guess = closest(name, allowed)
        hint = f"did you mean '{guess}'?" if guess else f"allowed keys: {', '.join(allowed)}"
        return f"{where}: '{name}' is not one of its keys", hint, True
    if v == "enum":
        return f"{where} must be one of {', '.join(map(str, error.validator_value))}", None, False
    if v == "pattern":
        # the form in words: the schema's x-form, else the words for its pattern, else the
        # field's description (a document's address: http or https)
        form = error.schema.get("x-form") or _FORMS.get(error.validator_value) or error.schema.get("description")
        if error.instance == "":
            return f"{where} is empty", form, False
        return f"{where}: {echo(error.instance)} is not in the expected form", form, False
    if v == "format":
        return f"{where}: {echo(error.instance)} is not a valid {error.validator_value}", None, False
    if v == "minItems":
        if not error.instance:
            return f"{where} is an empty list: give at least {_count(error.validator_value, 'value')}", None, False
        return f"{where} has {len(error.instance)}: give at least {_count(error.validator_value, 'value')}", None, False
    if v == "uniqueItems":
        seen, twice = [], []
        for item in error.instance:
            if item in seen and item not in twice:
                twice.append(item)
            seen.append(item)
        if all(isinstance(x, bool) for x in twice):
            return None, None, False  # yes and on, say: each is said to be read as yes/no already
        shown = ", ".join(_shown(x) for x in twice)
        return f"{where} lists {shown} more than once", "write each value once", False
    if v == "minLength" and error.instance == "":
        return f"{where} is empty", None, False
    if v == "type":
        kinds = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        want = " or ".join(_SCHEMA_TYPES.get(k, k) for k in kinds)
        if "string" in kinds and isinstance(error.instance, bool) and raw is not None:
            # yes, no, on, off, true and false are YAML's words for yes/no, in a list too
            return (f"{where}: {raw} is read as a yes/no value, not as text", f'write it in quotes: "{raw}"', False)
        hint = None
        if "string" in kinds and isinstance(error.instance, (int, float)) and not isinstance(error.instance, bool):
            hint = f'write it in quotes: "{raw if raw is not None else error.instance}"'
        return f"{where} must be {want}, not {_value_kind(error.instance)}", hint, False
    if v == "oneOf":
        # (the parameters' schema: a whole number, text, yes/no or a date; a list of those; or
        # written in full) said by what the value is, in words
        value = error.instance
        if tuple(error.absolute_path)[:1] != ("parameters",):  # a rule's then or otherwise
            return (f"{where}: an output's value is yes/no (true or false), a whole number, text or a list, "
                    f"or {{parameter: name}}; not {_value_kind(value)}", None, False)
        if isinstance(value, float):
            return (f"{where} must be a whole number, not the number {raw or value}",
                    "the conditions count in whole numbers: write one, as 3 or 4", False)
        if isinstance(value, list):
            odd = next((x for x in value if isinstance(x, bool) or not isinstance(x, (str, int))), None)
            return (f"{where}: a list parameter holds texts or whole numbers, not {_value_kind(odd)}", None, False)
        return (f"{where}: a parameter is a whole number, text, yes/no (true or false), a date, a list of texts "
                f"or of whole numbers, or written in full as {{type, value, description}}; not {_value_kind(value)}",
                None, False)
    return f"{where}: {error.message}", None, False


_validator: Draft202012Validator | None = None


def policy_validator() -> Draft202012Validator:
    global _validator
    if _validator is None:
        _validator = Draft202012Validator(load_schema("policy.schema.json"), format_checker=FormatChecker())
    return _validator


def _kind_of(value) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a text"
    if isinstance(value, dict):
        return "a mapping of keys"
    return "a single value" if value is not None else "nothing"


def schema_problems(doc: SourceDoc, validator: Draft202012Validator | None = None,
                    code: str = Code.SCHEMA, skip: frozenset = frozenset()) -> list[Problem]:
    """Every way the document breaks its JSON Schema (the policy schema unless another
    validator is given), in plain words at the place in the file; but those of the kinds in
    `skip` (JSON Schema's keywords: "required" for a key that is missing)."""
    problems = []
    if not isinstance(doc.value, dict):
        return [doc.problem(code, "the file must hold a mapping of keys (for a policy: id, version, rules …), "
                                  f"not {_kind_of(doc.value)}")]
    for error in (validator or policy_validator()).iter_errors(_jsonable(doc.value)):
        if error.validator in skip:
            continue
        path = tuple(error.absolute_path)
        if any(path[:len(bad)] == bad for bad in doc.unreadable):
            continue  # the loader said already what is wrong with this value, at its place
        node = doc.nodes.get(path)
        raw = node.value if node is not None and isinstance(node.value, str) else None
        message, hint, at_key = _schema_message(error, doc.value, raw)
        if message is None:
            continue
        if at_key:
            extra = re.findall(r"'([^']+)'", error.message)
            if extra:
                path = path + (extra[0],)
        problems.append(doc.problem(code, message, path, key=at_key, hint=hint))
    return problems
