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


_ITEM = {"rules": "rule", "cases": "case", "history": "history contact"}
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


def _schema_message(error, root=None) -> tuple[str, str | None, bool]:
    """A plain-words message for a JSON Schema error, a hint, and whether it points at a key."""
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
        # the field's description says what form it takes (a document's address: http or https)
        return f"{where}: {echo(error.instance)} is not in the expected form", error.schema.get("description"), False
    if v == "format":
        return f"{where}: {echo(error.instance)} is not a valid {error.validator_value}", None, False
    if v == "type":
        kinds = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        want = " or ".join(_SCHEMA_TYPES.get(k, k) for k in kinds)
        hint = None
        if "string" in kinds and isinstance(error.instance, (int, float)) and not isinstance(error.instance, bool):
            hint = f'write it in quotes: "{error.instance}"'
        return f"{where} must be {want}, not {_value_kind(error.instance)}", hint, False
    if v == "oneOf":
        return f"{where}: a parameter is a value (a number, text, yes/no, a date or a list) or {{type, value, description}}", None, False
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
                    code: str = Code.SCHEMA) -> list[Problem]:
    """Every way the document breaks its JSON Schema (the policy schema unless another
    validator is given), in plain words at the place in the file."""
    problems = []
    if not isinstance(doc.value, dict):
        return [doc.problem(code, "the file must hold a mapping of keys (for a policy: id, version, rules …), "
                                  f"not {_kind_of(doc.value)}")]
    for error in (validator or policy_validator()).iter_errors(_jsonable(doc.value)):
        path = tuple(error.absolute_path)
        if any(path[:len(bad)] == bad for bad in doc.unreadable):
            continue  # the loader said already what is wrong with this value, at its place
        message, hint, at_key = _schema_message(error, doc.value)
        if at_key:
            extra = re.findall(r"'([^']+)'", error.message)
            if extra:
                path = path + (extra[0],)
        problems.append(doc.problem(code, message, path, key=at_key, hint=hint))
    return problems
