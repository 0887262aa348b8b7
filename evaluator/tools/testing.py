"""Run YAML policy tests: each case decided with its history and compared field by field.

The run also records which rules the cases made fire and not fire (coverage)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from jsonschema import Draft202012Validator

from ..errors import Code, Location, Problem, closest
from ..language.types import type_of_value
from ..language.values import show
from ..limits import from_settings as limits_for
from ..limits import using as using_limits
from ..loading.repository import TEST_SUFFIX, PolicySet, files_under
from ..loading.schema import schema_problems
from ..loading.yamlsource import SourceDoc, display_path, load_yaml
from ..resources import load_schema
from ..running.contacts import ContactChecker
from ..running.engine import Engine


@dataclass
class CaseResult:
    file: str
    line: int
    name: str
    failures: list[tuple[str, object, object]]  # (what, expected, actual)
    decision: dict | None = None

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class Coverage:
    """For every rule of the versions measured (every loaded version, or those of the policies
    in `policies`): was it seen to fire, not fire, stay unknown."""

    seen: dict = field(default_factory=dict)  # (policy, version, rule) -> set of results
    policies: frozenset[str] | None = None  # the policies measured; None: all

    def add(self, key, result) -> None:
        self.seen.setdefault(key, set()).add(result)

    def table(self, policy_set: PolicySet) -> list[tuple[str, str, str, bool, bool, bool]]:
        rows = []
        for v in policy_set.versions():
            if self.policies is not None and v.id not in self.policies:
                continue
            for r in v.rules:
                got = self.seen.get((v.id, v.version, r.id), set())
                rows.append((v.id, v.version, r.id, True in got, False in got, None in got))
        return rows

    def percent(self, policy_set: PolicySet) -> float:
        rows = self.table(policy_set)
        if not rows:
            return 100.0
        covered = sum(int(f) + int(n) for _, _, _, f, n, _ in rows)
        return 100.0 * covered / (2 * len(rows))


@dataclass
class TestRun:
    results: list[CaseResult]
    problems: list[Problem]
    coverage: Coverage

    @property
    def passed(self) -> int:
        return sum(r.ok for r in self.results)

    @property
    def failed(self) -> int:
        return sum(not r.ok for r in self.results)

    @property
    def ok(self) -> bool:
        return not self.failed and not any(p.severity == "error" for p in self.problems)


def find_test_files(path: Path) -> list[Path]:
    """The policy test files `path` names: itself, if it is one (a *.test.yaml file; a policy
    file or outputs.yaml is none), or those under it."""
    if path.is_file():
        return [path] if path.name.endswith(TEST_SUFFIX) else []
    return files_under(path, f"*{TEST_SUFFIX}")


def policies_under(policy_set: PolicySet, path: Path) -> frozenset[str] | None:
    """The policies a test run of `path` measures: those whose folder lies under `path`, or
    holds it (a test file, a folder inside a policy's folder). None (all of them) when `path` is
    the policy root, or lies outside it."""
    root = policy_set.root.resolve()
    place = path.resolve()
    if place.is_file():
        place = place.parent
    if place == root or not place.is_relative_to(root):
        return None
    found = set()
    for v in policy_set.versions():
        folder = root / v.region / v.id
        if folder.is_relative_to(place) or place.is_relative_to(folder):
            found.add(v.id)
    return frozenset(found)


def _plain(value):
    """YAML dates and nested values as the JSON a downstream system would send."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def _rule_key(name: str, default_policy: str | None) -> tuple[str | None, str]:
    if "/" in name:
        pid, rule = name.split("/", 1)
        return pid, rule
    return default_policy, name


def load_cases(path: Path) -> tuple[SourceDoc | None, list[Problem]]:
    doc, problems = load_yaml(path, display_path(path))
    if doc is None or problems:
        return None, problems
    validator = Draft202012Validator(load_schema("policy-test.schema.json"))
    problems = schema_problems(doc, validator, Code.TEST_SCHEMA)
    return (None if problems else doc), problems



def contact_field_problems(doc: SourceDoc, policy_set: PolicySet) -> list[Problem]:
    """The test file's contacts (defaults, each case's contact and history) checked field by
    field against the contact's core fields and the repository's declared facts: a value of the
    wrong kind or outside its list is an error at the value; a field the contact has no such
    name for (most likely a misspelt fact) a warning at the key, with "did you mean". A case
    that expects its contact to be invalid is left alone: its bad values are the point."""
    checks = ContactChecker(policy_set.contact_schema).checks if policy_set.contact_schema else {}
    problems: list[Problem] = []
    spec = doc.value if isinstance(doc.value, dict) else {}
    places: list[tuple] = []
    if isinstance(spec.get("defaults"), dict):
        places.append(("defaults",))
    meant_invalid: set[tuple] = set()  # the history contacts a case means to be invalid
    for i, case in enumerate(spec.get("cases") or []):
        if not isinstance(case, dict):
            continue
        expect = case.get("expect") if isinstance(case.get("expect"), dict) else {}
        if not expects_invalid(expect):  # (a case about a bad contact: its bad values are the point)
            if isinstance(case.get("contact"), dict):
                places.append(("cases", i, "contact"))
        listed = set(expect.get("invalid_history") or [])
        for k, h in enumerate(case.get("history") or []):
            if isinstance(h, dict):
                places.append(("cases", i, "history", k))
                if _history_id(h, k) in listed:
                    meant_invalid.add(("cases", i, "history", k))
    for place in places:
        record = doc.value
        for step in place:
            record = record[step]
        for name, value in record.items():
            at = place + (name,)
            check = checks.get(name)
            if check is None:
                guess = closest(str(name), checks)
                problems.append(doc.problem(
                    Code.TEST_FIELD, f"'{name}' is neither a field of the contact nor a fact this repository declares",
                    at, key=True, severity="warning",
                    hint=f"did you mean '{guess}'?" if guess else "declare it in facts.yaml, or remove it"))
                continue
            if value is None or place in meant_invalid:  # (its bad values are the point of the case)
                continue
            _, wrong = check[2](_plain(value))
            if wrong is None:
                continue
            if "history" in place:
                who = _history_id(record, place[-1])
                problems.append(doc.problem(Code.TEST_FIELD, f"{name}: {wrong}; this earlier contact is invalid and "
                                            "takes no part in the history", at,
                                            hint=f"if that is the point of the case, say so: expect: {{invalid_history: [{who}]}}"))
            else:
                problems.append(doc.problem(Code.TEST_FIELD, f"{name}: {wrong}", at))
    return problems + history_order_problems(doc)


def expects_invalid(expect: dict) -> bool:
    """Whether a case says that its contact is invalid: `status: invalid`, or the `errors` it expects."""
    return expect.get("status") == "invalid" or bool(expect.get("errors"))


def _history_id(record: dict, index: int) -> str:
    """A history contact's id as the case runs it: its own, else h1, h2, … by its place."""
    given = record.get("id")
    return str(given) if given is not None else f"h{index + 1}"


def _order_key(record: dict) -> tuple | None:
    """Where a contact stands among its patient's contacts (contract §2): its date, then its
    time, a contact without one first on its day; None where the date is not a date."""
    day, time = _plain(record.get("date")), _plain(record.get("time"))
    if not isinstance(day, str) or not (time is None or isinstance(time, str)):
        return None
    return (day, time or "")


def later_history(spec: dict, case: dict) -> list[tuple[int, str, dict]]:
    """The history contacts of a case that do not come before its contact (a later date, or
    the same date and a later time, or a time where the contact has none): they take no part
    in its history, which holds earlier contacts only. Each as (its index, its id, the merged
    contact)."""
    defaults = _defaults(spec)
    contact = case.get("contact")
    if not isinstance(contact, dict):
        return []
    at = _order_key({**defaults, **contact})
    if at is None:
        return []
    found = []
    for k, h in enumerate(case.get("history") or []):
        if not isinstance(h, dict):
            continue
        record = {**defaults, **h}
        key = _order_key(record)
        if key is not None and key > at:
            found.append((k, _history_id(h, k), record))
    return found


def _defaults(spec: dict) -> dict:
    """A test file's `defaults`, the fields every case's contacts share ({} where there are none)."""
    return spec.get("defaults") if isinstance(spec.get("defaults"), dict) else {}


def _when(record: dict) -> str:
    day, time = _plain(record.get("date")), _plain(record.get("time"))
    return f"{day} {time}" if time else str(day)


def history_order_problems(doc: SourceDoc) -> list[Problem]:
    """A history contact dated after its case's contact: an error at it (the case would test a
    history without it; `regelverk test` fails such a case)."""
    spec = doc.value if isinstance(doc.value, dict) else {}
    problems = []
    defaults = _defaults(spec)
    for i, case in enumerate(spec.get("cases") or []):
        if not isinstance(case, dict):
            continue
        for k, who, record in later_history(spec, case):
            contact = {**defaults, **case["contact"]}
            problems.append(doc.problem(
                Code.TEST_HISTORY, f"history contact {who} ({_when(record)}) comes after the case's contact "
                f"({_when(contact)}), so it takes no part in its history: the history holds earlier contacts only",
                ("cases", i, "history", k), hint="date it before the contact, or move it out of the history"))
    return problems


def expectation_problems(doc: SourceDoc, policy_set: PolicySet) -> list[Problem]:
    """What a test file expects, checked against the policy set without running a case: the
    policy it names (`policy:`, `policies:`, `policy/rule`) exists, each rule it names is a
    rule of that policy, and each output it expects is declared and given a value of its kind.
    Each is an error at the name or value (`regelverk test` would fail the case for it)."""
    spec = doc.value if isinstance(doc.value, dict) else {}
    policies = policy_set.policies
    problems: list[Problem] = []

    def named_wrongly(place, key: bool, pid, rid=None) -> None:
        found = _unknown_name(policies, pid, rid)
        if found is not None:
            message, near, of_policy = found
            hint = (f"did you mean '{near}'?" if near
                    else f"policies: {', '.join(sorted(policies))}" if of_policy else None)
            problems.append(doc.problem(Code.TEST_NAME, message, place, key=key, hint=hint))

    default_policy = spec.get("policy") if isinstance(spec.get("policy"), str) else None
    if default_policy is not None:
        named_wrongly(("policy",), False, default_policy)
    for i, case in enumerate(spec.get("cases") or []):
        expect = case.get("expect") if isinstance(case, dict) else None
        if not isinstance(expect, dict):
            continue
        at = ("cases", i, "expect")
        for k, pid in enumerate(expect.get("policies") or []):
            if isinstance(pid, str):
                named_wrongly(at + ("policies", k), False, pid)
        named = [(at + (key, k), name, False) for key in ("fires", "does_not_fire", "unknown")
                 for k, name in enumerate(expect.get(key) or [])]
        named += [(at + (key, name), name, True) for key in ("evidence", "missing", "severities")
                  if isinstance(expect.get(key), dict) for name in expect[key]]
        for place, name, key in named:
            if not isinstance(name, str):
                continue
            pid, rid = _rule_key(name, default_policy)
            if "/" in name or pid is None or pid in policies:  # (a wrong `policy:` is told once, above)
                named_wrongly(place, key, pid, rid)
        history = [_history_id(h, k) for k, h in enumerate(case.get("history") or []) if isinstance(h, dict)]
        for k, who in enumerate(expect.get("invalid_history") or []):
            if isinstance(who, str) and who not in history:
                near = closest(who, history)
                problems.append(doc.problem(Code.TEST_NAME, f"the case's history has no contact '{who}'",
                                            at + ("invalid_history", k), hint=f"did you mean '{near}'?" if near
                                            else (f"its history: {', '.join(history)}" if history else "it has no history")))
        outputs = expect.get("outputs")
        for name, value in (outputs.items() if isinstance(outputs, dict) else ()):
            spec_of = policy_set.outputs.get(name)
            if spec_of is None:
                near = closest(str(name), policy_set.outputs)
                problems.append(doc.problem(Code.TEST_NAME, f"there is no output '{name}'", at + ("outputs", name),
                                            key=True, hint=f"did you mean '{near}'?" if near
                                            else f"outputs: {', '.join(policy_set.outputs)}"))
                continue
            given = type_of_value(_plain(value))
            if value is not None and (given is None or given.kind != spec_of.type.kind
                                      or (given.kind == "list" and value and given.element != spec_of.type.element)):
                problems.append(doc.problem(
                    Code.TEST_NAME, f"output '{name}' takes a {spec_of.type} (or null), not {show(_plain(value))}",
                    at + ("outputs", name)))
    return problems


def run_case(engine: Engine, doc: SourceDoc, index: int, coverage: Coverage | None) -> CaseResult:
    spec = doc.value
    default_policy = spec.get("policy")
    defaults = _plain(spec.get("defaults") or {})
    case = spec["cases"][index]
    line = doc.location(("cases", index)).line
    records = []
    for i, h in enumerate(case.get("history") or []):
        record = {**defaults, **_plain(h)}
        record.setdefault("id", f"h{i + 1}")
        records.append(record)
    contact = {**defaults, **_plain(case["contact"])}
    contact.setdefault("id", "contact")
    records.append(contact)
    decisions, traces = engine.evaluate(records, explain={contact["id"]})
    trace = traces.get(contact["id"], (None, []))[1]
    # The expectations are checked on the decision of the ordinary (fast, optimised) path; the
    # explained run gives the rules' results and must reach the same decision.
    decision = engine.evaluate(records)[0][-1]
    results: dict = {}
    rule_info: dict = {}
    for vt in trace or []:
        for rt in vt.rules:
            results[(vt.policy, rt.rule.id)] = rt.result
            rule_info[(vt.policy, rt.rule.id)] = rt
            if coverage is not None:
                coverage.add((vt.policy, vt.version.version, rt.rule.id), rt.result)
    expect = case["expect"]
    failures: list = []
    if decision != decisions[-1]:
        failures.append(("the explained decision", decisions[-1], decision))

    def check(what, expected, actual):
        if expected != actual:
            failures.append((what, expected, actual))

    if "status" in expect:
        check("status", expect["status"], decision["status"])
    for name, value in (expect.get("outputs") or {}).items():
        if name not in decision["outputs"]:
            failures.append((f"outputs.{name}", value, "(no such output)"))
            continue
        want = _plain(value)
        got = decision["outputs"][name]
        if isinstance(want, list) and isinstance(got, list):
            want = sorted(want)
        check(f"outputs.{name}", want, got)
    if "policies" in expect:
        check("policies", sorted(expect["policies"]), sorted(p["id"] for p in decision["policies"]))
    for key, want in (("fires", True), ("does_not_fire", False), ("unknown", None)):
        if key in expect and not expect[key] and want is not False:
            # `fires: []` / `unknown: []`: no rule (of the file's policy, if it names one) may.
            hits = sorted(f"{pid}/{rid}" for (pid, rid), res in results.items()
                          if res is want and (default_policy is None or pid == default_policy))
            check(key, [], hits)
        for name in expect.get(key) or []:
            rk = _rule_key(name, default_policy)
            if rk not in results:
                failures.append((f"{key}: {name}", "the rule to be tried", _not_tried(engine, rk)))
                continue
            label = {True: "fires", False: "does not fire", None: "unknown"}
            check(f"rule {name}", label[want], label[results[rk]])
    for name, ids in (expect.get("evidence") or {}).items():
        rk = _rule_key(name, default_policy)
        rt = rule_info.get(rk)
        check(f"evidence of {name}", sorted(ids), sorted(e.id for e in rt.evidence) if rt else None)
    for name, fields in (expect.get("missing") or {}).items():
        rk = _rule_key(name, default_policy)
        rt = rule_info.get(rk)
        check(f"missing facts of {name}", sorted(fields), sorted(rt.missing) if rt else None)
    for name, severity in (expect.get("severities") or {}).items():
        pid, rid = _rule_key(name, default_policy)
        found = [f["severity"] for f in decision["findings"] if f["rule"] == rid and (pid is None or f["policy"] == pid)]
        check(f"severity of {name}", severity, found[0] if found else None)
    if "errors" in expect:
        check("errors", sorted(expect["errors"]), sorted(str(e.get("field")) for e in decision["errors"]))
    # A contact the case did not mean to be invalid (a field missing from the defaults, a
    # misspelt value) fails the case, with why it is invalid: its outputs are all null, which
    # an expectation of null would otherwise take for the rule's doing. A case means it by
    # `status: invalid` or `errors` (its contact), or `invalid_history` (an earlier contact).
    meant = set(expect.get("invalid_history") or [])
    for record, made in zip(records, decisions, strict=True):
        who = "the contact" if record is contact else f"history contact {record.get('id')}"
        if made["status"] == "invalid":
            if (expects_invalid(expect) if record is contact else str(record.get("id")) in meant):
                continue
            why = "; ".join(f"{e['field']}: {e['message']}" if e.get("field") else e["message"] for e in made["errors"])
            failures.append((who, "a valid contact", f"invalid ({why})"))
        elif record is not contact and str(record.get("id")) in meant:
            failures.append((who, "invalid (invalid_history)", "a valid contact"))
    for _, who, record in later_history(spec, case):
        failures.append((f"history contact {who}", "earlier than the contact",
                         f"{_when(record)}, after the contact ({_when(contact)}): not in its history"))
    return CaseResult(doc.file, line, case["name"], failures, decision)


def _not_tried(engine: Engine, key: tuple) -> str:
    """Why a rule named in a case was not tried: no such policy, no such rule, or not applied."""
    found = _unknown_name(engine.policy_set.policies, *key)
    if found is None:
        return "the rule was not tried: its policy did not apply to the contact"
    message, near, _ = found
    return message + (f" (did you mean '{near}'?)" if near else "")


def _unknown_name(policies: dict, pid: str | None, rid: str | None = None) -> tuple[str, str | None, bool] | None:
    """Where a test names no policy (pid None), a policy there is not, or (with `rid`) a rule
    that policy does not have: (what is wrong, the closest name there is, whether it is the
    policy that is wrong). None where the names are right."""
    if pid is None:
        return "name the policy: policy/rule, or `policy:` at the top of the file", None, True
    if pid not in policies:
        return f"there is no policy '{pid}'", closest(pid, policies), True
    if rid is not None:
        rules = {r.id for v in policies[pid].versions for r in v.rules}
        if rid not in rules:
            return f"there is no rule '{rid}' in {pid}", closest(rid, rules), False
    return None


def run_tests(policy_set: PolicySet, path: Path) -> TestRun:
    engine = Engine(policy_set)
    coverage = Coverage(policies=policies_under(policy_set, path))
    results: list[CaseResult] = []
    problems: list[Problem] = []
    files = find_test_files(path)
    if not files:
        what = (f"{path} is not a policy test file (a test file's name ends in {TEST_SUFFIX})" if path.is_file()
                else f"no *{TEST_SUFFIX} files under {path}")
        problems.append(Problem(Code.NO_TESTS, what, Location(str(path), 1, 1)))
    held_to = limits_for(policy_set.settings)  # the repository's limits: (read_settings checks them)
    for file in files:
        with using_limits(held_to):
            doc, found = load_cases(file)
        problems.extend(found)
        if doc is None:
            continue
        for i in range(len(doc.value["cases"])):
            results.append(run_case(engine, doc, i, coverage))
    return TestRun(results, problems, coverage)
