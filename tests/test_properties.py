"""Properties over random histories: one contact with its history is the batch's last decision;
input order changes no decision; evaluation is deterministic."""

from __future__ import annotations

import random
from datetime import date, timedelta

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

START = date(2024, 11, 20)

contact_strategy = st.fixed_dictionaries(
    {
        "patient": st.sampled_from(["p1", "p2", "p3"]),
        "unit": st.sampled_from(["u1", "u2"]),
        "region": st.just("testland"),
        "day": st.integers(0, 120),
        "channel": st.sampled_from(["written", "written", "written", "physical", "video"]),
    },
    optional={
        "time": st.sampled_from(["08:00", "12:30", "16:45"]),
        "dialogue": st.booleans(),
        "documented": st.booleans(),
        "platform": st.just("sob"),
        "sob_activity": st.sampled_from(["administration", "care"]),
    },
)


def materialise(raw: list[dict]) -> list[dict]:
    out = []
    for i, r in enumerate(raw):
        c = dict(r)
        c["date"] = (START + timedelta(days=c.pop("day"))).isoformat()
        c["id"] = f"c{i}"
        out.append(c)
    return out


histories = st.lists(contact_strategy, min_size=1, max_size=25).map(materialise)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(histories)
def test_single_contact_equals_last_of_batch(repo, contacts):
    last = contacts[-1]
    history = [c for c in contacts[:-1] if c["patient"] == last["patient"]]
    assert repo.evaluate_one(last, history) == repo.evaluate(contacts)[-1]


@SETTINGS
@given(histories, st.randoms(use_true_random=False))
def test_shuffling_input_changes_no_decision(repo, contacts, rnd):
    # Distinct date-times per patient make the order total, so input order must not matter.
    seen = set()
    unique = []
    for c in contacts:
        key = (c["patient"], c["date"], c.get("time"))
        if key not in seen:
            seen.add(key)
            unique.append(c)
    shuffled = list(unique)
    rnd.shuffle(shuffled)
    original = {d["contact"]: d for d in repo.evaluate(unique)}
    again = {d["contact"]: d for d in repo.evaluate(shuffled)}
    assert original == again


@SETTINGS
@given(histories)
def test_evaluation_is_deterministic(repo, contacts):
    assert repo.evaluate(contacts) == repo.evaluate([dict(c) for c in contacts])


@SETTINGS
@given(histories)
def test_every_contact_gets_one_decision_in_order(repo, contacts):
    decisions = repo.evaluate(contacts)
    assert [d["contact"] for d in decisions] == [c["id"] for c in contacts]
    for d in decisions:
        assert d["status"] in ("decided", "no_policy")


def test_bundled_policies_single_equals_batch_on_random_data():
    """The same property on the bundled policies and a seeded mixed batch."""
    from evaluator import load_repository

    repo = load_repository()
    rnd = random.Random(7)
    contacts = []
    for i in range(300):
        region = rnd.choice(["vgr", "halland", "stockholm"])
        c = {"id": f"c{i}", "patient": f"p{rnd.randrange(8)}", "unit": rnd.choice(["u1", "u2"]), "region": region,
             "care_choice": {"vgr": "rehab", "halland": "narsjukvard", "stockholm": "vardval"}[region],
             "date": (date(2025, 2, 1) + timedelta(days=rnd.randrange(300))).isoformat(),
             "channel": rnd.choice(["written", "written", "physical", "video", "phone"])}
        for fact in ("dialogue", "content_equivalent_to_visit", "medical_assessment", "documented", "regular_staff"):
            if rnd.random() < 0.95:
                c[fact] = rnd.random() < 0.95
        contacts.append(c)
    batch = repo.evaluate(contacts)

    def key(i):
        c = contacts[i]
        return (c["date"], "time" in c, c.get("time", ""), i)

    for k in rnd.sample(range(len(contacts)), 60):
        history = [contacts[i] for i in range(len(contacts))
                   if contacts[i]["patient"] == contacts[k]["patient"] and key(i) < key(k)]
        assert repo.evaluate_one(contacts[k], history) == batch[k]


def _spoil(contacts: list[dict], how: list[int]) -> list:
    """The contacts with some spoilt as a batch can be: an earlier one reusing the last one's
    id, a date that is no date, a record that is no object, a field of the wrong type."""
    out: list = []
    last_id = contacts[-1]["id"]
    for c, k in zip(contacts[:-1], how, strict=False):
        c = dict(c)
        if k == 1:
            c["id"] = last_id
        elif k == 2:
            c["date"] = "31 February"
        elif k == 3:
            out.append(["not", "a", "contact"])
            continue
        elif k == 4:
            c["channel"] = 7
        out.append(c)
    return out


@SETTINGS
@given(histories, st.lists(st.sampled_from([0, 0, 0, 0, 1, 2, 3, 4]), min_size=25, max_size=25))
def test_single_contact_equals_last_of_batch_with_broken_history(repo, contacts, how):
    """Whether or not the contact's policies count earlier contacts (a contact none of whose
    versions does is decided without its history), broken records, later ones and a reused id
    in the history give the decision the batch gives its last record."""
    last = contacts[-1]
    history = _spoil(contacts, how)
    assert repo.evaluate_one(last, history) == repo.evaluate([*history, last])[-1]


@SETTINGS
@given(histories, st.lists(st.sampled_from([0, 0, 0, 0, 1, 2, 3, 4]), min_size=25, max_size=25))
def test_single_contact_owned_equals_copied(repo, contacts, how):
    """evaluate_one with `own` (the service's records, parsed for the request, typed in place)
    gives the decision it gives by default, broken history and all; by default the caller's
    records are left exactly as given."""
    history = _spoil(contacts, how)
    records = [*history, contacts[-1]]
    given = orjson.dumps(records)
    copied = repo.evaluate_one(records[-1], records[:-1])
    assert orjson.dumps(records) == given  # (the default changed nothing the caller holds)
    fresh = orjson.loads(given)
    assert repo.evaluate_one(fresh[-1], fresh[:-1], own=True) == copied


class _Unequal:
    """An id whose == gives no plain truth value (as pandas' NA or a NumPy array do)."""

    def __eq__(self, other):
        return self

    def __bool__(self):
        raise TypeError("no truth value")

    __hash__ = object.__hash__


def test_single_contact_with_history_ids_that_are_not_text(repo):
    """A history record whose id is no text takes no id (it is invalid), in evaluate_one as in
    a batch, whatever its == does; a one-pass iterator of history is read once."""
    last = {"id": "c9", "patient": "p1", "unit": "u1", "region": "testland", "date": "2025-01-10",
            "channel": "physical"}
    for odd in (_Unequal(), 9, None, ["c9"]):
        history = [{**last, "id": odd, "date": "2025-01-02"}]
        assert repo.evaluate_one(last, history) == repo.evaluate([*history, last])[-1]
    reused = [{**last, "date": "2025-01-02"}]
    assert repo.engine.evaluate_one(last, iter(reused)) == repo.evaluate([*reused, last])[-1]
    assert repo.engine.evaluate_one(last, iter(reused))["status"] == "invalid"


def _batch_text(contacts: list[dict], how: list[int], picks: list[int]) -> tuple[bytes, list[str]]:
    """The contacts as NDJSON with some spoilt: an id reused from an earlier contact (of any
    patient; `picks` chooses which), a date that is no date, a line that is not JSON, a record
    that is no object, a patient that is no text. Returns the text and the ids it holds."""
    import json

    lines = []
    for i, (c, k, pick) in enumerate(zip(contacts, how, picks, strict=False)):
        c = dict(c)
        if k == 1 and i:
            c["id"] = contacts[pick % i]["id"]
        elif k == 2:
            c["date"] = "31 February"
        elif k == 3:
            lines.append(b'{"id": "broken", ')
            continue
        elif k == 4:
            lines.append(b'["not", "a", "contact"]')
            continue
        elif k == 5:
            c["patient"] = 12
        lines.append(json.dumps(c).encode())
    return b"\n".join(lines) + b"\n", sorted({c["id"] for c in contacts})


@SETTINGS
@given(st.lists(contact_strategy, min_size=1, max_size=30).map(materialise),
       st.lists(st.sampled_from([0, 0, 0, 0, 0, 1, 1, 2, 3, 4, 5]), min_size=30, max_size=30),
       st.lists(st.integers(0, 29), min_size=30, max_size=30),
       st.integers(1, 7))
def test_explaining_from_a_file_holds_only_the_patient_and_says_what_the_whole_batch_says(repo, contacts, how, picks,
                                                                                          size):
    """explain_input (read up to three times, only the contact's patient and stand-ins for the
    inputs that first used the ids its contacts reuse) gives the decision, the trace and the typed contact
    that explaining the whole batch gives, for every id in it and one that is not; chunks of
    `size` records cross patients and reuses."""
    import io

    from evaluator.explaining.explain import trace_json
    from evaluator.running.formats import read_chunks
    from evaluator.running.ndjson import split_ndjson

    text, ids = _batch_text(contacts, how, picks)
    for cid in [*ids, "nobody"]:
        whole = repo.explain(split_ndjson(text), cid)
        part = repo.explain_input(lambda: read_chunks(io.BytesIO(text), "ndjson", size=size), cid)
        assert part[0] == whole[0]
        assert trace_json(part[1]) == trace_json(whole[1])
        assert part[2] == whole[2]
