"""The generated code against the reference interpreter (evaluator/compiling/reference.py): on random
conditions over random contacts and histories (unknown facts, count ranges), and on the bundled
policies over a sample of the benchmark's data."""

from __future__ import annotations

import importlib.util
import textwrap
from datetime import date, timedelta
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluator import load_repository
from evaluator.compiling.closures import Compiler
from evaluator.compiling.reference import decide_patient, outcome_of
from evaluator.language.parser import parse_condition

ROOT = Path(__file__).resolve().parent.parent


def reference_decisions(repo, records: list[dict]) -> list:
    """The reference's outcome of every record (all valid, ids unique), in input order."""
    checker = repo.engine.contact_checker
    groups: dict = {}
    for i, record in enumerate(records):
        typed, errors = checker.check(record, copy=True)
        assert not errors, errors
        groups.setdefault(typed["patient"], []).append(
            ((typed["date"], typed.get("time") is not None, typed.get("time") or "", i), typed))
    out: list = [None] * len(records)
    for items in groups.values():
        items.sort(key=lambda item: item[0])
        for (key, _), outcome in zip(items, decide_patient(repo.policy_set, [typed for _, typed in items]), strict=True):
            out[key[3]] = outcome
    return out


def assert_same(repo, records: list[dict]) -> None:
    decided = [outcome_of(d) for d in repo.evaluate([dict(r) for r in records])]
    expected = reference_decisions(repo, records)
    for record, got, want in zip(records, decided, expected, strict=True):
        assert got == want, record["id"]


# -- the bundled policies over the benchmark's data ----------------------------------------------

def _generator():
    spec = importlib.util.spec_from_file_location("bench_generate", ROOT / "benchmarks" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bundled_policies_on_a_benchmark_sample_decide_as_the_reference(tmp_path):
    out = tmp_path / "sample.ndjson"
    _generator().main(["--contacts", "4000", "--patients", "300", "--units", "10", "--seed", "3",
                       "--out", str(out), "--quiet"])
    records = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert len(records) >= 4000
    repo = load_repository()
    assert_same(repo, records)
    # the sample exercises what it should: every region's policies, caps that bite, unknown facts
    decided = repo.evaluate([dict(r) for r in records])
    results = {f["result"] for d in decided for f in d["findings"]}
    assert {"fired", "unknown"} <= results
    assert {p["id"] for d in decided for p in d["policies"]} >= {"vgr-rehab-written-contact", "halland-distance-contact"}


def test_decisions_emitted_as_lines_are_the_decisions_serialised(tmp_path):
    """A decision only emitted as its NDJSON line splices in JSON made once for what is the same
    in every decision (a `policies` entry, a finding no contact changes, the provenance): the
    line is byte for byte the decision dict the API returns, serialised."""
    out = tmp_path / "sample.ndjson"
    _generator().main(["--contacts", "3000", "--patients", "200", "--units", "10", "--seed", "5",
                       "--out", str(out), "--quiet"])
    lines = out.read_bytes().splitlines()
    repo = load_repository()
    decided = repo.evaluate([orjson.loads(line) for line in lines])
    emitted = repo.evaluate_to_ndjson(lines)
    assert [orjson.dumps(d).decode() for d in decided] == emitted
    # the sample has what is spliced: constant findings and several policies in one decision
    fired = [f for d in decided for f in d["findings"] if f["result"] == "fired" and not f["evidence"]]
    assert len({(f["policy"], f["rule"]) for f in fired}) >= 10
    assert any(len(d["policies"]) > 1 for d in decided)


# -- random conditions ------------------------------------------------------------------------------

OUTPUTS = textwrap.dedent("""\
    outputs:
      reimbursable: {type: yes/no, combine: all, description: r}
      distance_contact: {type: yes/no, combine: all, description: d}
      patient_fee: {type: yes/no, combine: all, description: f}
      contact_type: {type: whole number, combine: single, description: t}
      care_service: {type: text, combine: single, description: s}
      kva: {type: list of texts, combine: union, description: k}
    """)

BOOLS = ["dialogue", "documented", "booked"]
TEXTS = {"channel": ["written", "physical", "video"], "unit": ["u1", "u2"], "care_choice": ["a", "b"]}


def _text_test(draw, earlier: bool):
    name = draw(st.sampled_from(sorted(TEXTS)))
    value = draw(st.sampled_from(TEXTS[name]))
    kind = draw(st.sampled_from(["=", "!=", "in"]))
    if kind == "in":
        values = draw(st.lists(st.sampled_from(TEXTS[name]), min_size=1, max_size=2, unique=True))
        return f"{name} {draw(st.sampled_from(['in', 'not in']))} [{', '.join(f'{chr(34)}{v}{chr(34)}' for v in values)}]"
    return f'{name} {kind} "{value}"'


@st.composite
def filters(draw, depth=0):
    """A history filter: about the earlier contact, windows, `was`, `since latest`."""
    atoms = [
        lambda: draw(st.sampled_from(BOOLS)),
        lambda: _text_test(draw, True),
        lambda: f"same {draw(st.sampled_from(['unit', 'care_choice', 'channel', 'documented']))}",
        lambda: f"within {draw(st.integers(1, 20))} {draw(st.sampled_from(['days', 'weeks', 'months']))}",
        lambda: draw(st.sampled_from(["same iso week", "same month", "same year"])),
        lambda: f"was {draw(st.sampled_from(['reimbursable', 'distance_contact']))}",
        lambda: f"{draw(st.sampled_from(BOOLS))} is {draw(st.sampled_from(['known', 'missing']))}",
        lambda: f"current.{draw(st.sampled_from(BOOLS))} = {draw(st.sampled_from(BOOLS))}",
    ]
    if depth == 0:
        atoms.append(lambda: f"since latest ({draw(filters(depth=1))})")
    parts = [draw(st.sampled_from(atoms))() for _ in range(draw(st.integers(1, 3)))]
    joined = f" {draw(st.sampled_from(['and', 'or']))} ".join(f"({p})" for p in parts)
    return f"not ({joined})" if draw(st.booleans()) and depth else joined


@st.composite
def conditions(draw, depth=0):
    """A yes/no condition about the current contact and its history."""
    atoms = [
        lambda: draw(st.sampled_from(BOOLS)),
        lambda: _text_test(draw, False),
        lambda: f"{draw(st.sampled_from(BOOLS + sorted(TEXTS)))} is {draw(st.sampled_from(['known', 'missing']))}",
        lambda: (f"count of earlier contacts where ({draw(filters())}) "
                 f"{draw(st.sampled_from(['>=', '>', '<', '<=', '=', '!=']))} {draw(st.integers(0, 4))}"),
        lambda: f"{draw(st.sampled_from(['any earlier contact', 'no earlier contact']))} where ({draw(filters())})",
        lambda: (f"count of earlier contacts where ({draw(filters())}) {draw(st.sampled_from(['+', '-']))} "
                 f"count of earlier contacts where ({draw(filters())}) >= {draw(st.integers(-1, 3))}"),
        lambda: f"count of earlier contacts where ({draw(filters())}) in [{draw(st.integers(0, 2))}, {draw(st.integers(1, 4))}]",
        lambda: f"weekday(date) {draw(st.sampled_from(['<', '>=']))} {draw(st.integers(1, 7))}",
    ]
    if depth < 2:
        atoms.append(lambda: f"not ({draw(conditions(depth=depth + 1))})")
        atoms.append(lambda: draw(conditions(depth=depth + 1)))
    # a chain of one to three parts under one operator: `and`/`or` chains run as one loop
    parts = [draw(st.sampled_from(atoms))() for _ in range(draw(st.integers(1, 3)))]
    return f" {draw(st.sampled_from(['and', 'or']))} ".join(f"({p})" for p in parts)


def _policy(conds: list[str]) -> str:
    effects = [("{reimbursable: false}", "{reimbursable: true}"), ("{distance_contact: true}", "{}"),
               ("{contact_type: 1}", "{contact_type: 2}"), ('{kva: ["A"]}', '{kva: ["B"]}')]
    rules = []
    for i, cond in enumerate(conds):
        then, otherwise = effects[i % len(effects)]
        rules.append(f"  - id: r{i}\n    section: S\n    passage: P\n    when: {orjson.dumps(cond).decode()}\n"
                     f"    then: {then}\n    otherwise: {otherwise}\n    severity: info\n"
                     f"    message: {{sv: m, en: m}}\n")
    return ("id: gen\nversion: \"1.0\"\ntitle: T\nissuer: T\nregion: any\nvalid_from: 2020-01-01\n"
            "source: {seed: 000_x.txt, title: T}\napplies_when: 'region = \"x\"'\nrules:\n" + "".join(rules))


def repository(tmp: Path, conds: list[str]):
    (tmp / "any" / "gen").mkdir(parents=True, exist_ok=True)
    (tmp / "outputs.yaml").write_text(OUTPUTS, encoding="utf-8")
    (tmp / "any" / "gen" / "1.0.yaml").write_text(_policy(conds), encoding="utf-8")
    return load_repository(tmp)


sparse_bool = st.sampled_from([True, False, None])
contact = st.fixed_dictionaries({
    "patient": st.sampled_from(["p1", "p2"]),
    "unit": st.sampled_from(["u1", "u2"]),
    "day": st.integers(0, 70),
    "channel": st.sampled_from(["written", "physical", "video"]),
    "care_choice": st.sampled_from(["a", "b", None]),
    "dialogue": sparse_bool, "documented": sparse_bool, "booked": sparse_bool,
}, optional={"time": st.sampled_from(["08:00", "12:00"])})


def _records(raw: list[dict]) -> list[dict]:
    out = []
    for i, r in enumerate(raw):
        c = {k: v for k, v in r.items() if v is not None}
        c["date"] = (date(2025, 1, 1) + timedelta(days=c.pop("day"))).isoformat()
        c["id"], c["region"] = f"c{i}", "x"
        out.append(c)
    return out


def assert_same_one_by_one(repo, records) -> None:
    """assert_same, and evaluate_one replays the last contact's history the same way."""
    assert_same(repo, records)
    last = records[-1]
    history = [r for r in records[:-1] if r["patient"] == last["patient"]]
    expected = reference_decisions(repo, history + [last])[-1]
    assert outcome_of(repo.evaluate_one(dict(last), [dict(r) for r in history])) == expected


@pytest.mark.parametrize("seed", range(4))
def test_random_conditions_decide_as_the_reference(tmp_path_factory, seed):
    @settings(max_examples=30, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.lists(conditions(), min_size=1, max_size=4),
           st.lists(contact, min_size=1, max_size=25).map(_records))
    def check(conds, records):
        assert_same_one_by_one(repository(tmp_path_factory.mktemp(f"gen{seed}"), conds), records)

    check()


def test_count_ranges_and_unknown_facts_reach_the_comparison(tmp_path):
    """A fixed case that must give a range: two earlier contacts of unknown match."""
    repo = repository(tmp_path, ["count of earlier contacts where (documented) >= 2",
                                 "count of earlier contacts where (documented) in [1, 2]"])
    records = _records([
        {"patient": "p1", "unit": "u1", "day": 0, "channel": "written", "documented": None},
        {"patient": "p1", "unit": "u1", "day": 1, "channel": "written", "documented": True},
        {"patient": "p1", "unit": "u1", "day": 2, "channel": "written", "documented": None},
        {"patient": "p1", "unit": "u1", "day": 3, "channel": "written"},
    ])
    assert_same(repo, records)
    last = repo.evaluate(records)[-1]
    assert last["outputs"]["reimbursable"] is None  # 1..3 documented contacts: maybe 2
    assert ("gen", "r1", "unknown") in outcome_of(last).findings  # 1..3 in [1, 2]: unknown



def same_as_the_reference_on_random_histories(repo, contacts, examples: int) -> None:
    """assert_same_one_by_one on lists of up to 30 contacts drawn from `contacts`."""
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.lists(contacts, min_size=1, max_size=30).map(_records))
    def check(records):
        assert_same_one_by_one(repo, records)

    check()

# `since latest` anchors that a bucket of the history holds exactly (equalities on required
# fields, `was`): the engine takes the bucket's last contact instead of searching; others search.
BUCKET_ANCHORS = [
    'count of earlier contacts where (since latest (channel = "physical" and same unit)) >= 2',
    'count of earlier contacts where (channel = "written" and same unit and since latest (channel = "physical" and same unit)) >= 1',
    'any earlier contact where (since latest (was reimbursable) and channel = "video")',
    'count of earlier contacts where (since latest (channel = "physical" and same unit and was distance_contact)) < 2',
    'no earlier contact where (not since latest (unit = "u2"))',
    'count of earlier contacts where (since latest (channel = "physical" and documented)) >= 1',  # (searched)
]


def test_anchors_a_bucket_holds_are_found_in_it(tmp_path):
    """Such anchors are taken from their bucket (the first five here), the others searched
    for; either way the decisions are the reference's, in a batch and in evaluate_one."""
    repo = repository(tmp_path, BUCKET_ANCHORS)

    def bucket_of(text):  # (each anchor's bucket fields and key, or None)
        compiler = Compiler({}, False, frozenset({"unit", "channel"}), set())
        node = parse_condition(text)
        aggregate = node.left if hasattr(node, "left") else node
        return [a[4] for a in compiler._count_plan(aggregate).anchors]

    assert [b and b[0] for text in BUCKET_ANCHORS for b in bucket_of(text)] == [
        ("channel", "unit"), ("channel", "unit"), ("was:reimbursable",),
        ("channel", "unit", "was:distance_contact"), ("unit",), None]

    same_as_the_reference_on_random_histories(repo, contact, examples=60)


# Counts that are a subtraction over one bucket (closures.Subtraction): the generated code
# writes them out as statements (codegen.Body._subtraction) instead of calling closures. Every
# kind of date window, `since latest` anchors a bucket holds, a count inside arithmetic, and
# `>`/`<`/`in` around it.
WRITTEN_OUT_COUNTS = [
    'count of earlier contacts where (channel = "written" and same unit and same iso week) >= 1',
    'count of earlier contacts where (same unit and same month and was reimbursable) >= 1',
    'count of earlier contacts where (channel = "written" and same year) > 1',
    'count of earlier contacts where (same unit and within 10 days) < 2',
    'count of earlier contacts where (channel = "written" and within 3 weeks and same month) = 1',
    'count of earlier contacts where (was reimbursable and same unit and within 2 months and '
    'since latest (channel = "physical" and same unit)) >= 1',
    'count of earlier contacts where (same unit and since latest (channel = "physical" and same unit) '
    'and since latest (was distance_contact)) >= 1',
    'count of earlier contacts where (channel = "video") + count of earlier contacts where '
    '(same unit and same iso week) >= 2',
    'count of earlier contacts where (unit = "u1") in [1, 3]',
]

# Contacts on the days either side of the windows' edges: ISO weeks (2025-01-06 is a Monday),
# months, the turn of the year, 10 days and 3 weeks back.
edge_contact = st.fixed_dictionaries({
    "patient": st.just("p1"),
    "unit": st.sampled_from(["u1", "u2"]),
    "day": st.sampled_from([0, 4, 5, 6, 10, 11, 15, 16, 26, 30, 31, 32, 51, 52, 58, 59, 60, 363, 364, 365, 366]),
    "channel": st.sampled_from(["written", "physical", "video"]),
    "dialogue": sparse_bool, "documented": sparse_bool,
})


def test_counts_written_out_as_statements_decide_as_the_reference(tmp_path):
    """Each count above is one the generator writes out (so this test is about that code), and
    the decisions are the reference's, in a batch and in evaluate_one."""
    from evaluator.language import ast

    compiler = Compiler({}, False, frozenset({"unit", "channel"}), set())
    written = [compiler.subtraction(n) is not None for text in WRITTEN_OUT_COUNTS
               for n in ast.walk(parse_condition(text)) if isinstance(n, ast.Aggregate)]
    # (the arithmetic's first count, `channel = "video"` with no window, is one too)
    assert written == [True] * 10
    repo = repository(tmp_path, WRITTEN_OUT_COUNTS)
    source = repo.engine.program.of(next(iter(repo.policy_set.versions()))).code.source
    decide = source.split("def replay(")[0]
    assert decide.count("ctx.indexes") == 10

    same_as_the_reference_on_random_histories(repo, edge_contact, examples=80)


def test_dates_moved_beyond_the_calendar_decide_as_the_reference(tmp_path):
    """A policy that moves a date out of years 1 to 9999 (a long window, a date far ahead)
    decides every contact, as the reference does, instead of ending the run."""
    repo = repository(tmp_path, ["date + 9999 years > 2025-01-01",
                                 "count of earlier contacts where (within 99999 years) >= 1",
                                 "date - 5000 years < 2025-01-01",
                                 "count of earlier contacts where (same unit and within 8000 years) >= 2"])
    records = _records([{"patient": "p1", "unit": "u1", "day": d, "channel": "written"} for d in (0, 3, 9)])
    assert_same_one_by_one(repo, records)
    decisions = repo.evaluate(records)
    assert [d["status"] for d in decisions] == ["decided"] * 3
    assert decisions[-1]["outputs"]["distance_contact"] is True  # (two earlier contacts in the window)


def test_a_field_said_to_be_known_is_pinned_and_decides_as_the_reference(tmp_path):
    """applies_when `care_choice is known and care_choice = "a"` pins the optional fact: a
    contact without it, or with another value, does not try the version (its applies_when is
    false). Without `is known` the fact is not pinned: a contact lacking it leaves that
    applies_when unknown, which a finding reports."""
    def policy(pid: str, applies: str) -> str:
        return (f"id: {pid}\nversion: \"1.0\"\ntitle: T\nissuer: T\nregion: any\nvalid_from: 2020-01-01\n"
                f"source: {{seed: 000_x.txt, title: T}}\napplies_when: {orjson.dumps(applies).decode()}\nrules:\n"
                "  - id: r0\n    section: S\n    passage: P\n    when: 'dialogue'\n"
                "    then: {reimbursable: true}\n    otherwise: {reimbursable: false}\n    severity: info\n"
                "    message: {sv: m, en: m}\n")

    (tmp_path / "outputs.yaml").write_text(OUTPUTS, encoding="utf-8")
    for pid, applies in (("known", 'care_choice is known and care_choice = "a"'),
                         ("plain", 'region = "x" and care_choice = "b"')):
        (tmp_path / "any" / pid).mkdir(parents=True)
        (tmp_path / "any" / pid / "1.0.yaml").write_text(policy(pid, applies), encoding="utf-8")
    repo = load_repository(tmp_path)
    guards = {v.id: dict(g) for v, g in repo.engine.program.guards}
    assert guards == {"known": {"care_choice": {"a"}}, "plain": {"region": {"x"}}}

    def tried(**facts):
        typed, errors = repo.engine.contact_checker.check(
            {"id": "c", "patient": "p", "unit": "u", "region": "x", "date": "2025-01-01", "channel": "video", **facts})
        assert not errors
        return [v.id for v in repo.engine.candidates(typed, typed["date"])]

    assert tried() == tried(care_choice=None) == tried(care_choice="b") == ["plain"]
    assert tried(care_choice="a") == ["known", "plain"]
    # every value no guard allows keys the same entry: the remembered tables stay small
    key = repo.engine.program.dispatch_key
    assert len({key({"region": "x", "channel": "video", "care_choice": c}) for c in ("b", "c", "d", None)}) == 1
    assert key({"region": "x", "channel": "video"}) != key({"region": "x", "channel": "video", "care_choice": "a"})
    records = _records([{"patient": "p1", "unit": "u1", "day": k, "channel": "video", "care_choice": choice,
                         "dialogue": k % 2 == 0} for k, choice in enumerate(["a", None, "b", "c", "a", None])])
    records[5]["care_choice"] = None  # null is absent too
    assert_same(repo, records)
    decided = repo.evaluate([dict(r) for r in records])
    assert [d["status"] for d in decided] == ["decided", "no_policy", "decided", "no_policy", "decided", "no_policy"]
    assert decided[1]["findings"][0]["rule"] == "applies_when"  # "plain": unknown without the fact
    assert [f["policy"] for f in decided[1]["findings"]] == ["plain"]  # "known": false, not unknown
