"""A region's own policy repository: `init`, the one meaning of "the policies", declared facts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from evaluator import PolicyError, load_repository
from evaluator.cli import main
from evaluator.loading.repository import load_policy_set
from evaluator.loading.settings import LocateError, locate_policies

EXAMPLE = Path("policies/sorland/sorland-distance-contact/1.0.yaml")

# A policy of the region that reads two facts the repository declares: the patient's birth date
# (an age on the contact's date) and the profession of the staff member.
YOUTH_POLICY = """\
# yaml-language-server: $schema=../../../schemas/policy.schema.json
id: sorland-youth-video
version: "1.0"
title: Videobesök för unga
issuer: Region Sörland
region: sorland
valid_from: 2026-01-01
source:
  title: Riktlinje för videobesök för barn och unga
  document_id: RS-2026-17
applies_when: region = "sorland" and channel = "video"
parameters:
  max_age: 19
  senior_age: 85
rules:
  - id: youth-free-of-charge
    section: Avgifter
    passage: Patienter till och med 19 år betalar ingen avgift.
    reading: Up to and including 19 years old on the contact's date.
    when: years_between(birth_date, date) <= max_age
    then: {patient_fee: false}
    otherwise: {patient_fee: true}
    severity: info
    message:
      sv: Patienten är högst {max_age} år och betalar ingen avgift.
      en: The patient is at most {max_age} years old and pays no fee.
  - id: senior-needs-physiotherapist
    section: Äldre
    passage: Patienter 85 år eller äldre ska få videobesöket av fysioterapeut.
    reading: 85 or older on the contact's date.
    when: years_between(birth_date, date) >= senior_age and profession != "fysioterapeut"
    then: {reimbursable: false}
    severity: error
    message:
      sv: Patienter {senior_age} år eller äldre ska få besöket av fysioterapeut.
      en: Patients aged {senior_age} or older are to be seen by a physiotherapist.
"""

YOUTH_TESTS = """\
policy: sorland-youth-video
defaults: {patient: p1, unit: u1, region: sorland, channel: video, date: 2026-03-15}
cases:
  - name: 19 on the day is still free of charge
    contact: {id: a, birth_date: 2006-03-16}
    expect: {outputs: {patient_fee: false}, fires: [youth-free-of-charge]}
  - name: 20 on the day pays
    contact: {id: b, birth_date: 2006-03-15, profession: arbetsterapeut}
    expect: {outputs: {patient_fee: true}, does_not_fire: [youth-free-of-charge, senior-needs-physiotherapist]}
  - name: 85 seen by an occupational therapist is not reimbursed
    contact: {id: c, birth_date: 1941-03-15, profession: arbetsterapeut}
    expect: {outputs: {reimbursable: false}, fires: [senior-needs-physiotherapist]}
  - name: 84 is not yet
    contact: {id: d, birth_date: 1941-03-16, profession: arbetsterapeut}
    expect: {does_not_fire: [senior-needs-physiotherapist]}
  - name: no birth date, no answer
    contact: {id: e}
    expect: {outputs: {patient_fee: null}, unknown: [youth-free-of-charge]}
"""

FACTS = """\
facts:
  interpreter_used:
    type: yes/no
    description: {sv: En tolk deltog i kontakten, en: An interpreter took part in the contact}
  birth_date:
    type: date
    description: {sv: Patientens födelsedatum, en: The patient's date of birth}
  profession:
    type: one of
    values: [fysioterapeut, arbetsterapeut, dietist]
    description: {sv: Yrket hos den som gav kontakten, en: The profession of the staff member}
"""


def run(*args, cwd: Path | None = None, monkeypatch=None, input=None):
    if cwd is not None:
        monkeypatch.chdir(cwd)
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


@pytest.fixture
def region(tmp_path, monkeypatch) -> Path:
    """A repository started by `regelverk init`, run from the folder above it."""
    monkeypatch.chdir(tmp_path)
    result = run("init", "sorland-policies", "--region", "sorland", "--requirement", "regelverk==0.1.0")
    assert result.exit_code == 0, result.output
    return tmp_path / "sorland-policies"


def test_init_writes_a_repository_that_passes_its_own_checks(region, monkeypatch):
    for name in ("regelverk.yaml", "facts.yaml", "policies/outputs.yaml", EXAMPLE.as_posix(),
                 ".github/workflows/policies.yml", ".pre-commit-config.yaml", ".vscode/settings.json",
                 "schemas/policy.schema.json", "schemas/contact.schema.json", "requirements.txt", "README.md"):
        assert (region / name).is_file(), name
    assert "regelverk==0.1.0" in (region / "requirements.txt").read_text(encoding="utf-8")
    # The editor's schemas carry the declared facts.
    contact = json.loads((region / "schemas/contact.schema.json").read_text(encoding="utf-8"))
    assert contact["properties"]["interpreter_used"]["x-declared"] is True
    settings = json.loads((region / ".vscode/settings.json").read_text(encoding="utf-8"))
    for schema in settings["yaml.schemas"]:
        assert (region / schema).is_file(), schema
    # Every command of its CI passes, run in the repository.
    assert run("validate", cwd=region, monkeypatch=monkeypatch).exit_code == 0
    assert run("fmt", "--check", cwd=region, monkeypatch=monkeypatch).exit_code == 0
    assert run("schemas", "--check", cwd=region, monkeypatch=monkeypatch).exit_code == 0
    result = run("test", "--min-coverage", "100", cwd=region, monkeypatch=monkeypatch)
    assert result.exit_code == 0 and "4 passed, 0 failed" in result.output
    # A second init never writes over it.
    result = run("init", ".", "--region", "sorland", cwd=region, monkeypatch=monkeypatch)
    assert result.exit_code == 2 and "is a policy repository already" in result.output


def test_init_refuses_a_region_that_is_no_slug(tmp_path, monkeypatch):
    result = run("init", tmp_path / "x", "--region", "Sörland", cwd=tmp_path, monkeypatch=monkeypatch)
    assert result.exit_code == 2 and "is not a region slug" in result.output
    assert not (tmp_path / "x").exists()


def test_init_takes_a_region_slug_with_an_underscore(tmp_path, monkeypatch):
    """A region slug may hold '_' (vastra_gotaland), a policy id may not: the example policy is
    vastra-gotaland-distance-contact, and the repository passes its checks. (init wrote its
    files, then failed its own example with exit 3, and could not be run again.)"""
    result = run("init", "vg", "--region", "vastra_gotaland", cwd=tmp_path, monkeypatch=monkeypatch)
    assert result.exit_code == 0, result.output
    example = tmp_path / "vg/policies/vastra_gotaland/vastra-gotaland-distance-contact"
    assert (example / "1.0.yaml").is_file() and (example / "vastra-gotaland-distance-contact.test.yaml").is_file()
    assert run("validate", cwd=tmp_path / "vg", monkeypatch=monkeypatch).exit_code == 0
    result = run("test", "--min-coverage", "100", cwd=tmp_path / "vg", monkeypatch=monkeypatch)
    assert result.exit_code == 0 and "4 passed, 0 failed" in result.output


def test_init_whose_files_do_not_load_leaves_nothing_written(tmp_path, monkeypatch):
    """Should init's own example ever fail its checks, what it wrote is taken back (the folder
    it was asked to start in stays), so that it can be run again."""
    from evaluator.tools import init as init_tool

    monkeypatch.setattr(init_tool, "example_id", lambda region: "Not_An_Id")
    (tmp_path / "r").mkdir()
    result = run("init", "r", "--region", "sorland", cwd=tmp_path, monkeypatch=monkeypatch)
    assert result.exit_code == 3
    assert "nothing is left written" in result.output
    assert list((tmp_path / "r").iterdir()) == []


def test_schemas_check_notices_a_fact_added_since(region, monkeypatch):
    _add_youth_policy(region)
    result = run("schemas", "--check", cwd=region, monkeypatch=monkeypatch)
    assert result.exit_code == 1 and "out of date: schemas/contact.schema.json" in result.output
    assert run("schemas", cwd=region, monkeypatch=monkeypatch).exit_code == 0
    assert run("schemas", "--check", cwd=region, monkeypatch=monkeypatch).exit_code == 0


def _add_youth_policy(region: Path) -> None:
    (region / "facts.yaml").write_text(FACTS, encoding="utf-8")
    folder = region / "policies/sorland/sorland-youth-video"
    folder.mkdir(parents=True)
    (folder / "1.0.yaml").write_text(YOUTH_POLICY, encoding="utf-8")
    (folder / "sorland-youth-video.test.yaml").write_text(YOUTH_TESTS, encoding="utf-8")


def _contacts(path: Path) -> Path:
    base = {"patient": "p9", "unit": "u1", "region": "sorland", "date": "2026-03-15", "channel": "video",
            "dialogue": True, "interpreter_used": False}
    rows = [
        {**base, "id": "young", "birth_date": "2006-03-16"},
        {**base, "id": "old", "birth_date": "1941-03-15", "profession": "arbetsterapeut"},
        {**base, "id": "unknown-age"},
        {**base, "id": "bad-date", "birth_date": "2006-02-30"},
        {**base, "id": "bad-profession", "birth_date": "1990-01-01", "profession": "kurator"},
        {**base, "id": "bad-kind", "interpreter_used": "ja"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_a_policy_reading_declared_facts_through_every_command(region, tmp_path, monkeypatch):
    _add_youth_policy(region)
    contacts = _contacts(tmp_path / "contacts.ndjson")
    for where, policies in ((region, ()), (region / "policies/sorland", ()), (tmp_path, ("--policies", region / "policies"))):
        monkeypatch.chdir(where)
        target = () if where != tmp_path else (region,)
        result = run("validate", *target)
        assert result.exit_code == 0, result.output
        result = run("test", *(target or ()), "--min-coverage", "100") if where != tmp_path else \
            run("test", region / "policies", "--min-coverage", "100")
        assert result.exit_code == 0 and "9 passed, 0 failed" in result.output, result.output
        result = run("evaluate", contacts, *policies)
        assert result.exit_code == 0, result.output
        decisions = {d["contact"]: d for d in map(json.loads, result.stdout.splitlines())}
        assert decisions["young"]["outputs"]["patient_fee"] is False
        assert decisions["old"]["outputs"]["reimbursable"] is False
        assert decisions["unknown-age"]["outputs"]["patient_fee"] is None  # unknown, never false
        assert [f["missing"] for f in decisions["unknown-age"]["findings"] if f["rule"] == "youth-free-of-charge"] == [["birth_date"]]
        assert decisions["bad-date"]["errors"] == [{"field": "birth_date", "message": "2006-02-30 is not a real date"}]
        assert decisions["bad-profession"]["status"] == "invalid"
        assert decisions["bad-profession"]["errors"][0]["field"] == "profession"
        assert "fysioterapeut, arbetsterapeut, dietist" in decisions["bad-profession"]["errors"][0]["message"]
        assert decisions["bad-kind"]["errors"][0]["field"] == "interpreter_used"
        result = run("explain", contacts, "--contact", "unknown-age", "--lang", "sv", *policies)
        assert result.exit_code == 0 and "birth_date (Patientens födelsedatum)" in result.output
        result = run("render", "--format", "md", "--out", tmp_path / "site", *policies)
        assert result.exit_code == 0
        index = (tmp_path / "site" / "index.md").read_text(encoding="utf-8")
        assert "`profession` | one of fysioterapeut, arbetsterapeut, dietist" in index
        result = run("diff", region / EXAMPLE, region / "policies/sorland/sorland-youth-video/1.0.yaml")
        assert result.exit_code == 0, result.output
        assert run("schemas", "--out", tmp_path / "schemas", *policies).exit_code == 0
        contact = json.loads((tmp_path / "schemas" / "contact.schema.json").read_text(encoding="utf-8"))
        assert contact["properties"]["profession"]["enum"] == ["fysioterapeut", "arbetsterapeut", "dietist", None]


def test_the_python_api_uses_the_repository_it_runs_in(region, monkeypatch):
    _add_youth_policy(region)
    monkeypatch.chdir(region / "policies")
    repo = load_repository()
    assert sorted(repo.policy_set.policies) == ["sorland-distance-contact", "sorland-youth-video"]
    decision = repo.evaluate_one({"id": "x", "patient": "p", "unit": "u", "region": "sorland", "date": "2026-03-15",
                                  "channel": "video", "birth_date": "2010-01-01"})
    assert decision["outputs"]["patient_fee"] is False


BROKEN_CONDITION = "when: not dialog\n"


@pytest.mark.parametrize("args, code", [
    (["validate"], 1), (["test"], 3), (["evaluate", "{contacts}"], 3), (["explain", "{contacts}", "--contact", "a"], 3),
    (["policies"], 3), (["render", "--out", "{tmp}/site"], 3), (["diff", "sorland-distance-contact", "sorland-distance-contact"], 3),
    (["new-version", "sorland-distance-contact", "--from", "2027-01-01"], 3), (["serve", "--port", "0"], 3),
    (["schemas"], 3),
])
def test_every_command_reports_the_broken_policy_of_the_repository_it_runs_in(region, tmp_path, monkeypatch, args, code):
    policy = region / EXAMPLE
    policy.write_text(policy.read_text(encoding="utf-8").replace("when: not dialogue\n", BROKEN_CONDITION), encoding="utf-8")
    contacts = _contacts(tmp_path / "contacts.ndjson")
    args = [a.replace("{contacts}", str(contacts)).replace("{tmp}", str(tmp_path)) for a in args]
    for where in (region, region / "policies" / "sorland"):
        result = run(*args, cwd=where, monkeypatch=monkeypatch)
        assert result.exit_code == code, (args, result.output)
        assert "1.0.yaml" in result.output and "dialog" in result.output, (args, result.output)
        assert "did you mean 'dialogue'" in result.output, (args, result.output)
        assert "bundled" not in result.output


def test_fmt_formats_the_repository_it_runs_in(region, monkeypatch):
    policy = region / EXAMPLE
    policy.write_text(policy.read_text(encoding="utf-8").replace("rules:\n", "rules: [\n", 1), encoding="utf-8")
    result = run("fmt", "--check", cwd=region / "policies", monkeypatch=monkeypatch)
    assert result.exit_code == 3 and "1.0.yaml" in result.output


def test_the_api_default_reports_the_broken_policy_of_the_repository(region, monkeypatch):
    policy = region / EXAMPLE
    policy.write_text(policy.read_text(encoding="utf-8").replace("when: not dialogue\n", BROKEN_CONDITION), encoding="utf-8")
    monkeypatch.chdir(region)
    with pytest.raises(PolicyError) as caught:
        load_repository()
    assert "did you mean 'dialogue'" in str(caught.value)


def test_outside_a_repository_the_bundled_policies_are_used_and_said(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = json.dumps({"id": "a", "patient": "p", "unit": "u", "region": "halland", "date": "2025-03-03",
                       "channel": "video"}) + "\n"
    result = CliRunner().invoke(main, ["evaluate"], input=line)
    assert result.exit_code == 0
    assert "using the policies bundled with regelverk" in result.stderr
    assert json.loads(result.stdout)["policies"][0]["id"] == "halland-distance-contact"
    assert locate_policies().origin == "bundled"


def test_a_folder_outside_any_repository_says_what_to_do(tmp_path, monkeypatch):
    stray = tmp_path / "stray"
    stray.mkdir()
    monkeypatch.chdir(tmp_path)
    for args in (["test", stray], ["validate", stray], ["evaluate", "--policies", stray]):
        result = run(*args, input="")
        assert result.exit_code in (1, 3)
        assert "not in a policy repository" in result.output and "regelverk init" in result.output
        assert "bundled" not in result.output


def test_this_checkout_is_a_repository():
    checkout = Path(__file__).resolve().parent.parent
    for cwd in (checkout, checkout / "tests", checkout / "evaluator"):
        source = locate_policies(cwd=cwd)
        assert (source.origin, source.root) == ("repository", checkout / "policies")
    # tests/ is in the checkout but outside its policy folder: named as a path, it is no policies.
    with pytest.raises(LocateError, match="is outside the policy folder of the repository"):
        locate_policies(checkout / "tests")


@pytest.mark.parametrize("facts, words, line", [
    ("facts:\n  channel:\n    type: text\n    description: {sv: a, en: b}\n",
     "'channel' is a core field of the contract and cannot be declared again", 2),
    ("facts:\n  age:\n    type: integer\n    description: {sv: a, en: b}\n",
     "must be one of yes/no, whole number, text, date, one of, list of texts, list of whole numbers", 3),
    ("facts:\n  kind:\n    type: one of\n    description: {sv: a, en: b}\n",
     "is 'one of' a list of values: give them as 'values'", 3),
    ("facts:\n  kind:\n    type: text\n    values: [a]\n    description: {sv: a, en: b}\n",
     "'values' belong to a fact that is 'one of'", 4),
    ("facts:\n  kind:\n    type: text\n    description: {sv: a}\n", "lacks the key 'en'", 4),
    ("facts:\n  ok:\n    type: text\n    description: {sv: a, en: b}\n  Birth-date:\n    type: date\n",
     "'Birth-date' cannot be a fact's name: write lower-case letters, digits and _", 5),
])
def test_facts_file_problems_are_placed(region, facts, words, line):
    (region / "facts.yaml").write_text(facts, encoding="utf-8")
    policy_set, problems = load_policy_set(region)
    assert policy_set is None
    found = [p for p in problems if p.severity == "error"]
    assert any(words in p.message and p.location.line == line and p.location.file.endswith("facts.yaml")
               for p in found), [p.render() for p in found]


@pytest.mark.parametrize("values, expected", [
    ("[]", [("facts, kind, values is an empty list: give at least 1 value", None, 4)]),
    ("[dietist, dietist]", [("facts, kind, values lists dietist more than once", "write each value once", 4)]),
    ("[dietist, yes, on]", [("facts, kind, value 2: yes is read as a yes/no value, not as text",
                             'write it in quotes: "yes"', 4),
                            ("facts, kind, value 3: on is read as a yes/no value, not as text",
                             'write it in quotes: "on"', 4)]),
])
def test_a_facts_values_problem_is_said_in_words_not_as_a_python_list(region, values, expected):
    (region / "facts.yaml").write_text(
        f"facts:\n  kind:\n    type: one of\n    values: {values}\n    description: {{sv: a, en: b}}\n", encoding="utf-8")
    _, problems = load_policy_set(region)
    found = [(p.message, p.hint, p.location.line) for p in problems if p.severity == "error"]
    assert found == expected
    assert not any("[" in message or "'" in message for message, _, _ in found)


def test_a_misspelt_fact_gets_did_you_mean(region):
    _add_youth_policy(region)
    path = region / "policies/sorland/sorland-youth-video/1.0.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace('profession != "fysioterapeut"', 'profesion != "fysioterapeut"'),
                    encoding="utf-8")
    _, problems = load_policy_set(region)
    assert any("did you mean 'profession'" in (p.hint or p.message) for p in problems), [p.render() for p in problems]


def test_a_fact_compared_with_a_value_outside_its_list_is_refused(region):
    _add_youth_policy(region)
    path = region / "policies/sorland/sorland-youth-video/1.0.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace('"fysioterapeut"', '"physio"'), encoding="utf-8")
    _, problems = load_policy_set(region)
    assert any("physio" in p.message for p in problems if p.severity == "error"), [p.render() for p in problems]


def test_a_copy_of_a_repository_moves_with_its_facts(region, tmp_path):
    _add_youth_policy(region)
    moved = tmp_path / "moved"
    shutil.copytree(region, moved)
    policy_set, problems = load_policy_set(moved / "policies" / "sorland")
    assert policy_set is not None, [p.render() for p in problems]
    assert "birth_date" in policy_set.facts


@pytest.mark.parametrize("settings, words, line", [
    ("regelverk: 1\nfact: myfacts.yaml\n", "'fact' is not one of its keys", 2),
    ("regelverk: 2\n", "regelverk", 1),
    ("regelverk: 1\npolicies: policy\n", "the policy folder 'policy' does not exist", 2),
    ("regelverk: 1\nfacts: other.yaml\n", "the facts file 'other.yaml' does not exist", 2),
    ("regelverk: 1\npolicies: [a\n", "the '[' opened here is not closed", 2),  # where it opens, not the end
    ("regelverk: 1\npolicies: " + "x" * 300 + "\n", "does not exist", 2),  # a name the system refuses (fuzzing)
])
def test_settings_problems_are_placed_in_regelverk_yaml(region, monkeypatch, settings, words, line):
    (region / "regelverk.yaml").write_text(settings, encoding="utf-8")
    result = run("validate", "--format", "json", cwd=region, monkeypatch=monkeypatch)
    assert result.exit_code == 1
    problems = json.loads(result.stdout)["problems"]
    assert any(words in p["message"] and p["file"].endswith("regelverk.yaml") and p["line"] == line
               for p in problems), problems
    result = run("evaluate", cwd=region, monkeypatch=monkeypatch, input="")
    assert result.exit_code == 3 and f"regelverk.yaml:{line}:" in result.output


def test_validate_checks_test_contacts_against_the_declared_facts(region, monkeypatch):
    _add_youth_policy(region)
    path = region / "policies/sorland/sorland-youth-video/sorland-youth-video.test.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("contact: {id: b, birth_date: 2006-03-15, profession: arbetsterapeut}",
                        "contact: {id: b, birth_date: 2006-03-15, profession: kurator, profesion: x}")
    path.write_text(text, encoding="utf-8")
    result = run("validate", cwd=region, monkeypatch=monkeypatch)
    assert result.exit_code == 1
    assert ("sorland-youth-video.test.yaml:8:58: error: profession: 'kurator' is not one of fysioterapeut, "
            "arbetsterapeut, dietist") in result.output, result.output
    assert "warning: 'profesion' is neither a field of the contact nor a fact" in result.output
    assert "did you mean 'profession'?" in result.output


def test_new_version_checks_the_next_version_with_the_repository_facts(region, monkeypatch):
    _add_youth_policy(region)
    result = run("new-version", "sorland-youth-video", "--from", "2027-01-01", cwd=region, monkeypatch=monkeypatch)
    assert result.exit_code == 0, result.output
    assert (region / "policies/sorland/sorland-youth-video/2.0.yaml").is_file()


def test_a_parameter_holding_a_value_outside_a_facts_list_is_refused(region):
    _add_youth_policy(region)
    path = region / "policies/sorland/sorland-youth-video/1.0.yaml"
    text = path.read_text(encoding="utf-8").replace("  senior_age: 85\n", "  senior_age: 85\n  free: [dietist, kurator]\n")
    text = text.replace('profession != "fysioterapeut"', "profession not in free")
    path.write_text(text, encoding="utf-8")
    _, problems = load_policy_set(region)
    assert any('parameter free holds "kurator", which is not a possible value' in p.message
               for p in problems if p.severity == "error"), [p.render() for p in problems]
    path.write_text(text.replace("[dietist, kurator]", "[dietist, arbetsterapeut]"), encoding="utf-8")
    policy_set, problems = load_policy_set(region)
    assert policy_set is not None, [p.render() for p in problems]


def test_policy_texts_facts_values_and_contacts_mean_the_same_in_nfc_and_nfd(region, monkeypatch):
    # "ö" written as "o" and a combining diaeresis (NFD: a Mac, a PDF) looks and means the same
    # as "ö" (NFC): a literal or a declared value in either form matches a contact's in either.
    import unicodedata

    def nfd(text):
        return unicodedata.normalize("NFD", text)

    _add_youth_policy(region)
    with open(region / "facts.yaml", "a", encoding="utf-8") as handle:
        handle.write(nfd("  staff_title:\n    type: one of\n    values: [sjuksköterska, läkare]\n"
                         "    description: {sv: Titeln, en: The title}\n"))
    policy = region / "policies/sorland/sorland-youth-video/1.0.yaml"
    text = policy.read_text(encoding="utf-8")
    policy.write_text(text.replace('profession != "fysioterapeut"',
                                   'profession != "fysioterapeut" and staff_title != "' + nfd("sjuksköterska") + '"'),
                      encoding="utf-8")
    monkeypatch.chdir(region)
    repo = load_repository()
    old = {"patient": "p", "unit": "u", "region": "sorland", "date": "2026-03-15", "channel": "video",
           "birth_date": "1941-03-15", "profession": "arbetsterapeut"}
    for title in ("sjuksköterska", nfd("sjuksköterska")):
        decision = repo.evaluate_one({**old, "id": "a", "staff_title": title})
        assert decision["status"] == "decided" and decision["outputs"]["reimbursable"] is None, decision
    for title in ("läkare", nfd("läkare")):
        decision = repo.evaluate_one({**old, "id": "b", "staff_title": title})
        assert decision["outputs"]["reimbursable"] is False, decision
    decision = repo.evaluate_one({**old, "id": "c", "staff_title": "kurator"})
    assert decision["errors"] == [{"field": "staff_title", "message": "'kurator' is not one of sjuksköterska, läkare"}]
