"""The optimised engine against the plain reference (traced closures, every policy tried, no
history buckets, no remembered anchors, no early stops): random batches, the same decisions."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluator import load_repository
from evaluator.running.engine import Engine

BUNDLED = load_repository()
REFERENCE = Engine(BUNDLED.policy_set, reference=True)

maybe_bool = st.sampled_from([True, True, True, False, None])
contact = st.fixed_dictionaries(
    {
        "patient": st.sampled_from(["p1", "p2"]),
        "unit": st.sampled_from(["u1", "u2"]),
        "region": st.sampled_from(["vgr", "vgr", "halland", "stockholm"]),
        "care_choice": st.sampled_from(["rehab", "rehab", "narsjukvard", None]),
        "day": st.integers(0, 420),
        "channel": st.sampled_from(["written", "written", "physical", "video", "phone", "letter"]),
        "dialogue": maybe_bool, "content_equivalent_to_visit": maybe_bool, "medical_assessment": maybe_bool,
        "documented": maybe_bool, "regular_staff": maybe_bool, "replaces_physical_visit": maybe_bool,
        "fee_informed": maybe_bool, "booked": maybe_bool, "channel_meets_medical_need": maybe_bool,
    },
    optional={
        "time": st.sampled_from(["08:00", "13:15"]),
        "group": st.booleans(),
        "group_program": st.sampled_from(["kol", "artros", "stresskola", "yoga"]),
        "group_part": st.sampled_from(["theory", "training"]),
        "platform": st.just("sob"),
        "sob_activity": st.sampled_from(["administration", "care"]),
        "patient_preference": st.sampled_from(["physical", "digital", "none"]),
        "duration_minutes": st.integers(0, 30),
        "test_result_only": st.booleans(),
        "treatment_discussed": st.booleans(),
        "identity_verification": st.sampled_from(["bankid", "id_document", "none"]),
    },
)


def build(raw: list[dict]) -> list[dict]:
    out = []
    for i, r in enumerate(raw):
        c = {k: v for k, v in r.items() if v is not None}
        c["date"] = (date(2025, 1, 20) + timedelta(days=c.pop("day"))).isoformat()
        c["id"] = f"c{i}"
        out.append(c)
    return out


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(contact, min_size=1, max_size=40).map(build))
def test_optimised_engine_decides_as_the_reference(contacts):
    fast, _ = BUNDLED.engine.evaluate([dict(c) for c in contacts])
    plain, _ = REFERENCE.evaluate([dict(c) for c in contacts])
    assert fast == plain


def test_reference_and_optimised_agree_on_a_long_history():
    # One patient, many written contacts at one unit, a few physical visits: the caps' buckets,
    # the anchor memo and the early stops all come into play.
    contacts = []
    for i in range(360):  # every second day, all within VGR 4.0 (2025-01-30 – 2027-01-30)
        day = date(2025, 2, 1) + timedelta(days=i * 2)
        channel = "physical" if i % 37 == 0 else "written"
        contacts.append({"id": f"c{i}", "patient": "p", "unit": "u1" if i % 5 else "u2", "region": "vgr",
                         "care_choice": "rehab", "date": day.isoformat(), "channel": channel,
                         "dialogue": True, "content_equivalent_to_visit": True, "medical_assessment": True,
                         "documented": i % 11 != 0, "regular_staff": True})
    fast, _ = BUNDLED.engine.evaluate(contacts)
    plain, _ = REFERENCE.evaluate(contacts)
    assert fast == plain
    written = [d for d, c in zip(fast, contacts, strict=True) if c["channel"] == "written"]
    assert {d["outputs"]["reimbursable"] for d in written} == {True, False}


ADVERSARIAL = load_repository(Path(__file__).parent / "fixtures/adversarial")
ADVERSARIAL_REFERENCE = Engine(ADVERSARIAL.policy_set, reference=True)

sparse_bool = st.sampled_from([True, False, None, None])
adversarial_contact = st.fixed_dictionaries({
    "patient": st.sampled_from(["p1", "p2"]),
    "unit": st.sampled_from(["u1", "u2"]),
    "region": st.just("x"),
    "day": st.integers(0, 60),
    "channel": st.sampled_from(["written", "physical", "video"]),
    "care_choice": st.sampled_from(["a", "b", None]),
    "dialogue": sparse_bool, "documented": sparse_bool, "booked": sparse_bool,
}, optional={"time": st.sampled_from(["08:00", "12:00", None])})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(adversarial_contact, min_size=1, max_size=30).map(build))
def test_optimised_engine_decides_as_the_reference_on_adversarial_rules(contacts):
    fast, _ = ADVERSARIAL.engine.evaluate([dict(c) for c in contacts])
    plain, _ = ADVERSARIAL_REFERENCE.evaluate([dict(c) for c in contacts])
    assert fast == plain
    last = contacts[-1]
    history = [c for c in contacts[:-1] if c["patient"] == last["patient"]]
    key = lambda c: (c["date"], c.get("time") is not None, c.get("time") or "")  # noqa: E731
    earlier = [c for c in history if key(c) <= key(last)]
    # the last input line sorts after every earlier line of its day and time
    assert ADVERSARIAL.evaluate_one(last, earlier) == ADVERSARIAL.evaluate([dict(c) for c in earlier] + [dict(last)])[-1]
