"""The fast contact checker agrees with jsonschema on the contact schema."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from evaluator.resources import load_schema
from evaluator.running.contacts import check_contact

SCHEMA = load_schema("contact.schema.json")
VALIDATOR = Draft202012Validator(SCHEMA, format_checker=FormatChecker())

values = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 30), st.sampled_from(["", "x", "vgr", "VGR", "written", "fax", "bankid",
                                                                    "2025-02-30", "2025-01-30", "25-01-30", "08:00", "24:00", "care",
                                                                    "sk\u00f6terska", "sko\u0308terska"]),
    st.lists(st.sampled_from(["ZV051", "A1", "\u00c5", "A\u030a"]), max_size=2), st.lists(st.integers(0, 3), min_size=1, max_size=2),
    # at and past the whole numbers every JSON reader reads exactly (orjson reads 10^32 as 1e+32)
    st.sampled_from([2**53 - 1, 2**53, -(2**53 - 1), -(2**53), 1e300, 1e32, 3.0, 2.5]),
)
fields = st.sampled_from(list(SCHEMA["properties"]))


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(fields, values, max_size=10))
def test_fast_checker_agrees_with_jsonschema(record):
    typed, errors = check_contact(record)
    schema_ok = VALIDATOR.is_valid(record)
    # Required fields given as null are missing for both.
    assert (typed is not None) == schema_ok, (record, errors, [e.message for e in VALIDATOR.iter_errors(record)])


def test_each_error_names_its_field():
    typed, errors = check_contact({"id": "c", "patient": "p", "unit": "u", "region": "vgr", "date": "2025-02-30",
                                   "channel": "fax", "time": "25:00", "kva": "ZV051", "group": 1})
    assert typed is None
    assert {e["field"] for e in errors} == {"date", "channel", "time", "kva", "group"}


def test_group_defaults_to_false_and_dates_are_typed():
    typed, _ = check_contact({"id": "c", "patient": "p", "unit": "u", "region": "vgr", "date": "2025-03-01", "channel": "video"})
    assert typed["group"] is False and typed["date"].isoformat() == "2025-03-01"


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(fields, values, max_size=10))
def test_typing_in_place_gives_what_a_copy_gives_and_leaves_a_bad_record_alone(record):
    import copy

    original = copy.deepcopy(record)
    copied = check_contact(copy.deepcopy(record))
    mine = copy.deepcopy(record)
    in_place = check_contact(mine, copy=False)
    assert in_place == copied
    if in_place[0] is None:
        assert mine == original  # the errors were worded from the record as it came
    else:
        assert in_place[0] is mine


def test_in_place_keeps_the_date_text_when_a_later_field_is_wrong():
    record = {"id": "c", "patient": "p", "unit": "u", "region": "vgr", "date": "2025-03-01", "channel": "fax"}
    typed, errors = check_contact(record, copy=False)
    assert typed is None and [e["field"] for e in errors] == ["channel"] and record["date"] == "2025-03-01"


def test_whole_numbers_past_what_json_readers_read_exactly_are_refused():
    # orjson reads 10^32 as the float 1e+32, and a 64-bit overflow rounded: such a value may no
    # longer be the one sent, so it is refused with its field rather than decided on.
    base = {"id": "c", "patient": "p", "unit": "u", "region": "vgr", "date": "2025-03-01", "channel": "video"}
    for field, value in (("contact_type", 1e32), ("contact_type", -(2**53)), ("duration_minutes", 1e300)):
        typed, errors = check_contact({**base, field: value})
        assert typed is None and [e["field"] for e in errors] == [field], (field, value)
        assert VALIDATOR.is_valid({**base, field: value}) is False
    typed, errors = check_contact({**base, "contact_type": 2**53 - 1, "duration_minutes": 9.007199254740991e15})
    assert errors == [] and typed["contact_type"] == 2**53 - 1 and typed["duration_minutes"] == 2**53 - 1


def test_a_value_not_in_its_form_is_told_the_form_in_words_not_as_a_pattern():
    base = {"id": "c", "patient": "p", "unit": "u", "region": "VGR", "date": "2025-03-01", "channel": "video",
            "time": "9:15"}
    _, errors = check_contact({**base, "kva": ["ZV051", 1]})
    assert {e["field"]: e["message"] for e in errors}["kva"] == "must be a list of texts; item 2 is 1"
    _, errors = check_contact(base)
    assert {e["field"]: e["message"] for e in errors} == {
        "region": "'VGR' is not in the expected form (a lower-case name: a letter a-z, then letters, digits, "
                  "- or _, as vgr or halland)",
        "time": "'9:15' is not in the expected form (HH:MM, from 00:00 to 23:59, as 09:15)"}


def test_a_time_with_seconds_or_past_23_59_is_told_so_in_plain_words():
    """A time is HH:MM (contract section 1). One written with seconds, or one that is no time
    of day (24:00, 25:00: a Parquet time column can hold them), was told only that it was not
    in the expected form; it now says which. Either is still invalid."""
    base = {"id": "c", "patient": "p", "unit": "u", "region": "vgr", "date": "2025-03-01", "channel": "video"}
    form = "(HH:MM, from 00:00 to 23:59, as 09:15)"
    for value, message in (("09:15:00", f"'09:15:00' has seconds: a time is hours and minutes only {form}"),
                           ("23:59:59.5", f"'23:59:59.5' has seconds: a time is hours and minutes only {form}"),
                           ("24:00", f"'24:00' is not a time of day {form}"),
                           ("25:00", f"'25:00' is not a time of day {form}"),
                           ("-00:00:05", f"'-00:00:05' is not a time of day {form}"),
                           ("09:60", f"'09:60' is not a time of day {form}"),
                           ("9:15", f"'9:15' is not in the expected form {form}")):
        typed, errors = check_contact({**base, "time": value})
        assert typed is None and errors == [{"field": "time", "message": message}], value
    assert check_contact({**base, "time": "23:59"})[1] == []


PERSONNUMMER_FORMS = ["19121212-1212", "121212-1212", "121212+1212", "1212121212", "191212121212",
                      "811228-9874", "811288-9871",  # the last: a samordningsnummer (day 28 + 60)
                      # white space around it, or for the dash, makes it no less one
                      " 19121212-1212", "19121212-1212\n", "19121212-1212 ", "\t121212-1212", "121212 1212",
                      "\u00a019121212-1212" + " " * 40]


def test_a_personnummer_as_patient_id_is_refused_without_being_repeated(repo, fixture_policies, tmp_path):
    import json

    from click.testing import CliRunner
    from conftest import chat

    from evaluator.cli import main
    from evaluator.loading.privacy import looks_like_personnummer

    for not_one in ("19121212-1213", "20001301-1234", "p1", "121212-121", "12121212121212", "abcdef-1234"):
        assert not looks_like_personnummer(not_one), not_one
    contacts = [chat(f"c{k}", "2025-03-04", patient=p) for k, p in enumerate(PERSONNUMMER_FORMS)]
    decisions = [*repo.evaluate(contacts), repo.evaluate_one(contacts[0]),
                 *repo.evaluate_lines([json.dumps(c) for c in contacts])]
    source = tmp_path / "in.ndjson"
    source.write_text("\n".join(json.dumps(c) for c in contacts) + "\n", encoding="utf-8")
    out = CliRunner().invoke(main, ["evaluate", str(source), "--policies", str(fixture_policies)])
    decisions += [json.loads(line) for line in out.stdout.splitlines()]
    assert len(decisions) == 3 * len(contacts) + 1
    for d in decisions:
        assert d["status"] == "invalid" and [e["field"] for e in d["errors"]] == ["patient"], d
        text = json.dumps(d)
        assert not any(p.strip() in text or p.strip().replace("-", "") in text for p in PERSONNUMMER_FORMS), text
    # a pseudonymous id that only has digits in it is not one
    assert repo.evaluate_one(chat("c", "2025-03-04", patient="1212121213"))["status"] == "decided"


BASE = {"id": "c1", "patient": "p1", "unit": "u1", "region": "vgr", "care_choice": "rehab",
        "date": "2025-03-01", "time": "08:15", "channel": "written", "dialogue": True}


def _eager_checker():
    from evaluator.running.contacts import ContactChecker

    checker = ContactChecker(SCHEMA)
    checker.layout_after = 1  # every layout gets its generated check at once
    return checker


EAGER = _eager_checker()


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from([*SCHEMA["properties"], "not_in_schema"]), values, max_size=6),
       st.lists(st.sampled_from(list(BASE)), max_size=2), st.booleans())
def test_generated_layout_check_gives_what_the_loop_gives(changes, dropped, shuffle):
    """The quick check generated for a record's layout (its field names in order) answers as
    the loop over the fields does: the same typed contact (same values, same field order) or
    the same errors, copied or in place, for valid records and for each kind of fault."""
    import copy

    record = {**BASE, **changes}
    for name in dropped:
        record.pop(name, None)
    if shuffle:
        record = dict(reversed(record.items()))
    checker = EAGER
    for in_place in (False, True):
        generated, looped = copy.deepcopy(record), copy.deepcopy(record)
        a = checker.check(generated, copy=not in_place)
        b = checker.loop_check(looped, copy=not in_place)
        assert tuple(record) in checker._layouts  # the generated check answered
        assert repr(a) == repr(b) and repr(generated) == repr(looped), record
        if a[0] is not None:
            assert list(a[0]) == list(b[0])


def test_a_layout_check_is_generated_after_repeats_and_holds_no_field_name():
    from evaluator.running import contacts

    checker = contacts.ContactChecker(SCHEMA)
    odd = {**BASE, "x'); import os; ('": 1}
    for _ in range(contacts.LAYOUT_AFTER - 1):
        assert checker.check(odd)[1] == []
    assert tuple(odd) not in checker._layouts  # the loop checked it so far
    typed, errors = checker.check(odd)
    assert errors == [] and tuple(odd) in checker._layouts
    source, _ = contacts.generate_layout_source(checker, tuple(odd))
    assert "import" not in source and "dialogue" not in source and "written" not in source
    assert typed == checker.loop_check(odd)[0]


NFD, NFC = "Sko\u0308vde va\u030ardcentral", "Sk\u00f6vde v\u00e5rdcentral"


def test_texts_are_compared_in_nfc_and_ids_kept_as_written():
    # "ö" written as "o" and a combining diaeresis (NFD: a Mac, a PDF) is the same text as "ö"
    # (NFC): a contact's texts are made NFC, as the policies' are; its ids are echoed as written.
    record = {**BASE, "id": "c\u0308", "patient": "p\u0308", "unit": NFD, "care_service": NFD, "kva": [NFD, "ZV051"],
              "method": NFC}
    for checker in (EAGER, _eager_checker()):
        for check in (checker.check, checker.loop_check, checker.full_check):
            typed, errors = check(dict(record))
            assert errors == []
            assert (typed["unit"], typed["care_service"], typed["kva"], typed["method"]) == (NFC, NFC, [NFC, "ZV051"], NFC)
            assert (typed["id"], typed["patient"]) == ("c\u0308", "p\u0308")

