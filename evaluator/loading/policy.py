"""Read one policy version from YAML and check it (schema, names, conditions, effects) into the plain model."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from ..errors import Code, Location, Problem, closest
from ..language import ast
from ..language.checker import KEYWORDS, check_condition
from ..language.parser import ConditionSyntaxError, parse_condition
from ..language.types import DECLARED_TYPES, Names, OutputSpec, Type, type_of_value
from ..resources import load_schema
from .citation import finding_source
from .privacy import identifying_fields
from .schema import schema_problems
from .yamlsource import SourceDoc, shorten, text_hash

PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
SPECIAL_PLACEHOLDERS = ("evidence", "missing")


@dataclass(frozen=True)
class Message:
    """A message in Swedish and English, split into text and {placeholders} once."""

    sv: tuple
    en: tuple
    raw: dict


@dataclass(frozen=True)
class Rule:
    id: str
    section: str
    passage: str
    reading: str | None
    when_text: str
    when: ast.Node
    then: dict
    otherwise: dict
    severity: str
    message: Message
    source: str  # "document id (or title), section", as findings cite it
    uses_history: bool
    decides: tuple  # output names in then or otherwise
    line: int


@dataclass(frozen=True)
class PolicyVersion:
    """One checked policy version, immutable: its conditions as checked syntax trees (compiling/
    turns them into code that decides contacts)."""

    id: str
    version: str
    title: str
    issuer: str
    region: str
    valid_from: date
    valid_to: date | None
    source: dict
    description: str | None
    applies_text: str
    applies_when: ast.Node
    parameters: dict
    parameter_types: dict
    rules: tuple[Rule, ...]
    file: str
    document: dict  # the plain YAML value, for render and diff
    content_hash: str = ""  # sha256 of the file's text (yamlsource.text_hash): contract §7
    # Where the keys id, version, valid_from and valid_to stand in the file, with their lines:
    # a problem between versions (an overlap, a gap, their order) is said at the key to change.
    places: dict = field(default_factory=dict, compare=False, repr=False)

    def in_force_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    @property
    def key(self) -> tuple:
        return version_key(self.version)

    def problem(self, code: str, message: str, key: str, *, hint: str | None = None,
                severity: str = "error") -> Problem:
        """A problem at `key` of this version's file (the file's start when it is not known)."""
        loc, line = self.places.get(key) or self.places.get("version") or (Location(self.file, 1, 1), None)
        return Problem(code, message, loc, line, severity, hint)

    def period(self) -> str:
        return f"{self.valid_from.isoformat()} – {self.valid_to.isoformat() if self.valid_to else '…'}"


def spec_kind(outputs: dict, name: str) -> str | None:
    spec = outputs.get(name)
    return spec.type.kind if spec else None


def version_key(version: str) -> tuple:
    return tuple(int(p) for p in version.split(".") if p.isdigit())


def _parameter(name, raw) -> tuple[object, Type | None, str | None]:
    if isinstance(raw, dict):
        value = raw.get("value")
        declared = raw.get("type")
        inferred = type_of_value(value)
        if declared is not None:
            want = DECLARED_TYPES[declared]
            if inferred is None or inferred.kind != want.kind or (
                want.kind == "list" and value and inferred.element != want.element
            ):
                return value, None, f"parameter '{name}' is declared {declared} but its value {shorten(repr(value))} is {inferred or 'of no known kind'}"
            return value, want, None
        raw = value
    t = type_of_value(raw)
    if t is None:
        return raw, None, f"parameter '{name}' has a value of no known type: {shorten(repr(raw))}"
    return raw, t, None


def _template(text: str) -> tuple:
    parts = []
    last = 0
    for m in PLACEHOLDER.finditer(text):
        parts.append(text[last:m.start()])
        parts.append((m.group(1).strip(),))
        last = m.end()
    parts.append(text[last:])
    return tuple(p for p in parts if p != "")


def read_version(doc: SourceDoc, names_base: Names, outputs: dict[str, OutputSpec],
                    identifying: frozenset[str] | None = None) -> tuple[PolicyVersion | None, list[Problem]]:
    """Read and check one policy document. Returns the version, or None and every problem.
    `identifying`: the contact fields that identify a person, which no message may name
    (default: the contract's, x-identifying in the contact schema)."""
    problems = schema_problems(doc)
    if problems or doc.unreadable:  # (a value that could not be read is a problem the loader gave)
        return None, problems
    d = doc.value
    fields = names_base.fields

    params: dict = {}
    ptypes: dict = {}
    for name, raw in (d.get("parameters") or {}).items():
        path = ("parameters", name)
        if name in KEYWORDS:
            problems.append(doc.problem(Code.PARAMETER, f"'{name}' is a word of the condition language and cannot name a parameter", path, key=True))
            continue
        if name in fields:
            problems.append(doc.problem(Code.PARAMETER, f"parameter '{name}' has the name of a contact field; choose another name", path, key=True))
            continue
        value, t, err = _parameter(name, raw)
        if err:
            problems.append(doc.problem(Code.PARAMETER, err, path))
            continue
        params[name] = value
        ptypes[name] = t
    names = Names(fields=fields, parameters=ptypes, outputs=outputs, parameter_values=params)

    def condition(path, *, allow_history):
        text = d
        for p in path:
            text = text[p]
        try:
            node = parse_condition(text)
        except ConditionSyntaxError as exc:
            loc = doc.offset_location(path, exc.offset)
            problems.append(Problem(Code.DSL_SYNTAX, exc.message, loc, doc.line_text(loc.line), hint=exc.hint))
            return None
        _, found = check_condition(node, names, allow_history=allow_history)
        for tp in found:
            loc = doc.offset_location(path, tp.offset)
            problems.append(Problem(tp.code, tp.message, loc, doc.line_text(loc.line), hint=tp.hint))
        return None if found else node

    applies_node = condition(("applies_when",), allow_history=False)

    rules = []
    seen: dict[str, int] = {}
    cited = d["source"]
    placeholders_ok = set(params) | set(fields) | set(SPECIAL_PLACEHOLDERS)
    if identifying is None:
        identifying = identifying_fields(load_schema("contact.schema.json"))
    for i, r in enumerate(d["rules"]):
        rpath = ("rules", i)
        if r["id"] in seen:
            problems.append(doc.problem(Code.DUPLICATE_RULE, f"rule id '{r['id']}' is used twice in this version (also rule {seen[r['id']] + 1})", rpath + ("id",)))
        seen[r["id"]] = i
        node = condition(rpath + ("when",), allow_history=True)
        effects_ok = True
        resolved: dict = {"then": {}, "otherwise": {}}
        for which in ("then", "otherwise"):
            for out_name, value in (r.get(which) or {}).items():
                epath = rpath + (which, out_name)
                if isinstance(value, dict):  # {parameter: name}: the value of a parameter
                    pname = value.get("parameter")
                    if pname not in params:
                        guess = closest(str(pname), params)
                        problems.append(doc.problem(Code.UNKNOWN_NAME, f"there is no parameter '{pname}'", epath + ("parameter",),
                                                    hint=f"did you mean '{guess}'?" if guess else None))
                        effects_ok = False
                        continue
                    value = params[pname]
                    if spec_kind(outputs, out_name) == "list" and isinstance(value, str):
                        value = [value]  # a list output takes one code from a text parameter
                spec = outputs.get(out_name)
                if spec is None:
                    guess = closest(out_name, outputs)
                    problems.append(doc.problem(Code.UNKNOWN_OUTPUT, f"there is no output '{out_name}'", epath, key=True,
                                                hint=f"did you mean '{guess}'?" if guess else f"outputs: {', '.join(outputs)}"))
                    effects_ok = False
                    continue
                vt = type_of_value(value)
                if vt is None or vt.kind != spec.type.kind:
                    problems.append(doc.problem(Code.OUTPUT_TYPE, f"output '{out_name}' takes a {spec.type}, not {shorten(repr(value))}", epath))
                    effects_ok = False
                resolved[which][out_name] = value
        for lang in ("sv", "en"):
            for m in PLACEHOLDER.finditer(r["message"][lang]):
                name = m.group(1).strip()
                # said at the placeholder itself, not at the start of the message
                loc = doc.offset_location(rpath + ("message", lang), m.start())
                if name in identifying:
                    problems.append(Problem(
                        Code.MESSAGE_PLACEHOLDER, f"the message names {{{name}}}, which identifies a person: "
                        "a message is shown to whoever reads the decision, and never repeats who the patient is",
                        loc, doc.line_text(loc.line), hint="leave it out; the decision names its contact by id"))
                elif name not in placeholders_ok:
                    guess = closest(name, placeholders_ok)
                    problems.append(Problem(Code.MESSAGE_PLACEHOLDER, f"the message names {{{name}}}, which is neither a parameter, a contact field, {{evidence}} nor {{missing}}",
                                            loc, doc.line_text(loc.line), hint=f"did you mean {{{guess}}}?" if guess else None))
        if node is None or not effects_ok:
            continue
        then = resolved["then"]
        otherwise = resolved["otherwise"]
        rules.append(Rule(
            id=r["id"], section=r["section"], passage=" ".join(r["passage"].split()),
            reading=" ".join(r["reading"].split()) if r.get("reading") else None,
            when_text=" ".join(r["when"].split()), when=node, then=then, otherwise=otherwise,
            severity=r["severity"],
            message=Message(_template(" ".join(r["message"]["sv"].split())), _template(" ".join(r["message"]["en"].split())), r["message"]),
            source=finding_source(cited, r["section"]),
            uses_history=any(isinstance(n, ast.Aggregate) for n in ast.walk(node)),
            decides=tuple(dict.fromkeys(list(then) + list(otherwise))),
            line=doc.location(rpath).line,
        ))

    valid_from = date.fromisoformat(str(d["valid_from"]))
    valid_to = date.fromisoformat(str(d["valid_to"])) if d.get("valid_to") else None
    if valid_to is not None and valid_to < valid_from:
        problems.append(doc.problem(Code.DATES, f"valid_to {valid_to} is before valid_from {valid_from}", ("valid_to",)))
    if problems or applies_node is None:
        return None, problems
    return PolicyVersion(
        id=d["id"], version=str(d["version"]), title=d["title"], issuer=d["issuer"], region=d["region"],
        valid_from=valid_from, valid_to=valid_to, source=dict(d["source"]), description=d.get("description"),
        applies_text=" ".join(d["applies_when"].split()), applies_when=applies_node,
        parameters=params, parameter_types=ptypes, rules=tuple(rules), file=doc.file, document=d,
        content_hash=text_hash(doc.text),
        places={key: (loc, doc.line_text(loc.line)) for key in ("id", "version", "valid_from", "valid_to")
                if (key,) in doc.nodes for loc in [doc.key_location((key,))]},
    ), []


def expected_place(path: Path, root: Path) -> tuple[str, str, str] | None:
    """(region, id, version) that a file's place under the policies root says it holds."""
    try:
        rel = path.relative_to(root)
    except ValueError:
        return None
    parts = rel.parts
    if len(parts) != 3 or not parts[2].endswith(".yaml"):
        return None
    return parts[0], parts[1], parts[2][: -len(".yaml")]
