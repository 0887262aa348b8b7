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


DECLARED_TYPES = {
    "boolean": BOOLEAN, "integer": INTEGER, "string": STRING, "date": DATE,
    "list": list_of("string"), "list of strings": list_of("string"),
    "list of integers": list_of("integer"),
}


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
