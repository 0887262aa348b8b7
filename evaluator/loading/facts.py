"""Facts a policy repository declares beyond the contract's core contact fields (facts.yaml).

A region's guideline may read a fact the contract does not name (a birth date, the staff
member's profession, an interpreter). The repository declares it, as data, in `facts.yaml` at
its root: a name, a kind of value, a description in Swedish and English, the values allowed
where it is one of a list. The loader merges the declared facts into the contact schema, so the
type checker, the contact checker, lint, render, explain, the editor's JSON Schemas and the HTTP
API's description all see the core fields plus that repository's facts.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path

from jsonschema import Draft202012Validator

from ..errors import Code, Location, Problem
from ..language.types import DECLARED_TYPES, KIND_NAMES, ONE_OF, Type, kind_problem
from ..resources import load_schema
from .schema import schema_problems

_NAME = re.compile(r"[a-z_][a-z0-9_]*")
# The largest whole number every JSON reader reads exactly (as the core schema's bound).
_LARGEST = 2**53 - 1


@dataclass(frozen=True)
class Fact:
    """One declared fact: its name, kind of value, meaning in both languages, where declared."""

    name: str
    type: Type
    kind: str  # as written: one of KIND_NAMES
    description: dict
    values: tuple[str, ...] | None = None
    identifying: bool = False
    location: Location | None = None


def _validator() -> Draft202012Validator:
    return Draft202012Validator(load_schema("facts.schema.json"))


def load_facts(path: Path, core_fields, keywords=frozenset(), *, required: bool = False) -> tuple[dict[str, Fact], list[Problem]]:
    """The facts declared in `path`, and every problem with them, at its place. A missing file
    declares no facts unless the settings named it (`required`)."""
    from .yamlsource import display_path, load_yaml

    try:
        present = path.exists()
    except OSError:  # a name the system refuses
        present = False
    if not present:
        if required:
            return {}, [Problem(Code.FACTS, f"the facts file {display_path(path)} named in regelverk.yaml does not exist",
                                hint="create it (regelverk init writes one) or correct 'facts' in regelverk.yaml")]
        return {}, []
    doc, problems = load_yaml(path, display_path(path))
    if doc is None or problems:
        return {}, problems
    if doc.value is None:
        return {}, []
    # A name in the wrong form is placed at its own key (the schema's check of property names
    # would point at the mapping that holds it).
    declared = doc.value.get("facts") if isinstance(doc.value, dict) else None
    if isinstance(declared, dict):
        bad = [doc.problem(Code.FACTS, f"'{name}' cannot be a fact's name: write lower-case letters, digits and _, "
                                    "starting with a letter or _ (as birth_date)", ("facts", name), key=True)
               for name in declared if not isinstance(name, str) or not _NAME.fullmatch(name)]
        if bad:
            return {}, bad
    problems = schema_problems(doc, _validator(), code=Code.FACTS)
    if problems:
        return {}, problems
    facts: dict[str, Fact] = {}
    for name, spec in (doc.value.get("facts") or {}).items():
        place = ("facts", name)
        if name in core_fields:
            problems.append(doc.problem(
                Code.FACTS, f"'{name}' is a core field of the contract and cannot be declared again", place, key=True,
                hint="use it as it is, or declare a fact of another name"))
            continue
        if name in keywords:
            problems.append(doc.problem(Code.FACTS, f"'{name}' is a word of the condition language, not a name for a fact",
                                        place, key=True))
            continue
        kind = spec["type"]
        values = spec.get("values")
        if kind == ONE_OF:
            if not values:
                problems.append(doc.problem(Code.FACTS, f"fact '{name}' is 'one of' a list of values: give them as 'values'",
                                            place + ("type",)))
                continue
            t = Type("string", values=tuple(values))
        else:
            t = DECLARED_TYPES.get(kind)
            if t is None:  # (the schema's enum already refuses it; kept for a schema edited by hand)
                message, hint = kind_problem(kind, KIND_NAMES)
                problems.append(doc.problem(Code.FACTS, f"fact '{name}': {message}", place + ("type",), hint=hint))
                continue
            if values is not None:
                problems.append(doc.problem(Code.FACTS, f"fact '{name}' is {kind}: 'values' belong to a fact that is 'one of'",
                                            place + ("values",), hint="write type: one of"))
                continue
        facts[name] = Fact(name, t, kind, dict(spec["description"]), tuple(values) if values else None,
                           bool(spec.get("identifying", False)), doc.key_location(place))
    return facts, problems


def fact_schema(fact: Fact) -> dict:
    """The JSON Schema of one declared fact's value in a contact (null: unknown)."""
    t = fact.type
    if t.values:
        spec: dict = {"enum": [*t.values, None]}
    elif t.kind == "boolean":
        spec = {"type": ["boolean", "null"]}
    elif t.kind == "integer":
        spec = {"type": ["integer", "null"], "minimum": -_LARGEST, "maximum": _LARGEST}
    elif t.kind == "date":
        spec = {"type": ["string", "null"], "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
    elif t.kind == "list":
        items = {"type": "integer"} if t.element == "integer" else {"type": "string"}
        spec = {"type": ["array", "null"], "items": items}
    else:
        spec = {"type": ["string", "null"]}
    spec["description"] = fact.description.get("en", "")
    spec["x-description"] = dict(fact.description)
    spec["x-kind"] = fact.kind
    spec["x-declared"] = True
    if fact.identifying:
        spec["x-identifying"] = True
    return spec


def contact_schema_with(facts: dict[str, Fact]) -> dict:
    """The contract's contact schema with a repository's declared facts added."""
    schema = copy.deepcopy(load_schema("contact.schema.json"))
    if not facts:
        return schema
    for name in sorted(facts):
        schema["properties"][name] = fact_schema(facts[name])
    schema["description"] += " This schema also holds the facts the policy repository declares (x-declared)."
    return schema
