"""The value types of the condition language and the names a condition can use."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Type:
    """A value type. `values` narrows a string to an enumeration; `element` types a list."""

    kind: str  # boolean | integer | string | date | time | list | duration
    values: tuple[str, ...] | None = None
    element: str | None = None

    def __str__(self) -> str:
        if self.kind == "list":
            return "list of " + _PLURAL.get(self.element, "values")
        if self.values:
            return "one of " + ", ".join(f'"{v}"' for v in self.values)
        return {"boolean": "yes/no", "integer": "whole number", "string": "text"}.get(self.kind, self.kind)


_PLURAL = {"string": "texts", "integer": "whole numbers", "boolean": "yes/no values", "date": "dates"}

BOOLEAN = Type("boolean")
INTEGER = Type("integer")
STRING = Type("string")
DATE = Type("date")
TIME = Type("time")
DURATION = Type("duration")


def list_of(element: str) -> Type:
    return Type("list", element=element)


def compatible(a: Type, b: Type) -> bool:
    """Whether two values can be compared for equality."""
    if a.kind == "list" or b.kind == "list":
        return a.kind == b.kind and (a.element is None or b.element is None or a.element == b.element)
    return a.kind == b.kind


def type_of_value(value) -> Type | None:
    """The type of a YAML value used as a parameter; None when the language has no such type."""
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, str):
        return STRING
    if isinstance(value, date):
        return DATE
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list_of("string")
    if isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return list_of("integer")
    return None


# The one vocabulary of value kinds: what a policy author writes after `type:` (parameters,
# outputs.yaml, facts.yaml), what errors and rendered pages say, what the docs list.
DECLARED_TYPES = {
    "yes/no": BOOLEAN, "whole number": INTEGER, "text": STRING, "date": DATE,
    "list of texts": list_of("string"), "list of whole numbers": list_of("integer"),
}
# A fact may also be one of a list of values (`type: one of` with `values: [...]`).
ONE_OF = "one of"
KIND_NAMES = (*DECLARED_TYPES, ONE_OF)
# Names of other tools' vocabularies (JSON Schema, Python) an author may write by habit.
_HABITS = {
    "boolean": "yes/no", "bool": "yes/no", "integer": "whole number", "int": "whole number",
    "number": "whole number", "string": "text", "str": "text", "list": "list of texts",
    "list of strings": "list of texts", "list of integers": "list of whole numbers",
    "enum": ONE_OF,
}


def kind_problem(written, allowed=tuple(DECLARED_TYPES)) -> tuple[str, str | None]:
    """What is wrong with a kind an author wrote, and a hint: the kinds allowed, or the word
    for a kind written in another tool's vocabulary."""
    message = f"{written!r} is not a kind of value; the kinds are: {', '.join(allowed)}"
    word = _HABITS.get(written) if isinstance(written, str) else None
    return message, (f"write '{word}'" if word in allowed else None)


def field_types_from_schema(schema: dict) -> dict[str, Type]:
    """The contact fields a condition may name, typed from the contact JSON Schema."""
    types: dict[str, Type] = {}
    for name, spec in schema.get("properties", {}).items():
        kind = spec.get("type")
        if isinstance(kind, list):  # ["boolean", "null"]
            kind = next((k for k in kind if k != "null"), None)
        if "enum" in spec:
            types[name] = Type("string", values=tuple(v for v in spec["enum"] if v is not None))
        elif kind == "boolean":
            types[name] = BOOLEAN
        elif kind == "integer":
            types[name] = INTEGER
        elif kind == "array":
            types[name] = list_of(spec.get("items", {}).get("type", "string"))
        elif spec.get("format") == "date":
            types[name] = DATE
        elif name == "time" or spec.get("format") == "time":
            types[name] = TIME
        else:
            types[name] = STRING
    return types


@dataclass(frozen=True)
class OutputSpec:
    """One output of a decision, from policies/outputs.yaml."""

    name: str
    type: Type
    combine: str  # all | single | union
    description: str = ""


@dataclass(frozen=True)
class Names:
    """What a condition in one policy version can refer to."""

    fields: dict[str, Type]
    parameters: dict[str, Type] = field(default_factory=dict)
    outputs: dict[str, OutputSpec] = field(default_factory=dict)
    # The parameters' values, so that a text or list of texts compared with a field that is one
    # of a list of values is checked against that list as a value written out is.
    parameter_values: dict = field(default_factory=dict)
