"""The lint behind `regelverk validate`: unused parameters, unreachable rules, conflicting outputs."""

from __future__ import annotations

import itertools
import json
from datetime import date

import pytest
from _golden import FIXTURES, check_golden
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from evaluator.cli.validate import validate
from evaluator.compiling.closures import compile_condition
from evaluator.language.checker import check_condition
from evaluator.language.parser import parse_condition
from evaluator.language.types import Names, field_types_from_schema
from evaluator.loading.repository import load_policy_set
from evaluator.resources import load_schema
from evaluator.running.state import Context, Entry
from evaluator.tools.lint import Analysis, Space, lint_policy_set

LINT = FIXTURES / "lint"
FIELDS = field_types_from_schema(load_schema("contact.schema.json"))
PARAMETERS = {"distance_channels": ["video", "phone", "written"], "cap": 3, "strict": True}


def _analysis() -> Analysis:
    return Analysis(Space(FIELDS), PARAMETERS)


def _parse(text: str):
    node = parse_condition(text)
    params = {"distance_channels": FIELDS["kva"], "cap": FIELDS["duration_minutes"], "strict": FIELDS["dialogue"]}
    _, problems = check_condition(node, Names(FIELDS, params, {}), allow_history=True)
    assert not problems, problems
    return node


def _validate(directory, *args):
    return CliRunner().invoke(validate, [str(directory), *args])


# --- through the command -------------------------------------------------------------------


def test_validate_text_lists_lint_findings_with_places(monkeypatch):
    monkeypatch.chdir(LINT)
    result = _validate("policies")
    assert result.exit_code == 1  # the contradiction is an error
    check_golden("validate-lint.txt", result.output)


def test_validate_shows_an_undefined_parameter_as_an_error_with_its_place(monkeypatch):
    monkeypatch.chdir(LINT)
    result = _validate("broken")
    assert result.exit_code == 1
    check_golden("validate-undefined-parameter.txt", result.output)
    assert "broken/lintland/lintland-contact/1.0.yaml:18:12: error: 'max_per_wek'" in result.output
    assert "did you mean 'max_per_week'?" in result.output


def test_validate_json_carries_lint_codes_and_positions(monkeypatch):
    monkeypatch.chdir(LINT)
    result = _validate("policies", "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["ok"] is False
    found = {(p["code"], p["severity"], p["file"], p["line"], p["column"]) for p in report["problems"]}
    contact = "policies/lintland/lintland-contact/1.0.yaml"
    assert ("unused_parameter", "warning", contact, 13, 3) in found
    assert ("unreachable_rule", "error", contact, 18, 11) in found
    assert ("unreachable_rule", "warning", contact, 26, 11) in found
    assert ("otherwise_unreachable", "warning", contact, 36, 5) in found
    assert sum(code == "output_conflict" for code, *_ in found) == 2


def test_validate_github_annotations_for_warnings(monkeypatch):
    monkeypatch.chdir(LINT)
    result = _validate("policies", "--format", "github")
    lines = result.output.splitlines()
    assert ("::warning file=policies/lintland/lintland-contact/1.0.yaml,line=13,col=3,"
            "title=regelverk unused_parameter::parameter 'forgotten_limit' is declared but no condition "
            "or message uses it (remove it, or use it where the rule now writes its value)") in lines
    assert any(line.startswith("::error file=policies/lintland/lintland-contact/1.0.yaml,line=18,col=11,"
                               "title=regelverk unreachable_rule::") for line in lines)


def test_bundled_policies_have_no_lint_errors():
    policy_set, problems = load_policy_set(None)
    assert policy_set is not None, [p.render() for p in problems]
    errors = [p.render() for p in lint_policy_set(policy_set) if p.severity == "error"]
    assert errors == []


def test_conflicts_need_overlapping_periods(tmp_path):
    import shutil

    root = tmp_path / "policies"
    shutil.copytree(LINT / "policies", root)
    coding = root / "any" / "lint-coding" / "1.0.yaml"
    coding.write_text(coding.read_text(encoding="utf-8").replace("valid_to: 2025-06-30", "valid_to: 2024-12-31"),
                      encoding="utf-8")
    policy_set, problems = load_policy_set(root)
    assert policy_set is not None, problems
    conflicts = [p for p in lint_policy_set(policy_set) if p.code == "output_conflict"]
    assert len(conflicts) == 1 and "lint-coding" not in conflicts[0].message


def _with_a_policy_that_never_applies(tmp_path):
    """The lint fixtures, with lint-coding's applies_when made contradictory; loaded."""
    import shutil

    root = tmp_path / "policies"
    shutil.copytree(LINT / "policies", root)
    coding = root / "any" / "lint-coding" / "1.0.yaml"
    coding.write_text(coding.read_text(encoding="utf-8").replace(
        'applies_when: platform = "sob"', 'applies_when: platform = "sob" and platform is missing'), encoding="utf-8")
    policy_set, problems = load_policy_set(root)
    assert policy_set is not None, problems
    return policy_set


def test_a_policy_that_never_applies_is_an_error(tmp_path):
    policy_set = _with_a_policy_that_never_applies(tmp_path)
    found = [p for p in lint_policy_set(policy_set) if p.code == "never_applies"]
    assert len(found) == 1
    assert found[0].severity == "error"
    assert found[0].message.endswith("it asks contradictory things of platform")


def test_a_region_no_policy_folder_is_for_is_a_warning_at_its_value(tmp_path, monkeypatch):
    import shutil

    root = tmp_path / "policies"
    shutil.copytree(LINT / "policies", root)
    contact = root / "lintland" / "lintland-contact" / "1.0.yaml"
    text = contact.read_text(encoding="utf-8")
    contact.write_text(text.replace('applies_when: region = "lintland"', 'applies_when: region = "lintlnd"'), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    policy_set, problems = load_policy_set(root)
    assert policy_set is not None, problems
    found = [p for p in lint_policy_set(policy_set) if p.code == "unknown_region"]
    assert len(found) == 1
    (warning,) = found
    assert warning.severity == "warning"
    assert str(warning.location) == "policies/lintland/lintland-contact/1.0.yaml:10:24"
    assert 'region "lintlnd" is not the region of any policy folder' in warning.message
    assert warning.hint == 'did you mean "lintland"?'
    assert warning.source_line == 'applies_when: region = "lintlnd" and channel = "written"'


def test_regions_in_lists_and_rules_are_checked_against_the_folders(tmp_path):
    import shutil

    root = tmp_path / "policies"
    shutil.copytree(LINT / "policies", root)
    contact = root / "lintland" / "lintland-contact" / "1.0.yaml"
    text = contact.read_text(encoding="utf-8")
    contact.write_text(text.replace('applies_when: region = "lintland"',
                                    'applies_when: region in ["lintland", "nowhere"]'), encoding="utf-8")
    policy_set, _ = load_policy_set(root)
    found = [p for p in lint_policy_set(policy_set) if p.code == "unknown_region"]
    assert [(p.location.line, p.location.column) for p in found] == [(10, 38)]
    assert found[0].hint == "the policy folders are for lintland"
    # the folders' own regions, as every fixture and the bundled policies name them, are no finding
    assert not [p for p in lint_policy_set(load_policy_set(None)[0]) if p.code == "unknown_region"]


# --- the analysis itself -------------------------------------------------------------------


@pytest.mark.parametrize("text, can_be_true, can_be_false", [
    ('channel = "video" and channel = "phone"', False, True),
    ('channel = "video" or channel = "phone"', True, True),
    ('channel != "video" and channel = "video"', False, True),
    ('channel in distance_channels and channel = "letter"', False, True),
    ('channel in ["physical", "video", "phone", "written", "letter"]', True, False),
    ('dialogue and not dialogue', False, True),
    # three-valued: `not dialogue` needs dialogue known and false, so this is never true …
    ('dialogue is missing and not dialogue', False, True),
    # … and `dialogue or not dialogue` is not a tautology: unknown when dialogue is missing.
    ('dialogue or not dialogue', True, False),
    ('dialogue is known or dialogue is missing', True, False),
    ('sob_activity != "care" and sob_activity != "administration" and sob_activity is known', False, True),
    ('group and not group', False, True),
    ('group or not group', True, False),  # group is never missing: absent means false
    # Numbers are not reasoned about: the analysis claims nothing.
    ('duration_minutes > 5 and duration_minutes < 3', True, True),
    ('duration_minutes > 5 and duration_minutes is missing', False, True),
    ('count of earlier contacts where (channel = "video" and channel = "phone") >= cap', True, True),
    ('platform = "sob" and platform != "sob"', False, True),
    ('strict and dialogue', True, True),
    ('not strict', False, True),
])
def test_what_a_condition_can_be(text, can_be_true, can_be_false):
    a = _analysis()
    node = _parse(text)
    assert bool(a.true(node)) is can_be_true
    assert bool(a.false(node)) is can_be_false


# The analysis must be sound: when it says a condition can never be true (or never false), no
# contact makes it so. Checked against the compiled condition over every combination of a few
# fields, for conditions hypothesis builds.
ATOMS = [
    'channel = "video"', 'channel != "phone"', 'channel in ["video", "written"]',
    'channel not in distance_channels', 'dialogue', 'dialogue is known', 'dialogue is missing',
    'sob_activity = "care"', 'sob_activity != "administration"', 'sob_activity is missing',
    'platform = "sob"', 'platform is missing', 'duration_minutes > 5', 'group', 'strict',
]
CONTACTS = [
    {k: v for k, v in {"id": "c", "patient": "p", "unit": "u", "region": "r", "date": date(2025, 3, 3),
                       "channel": ch, "dialogue": dia, "sob_activity": act, "platform": plat,
                       "duration_minutes": dur, "group": grp}.items() if v is not None}
    for ch, dia, act, plat, dur, grp in itertools.product(
        ["physical", "video", "phone", "written", "letter"], [True, False, None],
        ["care", "administration", None], ["sob", "other", None], [None, 3, 10], [True, False])
]


def _conditions():
    atom = st.sampled_from(ATOMS)
    return st.recursive(atom, lambda inner: st.one_of(
        st.builds(lambda a, b: f"({a}) and ({b})", inner, inner),
        st.builds(lambda a, b: f"({a}) or ({b})", inner, inner),
        st.builds(lambda a: f"not ({a})", inner),
    ), max_leaves=6)


@settings(max_examples=300, deadline=None)
@given(_conditions())
def test_the_analysis_never_claims_too_much(text):
    node = _parse(text)
    run = compile_condition(node, PARAMETERS)
    a = _analysis()
    results = {run(Context(Entry(contact, 0), [], [])) for contact in CONTACTS}
    if not a.true(node):
        assert True not in results, f"{text} said never true"
    if not a.false(node):
        assert False not in results, f"{text} said never false"


def _documented_severities(code: str) -> set[str]:
    """The severities docs/errors.md gives a code (from Code's meaning, which it is made of)."""
    from evaluator.errors import Code

    meaning = Code(code).meaning
    if meaning.startswith("warning:"):
        return {"warning"}
    if meaning.startswith("error when") and "warning when" in meaning:
        return {"error", "warning"}
    return {"error"}


def test_what_lint_says_has_the_severity_the_error_list_gives_it(tmp_path):
    """docs/errors.md listed never_applies and unreachable_rule as warnings, while validate
    reports them as errors: every problem lint reports on its fixtures (and on a policy that
    never applies, and a rule no contact can fire) has a severity the list allows."""
    policy_set = _with_a_policy_that_never_applies(tmp_path)
    found = lint_policy_set(policy_set) + lint_policy_set(load_policy_set(LINT / "policies")[0])
    seen = {(str(p.code), p.severity) for p in found}
    assert {"never_applies", "unreachable_rule"} <= {code for code, _ in seen}, seen
    for code, severity in seen:
        assert severity in _documented_severities(code), (code, severity)
