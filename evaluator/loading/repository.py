"""Load a policy directory: every file checked, every problem reported, versions kept apart."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path

from ..errors import Code, Location, PolicyError, Problem
from ..language.checker import KEYWORDS
from ..language.types import (
    DECLARED_TYPES,
    Names,
    OutputSpec,
    field_types_from_schema,
    kind_problem,
)
from ..limits import from_settings as limits_for
from ..limits import using as using_limits
from ..resources import load_schema
from .facts import Fact, contact_schema_with, load_facts
from .policy import PolicyVersion, expected_place, read_version
from .privacy import identifying_fields
from .settings import LocateError, Settings, locate_policies
from .yamlsource import display_path, load_yaml

OUTPUTS_FILE = "outputs.yaml"
COMBINE_STRATEGIES = ("all", "single", "union")
OUTPUT_KINDS = ("yes/no", "whole number", "text", "list of texts")
TEST_SUFFIX = ".test.yaml"


@dataclass(frozen=True)
class Policy:
    """A policy and its versions, oldest first."""

    id: str
    versions: tuple[PolicyVersion, ...]

    def in_force_on(self, day: date) -> PolicyVersion | None:
        for v in self.versions:
            if v.in_force_on(day):
                return v
        return None

    @property
    def latest(self) -> PolicyVersion:
        return self.versions[-1]


@dataclass(frozen=True)
class PolicySet:
    """Every policy of a policy folder, checked, with what they were checked against: the
    outputs, the contact's fields (the contract's core and the repository's declared facts)."""

    root: Path
    outputs: dict[str, OutputSpec]
    policies: dict[str, Policy]
    fields: dict
    warnings: tuple[Problem, ...] = field(default=())
    settings: Settings = field(default_factory=lambda: Settings(None, {}))
    facts: dict[str, Fact] = field(default_factory=dict)
    contact_schema: dict = field(default_factory=dict)

    def versions(self):
        for policy in self.policies.values():
            yield from policy.versions


def _load_outputs(root: Path) -> tuple[dict[str, OutputSpec], list[Problem]]:
    path = root / OUTPUTS_FILE
    if not path.exists():
        return {}, [Problem(Code.OUTPUTS, f"{display_path(root)} has no {OUTPUTS_FILE}: the outputs a decision carries",
                            hint="regelverk init writes the standard one; copy it from there")]
    doc, problems = load_yaml(path, display_path(path))
    if doc is None or problems:
        return {}, problems
    outputs: dict[str, OutputSpec] = {}
    table = doc.value.get("outputs") if isinstance(doc.value, dict) else None
    if not isinstance(table, dict) or not table:
        return {}, [doc.problem(Code.OUTPUTS, "outputs.yaml must hold a mapping 'outputs' of output names")]
    for name, spec in table.items():
        p = ("outputs", name)
        if not isinstance(spec, dict):
            problems.append(doc.problem(Code.OUTPUTS, f"output '{name}' needs 'type' and 'combine'", p))
            continue
        t = DECLARED_TYPES.get(spec.get("type")) if isinstance(spec.get("type"), str) else None
        combine = spec.get("combine")
        if t is None:
            message, hint = kind_problem(spec.get("type"), OUTPUT_KINDS)
            problems.append(doc.problem(Code.OUTPUTS, f"output '{name}': {message}", p + ("type",), hint=hint))
            continue
        if combine not in COMBINE_STRATEGIES:
            problems.append(doc.problem(Code.OUTPUTS, f"output '{name}': combine must be one of {', '.join(COMBINE_STRATEGIES)}", p + ("combine",)))
            continue
        if (combine == "all") != (t.kind == "boolean") or (combine == "union") != (t.kind == "list"):
            problems.append(doc.problem(Code.OUTPUTS, f"output '{name}': '{combine}' does not combine a {t}", p + ("combine",)))
            continue
        outputs[name] = OutputSpec(name, t, combine, spec.get("description", ""))
    problems += _contract_problems(doc, table, outputs)
    return outputs, problems


# The JSON types of the decision schema's outputs, as outputs.yaml writes the kind of each.
_KIND_OF_JSON = {"boolean": "yes/no", "integer": "whole number", "string": "text", "array": "list of texts"}


def contract_outputs() -> dict[str, str]:
    """The outputs every decision carries (contract §3: "always all six keys"), and the kind
    of each, as the decision schema (schemas/decision.schema.json) requires them: a region's
    outputs.yaml may add outputs, but not drop one of these or give it another kind."""
    spec = load_schema("decision.schema.json")["properties"]["outputs"]
    kinds = {}
    for name in spec["required"]:
        json_type = next(t for t in spec["properties"][name]["type"] if t != "null")
        kinds[name] = _KIND_OF_JSON[json_type]
    return kinds


def _contract_problems(doc, table: dict, outputs: dict[str, OutputSpec]) -> list[Problem]:
    """An output of the contract that outputs.yaml leaves out (said at `outputs:`, naming
    each), or declares as another kind (said at its type): every decision would break the
    contract, and downstream systems built on it."""
    problems = []
    contract = contract_outputs()
    missing = [name for name in contract if name not in table]
    if missing:
        listed = ", ".join(missing)
        problems.append(doc.problem(
            Code.OUTPUTS, f"outputs.yaml lacks the contract's output{'s' if len(missing) > 1 else ''} {listed}: "
            f"every decision carries all of {', '.join(contract)}", ("outputs",), key=True,
            hint="declare " + ("them" if len(missing) > 1 else "it") + " as in the outputs.yaml regelverk init writes; "
                 "no rule need set an output"))
    for name, kind in contract.items():
        declared = outputs.get(name)
        if declared is not None and str(declared.type) != kind:
            problems.append(doc.problem(
                Code.OUTPUTS, f"output '{name}' is a {kind} in every decision (the contract), not a {declared.type}",
                ("outputs", name, "type"), hint=f"write type: {kind}"))
    return problems



def files_under(root: Path, pattern: str) -> list[Path]:
    """The files under `root` whose names match `pattern`, in order, skipping hidden files and
    folders below `root` (the folders above it may be anything, a .venv say)."""
    return sorted(p for p in root.rglob(pattern) if not any(part.startswith(".") for part in p.relative_to(root).parts))


def policy_files(root: Path) -> list[Path]:
    return [p for p in files_under(root, "*.yaml") if _is_policy_file(p)]


def _is_policy_file(path: Path) -> bool:
    """A *.yaml file that is no outputs file and no test file (by either name)."""
    return path.name != OUTPUTS_FILE and not path.name.endswith(TEST_SUFFIX) and test_file_name(path) is None


# Names other tools give test files (pytest's test_x.py, x_test.go, x-test.yaml): here they are
# NAME.test.yaml. Such a file is no policy (a version's file is named by its version).
_OTHER_TEST_NAME = re.compile(r"(?P<a>.+)[_-]test\.yaml|test[_-](?P<b>.+)\.yaml", re.IGNORECASE)


def test_file_name(path: Path, holds_cases: bool = False) -> str | None:
    """The name a policy test file that is named as other tools name theirs (v2_test.yaml,
    v2-test.yaml, test_v2.yaml), or that holds `cases:` under another name, should have:
    v2.test.yaml. None for any other file."""
    found = _OTHER_TEST_NAME.fullmatch(path.name)
    if found:
        return f"{found['a'] or found['b']}{TEST_SUFFIX}"
    return f"{path.stem}{TEST_SUFFIX}" if holds_cases else None


def _misnamed_test(path: Path, holds_cases: bool = False) -> Problem | None:
    name = test_file_name(path, holds_cases)
    if name is None:
        return None
    return Problem(Code.PLACE, f"this file is not read: test files are named NAME{TEST_SUFFIX}",
                   Location(display_path(path), 1, 1), hint=f"rename it to {name}")


def load_policy_set(root: Path | str | None = None, settings: Settings | None = None) -> tuple[PolicySet | None, list[Problem]]:
    """Load every policy version of a policy folder. `root`: the folder, or a path in it, as
    `settings.locate_policies` reads it (None: the repository of the current folder, else the
    bundled policies). `settings`: the repository whose facts the policies read, for a folder
    outside it (a copy being compared). Returns the set (None if any error) and all problems:
    errors, and warnings such as gaps between versions."""
    if settings is None:
        try:
            source = locate_policies(root)
        except LocateError as exc:
            return None, exc.problems or [Problem(Code.IO, exc.message, hint=exc.hint)]
        root, settings = source.root, source.settings
    root = Path(root)
    if not root.is_dir():
        return None, [Problem(Code.IO, f"{root} is not a folder of policies")]
    # Files and conditions are held to the limits of the repository's settings (limits:).
    with using_limits(limits_for(settings)):
        return _load_policy_set(root, settings)


def _load_policy_set(root: Path, settings: Settings) -> tuple[PolicySet | None, list[Problem]]:
    core = field_types_from_schema(load_schema("contact.schema.json"))
    facts_file = settings.facts_file
    facts, problems = (load_facts(facts_file, core, KEYWORDS, required="facts" in settings.raw)
                       if facts_file is not None else ({}, []))
    outputs, found = _load_outputs(root)
    problems += found
    if any(p.severity == "error" for p in problems):
        # Every rule names outputs and facts: checked against none, each would be an error of
        # its own and bury the one that matters.
        return None, problems + [Problem(Code.OUTPUTS, "the policy files are checked once outputs.yaml and the facts load",
                                         severity="warning")]
    contact_schema = contact_schema_with(facts)
    fields = field_types_from_schema(contact_schema)
    names = Names(fields=fields, outputs=outputs)
    by_id: dict[str, list[PolicyVersion]] = {}
    yaml_files = files_under(root, "*.yaml")  # (the folder walked once for them)
    files = [p for p in yaml_files if _is_policy_file(p)]
    for path in files_under(root, "*.yml"):
        problems.append(Problem(Code.PLACE, "this file is not read: policy and test files end in .yaml",
                                Location(display_path(path), 1, 1),
                                hint=f"rename it to {test_file_name(path.with_suffix('.yaml')) or path.stem + '.yaml'}"))
    for path in yaml_files:
        if not path.name.endswith(TEST_SUFFIX) and (found := _misnamed_test(path)) is not None:
            problems.append(found)
    if not files:
        # Most likely the wrong folder: every contact would be no_policy, and CI would pass.
        problems.append(Problem(Code.EMPTY, f"{display_path(root)} holds no policy file",
                                hint="a policy version is a file <region>/<policy-id>/<version>.yaml in it"))
    for path in files:
        doc, found = load_yaml(path, display_path(path))
        problems.extend(found)
        if doc is None:  # a duplicate key is an error, but the rest of the file is still checked
            continue
        if isinstance(doc.value, dict) and "cases" in doc.value and "rules" not in doc.value:
            # policy tests under another name: said once, not as a policy that lacks every key
            problems.append(_misnamed_test(path, holds_cases=True))
            continue
        version, found = read_version(doc, names, outputs, identifying_fields(contact_schema))
        problems.extend(found)
        if version is None:
            continue
        place = expected_place(path, root)
        if place is None:
            problems.append(Problem(Code.PLACE, "a policy file belongs at policies/<region>/<policy-id>/<version>.yaml",
                                    Location(doc.file, 1, 1)))
        else:
            misplaced = False
            for key, want, got in (("region", place[0], version.region), ("id", place[1], version.id),
                                   ("version", place[2], version.version)):
                if want != got:
                    misplaced = True
                    problems.append(doc.problem(Code.PLACE, f"the file's {key} is '{got}' but its place says '{want}'", (key,),
                                                hint=f"move the file or change {key}"))
            if misplaced:
                # (a copy of 4.0.yaml saved as 5.0.yaml: its overlap with 4.0 is not news)
                continue
        by_id.setdefault(version.id, []).append(version)

    policies = {}
    warnings = []
    for pid in sorted(by_id):
        versions = _without_duplicates(pid, sorted(by_id[pid], key=lambda v: (v.valid_from, v.key)), problems)
        for a, b in pairwise(versions):
            if a.valid_to is None or a.valid_to >= b.valid_from:
                end = a.valid_to.isoformat() if a.valid_to else "open end"
                problems.append(b.problem(Code.OVERLAP,
                    f"{pid} versions {a.version} ({a.valid_from} – {end}) and {b.version} (from {b.valid_from}) are both in force on {b.valid_from}",
                    "valid_from", hint=f"end version {a.version} on {b.valid_from - timedelta(days=1)}: {_where_to_end(a)}"))
            elif a.valid_to + timedelta(days=1) < b.valid_from:
                gap_from, gap_to = a.valid_to + timedelta(days=1), b.valid_from - timedelta(days=1)
                warnings.append(b.problem(Code.GAP, f"{pid}: no version is in force from {gap_from} to {gap_to} (between {a.version} and {b.version})",
                                          "valid_from", severity="warning",
                                          hint=f"if version {b.version} should follow on, start it on {gap_from}, or end version "
                                               f"{a.version} on {gap_to}: {_where_to_end(a)}"))
            if a.key >= b.key:
                problems.append(b.problem(Code.VERSION_ORDER, f"{pid} version {b.version} starts after version {a.version} but has a lower number",
                                          "version"))
        policies[pid] = Policy(pid, tuple(versions))
    errors = [p for p in problems if p.severity == "error"]
    everything = sorted(problems + warnings, key=Problem.sort_key)
    if errors:
        return None, everything
    return PolicySet(root, outputs, policies, fields, tuple(warnings), settings, facts, contact_schema), everything


def _without_duplicates(pid: str, versions: list[PolicyVersion], problems: list[Problem]) -> list[PolicyVersion]:
    """The versions with one file per version number, and a problem at the `version` of every
    other file that has it. Numbers are compared as numbers (version_key): "3.0" and "3.00"
    are one version, not two that overlap and are out of order."""
    first: dict[tuple, PolicyVersion] = {}
    kept = []
    for v in versions:
        other = first.get(v.key)
        if other is None:
            first[v.key] = v
            kept.append(v)
        elif other.version == v.version:
            problems.append(v.problem(Code.DUPLICATE_VERSION, f"{pid} version {v.version} is defined twice (also in {other.file})",
                                      "version"))
        else:
            problems.append(v.problem(
                Code.DUPLICATE_VERSION, f"{pid} version {v.version} is the same version as {other.version} (in {other.file}): "
                f"a version is read as numbers, so {v.version} and {other.version} are one version defined twice",
                "version", hint="give one of them another number, or remove one file"))
    return kept


def _where_to_end(version: PolicyVersion) -> str:
    """Where a version's end date is written, or is to be written, for a hint."""
    place = version.places.get("valid_to")
    if place is not None:
        return f"its valid_to is at {place[0]}"
    return f"write valid_to in {version.file}"


def load_policies(root: Path | str | None = None, settings: Settings | None = None) -> PolicySet:
    """Load policies or raise PolicyError listing every error."""
    policy_set, problems = load_policy_set(root, settings)
    if policy_set is None:
        raise PolicyError([p for p in problems if p.severity == "error"])
    return policy_set
