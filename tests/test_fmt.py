"""`regelverk fmt`: one canonical layout that never changes what a policy says, and keeps comments."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from _golden import FIXTURES, check_golden
from click.testing import CliRunner

from evaluator.cli.fmt import fmt
from evaluator.loading.repository import load_policy_set, policy_files
from evaluator.resources import policies_dir
from evaluator.tools.fmt import format_text

MESSY_ROOT = FIXTURES / "fmt" / "policies"
MESSY = MESSY_ROOT / "messy" / "messy-policy" / "1.0.yaml"
BUNDLED = policies_dir()


def _cases() -> list[tuple[Path, Path]]:
    """(policy root, policy file) for every bundled policy file and the messy fixture."""
    return [(BUNDLED, p) for p in policy_files(BUNDLED)] + [(MESSY_ROOT, MESSY)]


def _ids(case) -> str:
    root, path = case
    return path.relative_to(root).as_posix()


def _compiled(version) -> dict:
    """What a policy version says, field by field, without where it says it."""
    return {
        "id": version.id, "version": version.version, "title": version.title, "issuer": version.issuer,
        "region": version.region, "valid_from": version.valid_from, "valid_to": version.valid_to,
        "source": version.source, "description": version.description, "applies": version.applies_text,
        "parameters": version.parameters, "parameter_types": version.parameter_types,
        "rules": [(r.id, r.section, r.passage, r.reading, r.when_text, r.then, r.otherwise, r.severity,
                   r.message.sv, r.message.en) for r in version.rules],
    }


def _version(root: Path, policy_id: str, version: str) -> dict:
    policy_set, problems = load_policy_set(root)
    assert policy_set is not None, [p.render() for p in problems]
    return _compiled(next(v for v in policy_set.policies[policy_id].versions if v.version == version))


COMMENT = re.compile(r"(?:^|\s)(#.*)$")


@pytest.mark.parametrize("case", _cases(), ids=_ids)
def test_fmt_keeps_meaning_and_comments_and_is_idempotent(case, tmp_path):
    root, path = case
    text = path.read_text(encoding="utf-8")
    formatted = format_text(text, str(path))
    assert format_text(formatted) == formatted, "fmt is not idempotent"

    for line in text.splitlines():
        found = COMMENT.search(line)
        if found:
            assert found.group(1).strip() in formatted, f"comment lost: {found.group(1)}"

    # The formatted file loads to the same compiled policy version as the original.
    copy = tmp_path / "policies"
    shutil.copytree(root, copy)
    rel = path.relative_to(root)
    before = _version(copy, path.parent.name, path.stem)
    (copy / rel).write_text(formatted, encoding="utf-8")
    assert _version(copy, path.parent.name, path.stem) == before


def test_messy_file_golden():
    check_golden("fmt-messy.yaml", format_text(MESSY.read_text(encoding="utf-8")))


def test_bundled_policies_are_in_the_canonical_layout():
    result = CliRunner().invoke(fmt, ["--check", str(BUNDLED)])
    assert result.exit_code == 0, result.output


def _fmt(*args):
    return CliRunner().invoke(fmt, list(args))


def test_check_lists_without_writing_then_fmt_rewrites(tmp_path, monkeypatch):
    root = tmp_path / "policies"
    shutil.copytree(MESSY_ROOT, root)
    (root / "messy" / "messy-policy" / "messy.test.yaml").write_text("policy: messy-policy\ncases: []\n", encoding="utf-8")
    (tmp_path / "regelverk.yaml").write_text("policies: policies\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    original = (root / "messy" / "messy-policy" / "1.0.yaml").read_text(encoding="utf-8")

    result = _fmt("--check")  # default: the repository's policy folder
    assert result.exit_code == 1
    assert result.output == ("would reformat policies/messy/messy-policy/1.0.yaml\n"
                             "1 file(s) would be reformatted, 0 already in the canonical layout\n")
    assert (root / "messy" / "messy-policy" / "1.0.yaml").read_text(encoding="utf-8") == original

    result = _fmt("--check", "--diff", "policies/messy/messy-policy/1.0.yaml")
    assert result.exit_code == 1
    assert "--- a/policies/messy/messy-policy/1.0.yaml\n+++ b/policies/messy/messy-policy/1.0.yaml\n" in result.output
    assert "+id: messy-policy\n" in result.output

    result = _fmt("policies")
    assert result.exit_code == 0
    assert result.output == ("formatted policies/messy/messy-policy/1.0.yaml\n"
                             "1 file(s) formatted, 0 already in the canonical layout\n")
    result = _fmt("--check", "policies")
    assert result.exit_code == 0
    assert result.output == "0 file(s) would be reformatted, 1 already in the canonical layout\n"
    # outputs.yaml and the test file are not policy files and are left alone
    assert (root / "messy" / "messy-policy" / "messy.test.yaml").read_text(encoding="utf-8") == \
        "policy: messy-policy\ncases: []\n"


def test_a_file_with_windows_line_ends_keeps_them_when_formatted(tmp_path, monkeypatch):
    """fmt rewrote a CRLF file (an editor on Windows) with LF line ends, every line a change in
    the pull request; it keeps the file's own line ends, as new-version does."""
    root = tmp_path / "policies"
    shutil.copytree(MESSY_ROOT, root)
    path = root / "messy" / "messy-policy" / "1.0.yaml"
    path.write_bytes(path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    monkeypatch.chdir(tmp_path)
    result = _fmt("policies")
    assert result.exit_code == 0 and "formatted policies/messy/messy-policy/1.0.yaml" in result.output
    data = path.read_bytes()
    assert data.count(b"\r\n") == data.count(b"\n") > 10
    assert _fmt("--check", "policies").exit_code == 0


def test_errors(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = _fmt()
    assert result.exit_code == 2 and "there is no policy repository here" in result.output
    assert _fmt("no-such-file.yaml").exit_code == 2

    broken = tmp_path / "broken.yaml"
    broken.write_text("id: x\nrules: [\n", encoding="utf-8")
    result = _fmt(str(broken))
    assert result.exit_code == 3
    assert "broken.yaml:3:1: error: YAML syntax:" in result.output

    duplicate = tmp_path / "duplicate.yaml"
    duplicate.write_text("id: x\nid: y\n", encoding="utf-8")
    assert _fmt(str(duplicate)).exit_code == 3

    unreadable = tmp_path / "latin1.yaml"
    unreadable.write_bytes("title: Vårdval\n".encode("latin-1"))
    result = _fmt(str(unreadable))
    assert result.exit_code == 4  # at the byte, in the words validate uses
    assert "latin1.yaml:1:9: error: the file is not UTF-8 text: byte 0xe5 cannot be read" in result.output
    assert "save the file as UTF-8" in result.output


MOVED_COMMENT = """\
id: p
rules:
    -   message:
            sv: >-
                En text.
            en: >-
                A text.
        id: r1
        severity: info
    # the next rule
    -   id: r2
"""


def test_a_layout_that_would_change_the_file_names_the_value_and_what_to_do(tmp_path):
    """A comment after a rule whose block text fmt moves last would end up inside that text: the
    guard refuses the layout, names the value and its place, and says what usually causes it."""
    path = tmp_path / "moved.yaml"
    path.write_text(MOVED_COMMENT, encoding="utf-8")
    result = _fmt(str(path))
    assert result.exit_code == 3
    assert "moved.yaml:6:17: error: formatting would change what the file says (the value of " \
           "rules[0].message.en); it is left as it is" in result.output
    assert "most often a comment next to a key fmt moves" in result.output
    assert path.read_text(encoding="utf-8") == MOVED_COMMENT


def test_help_shows_an_example():
    result = CliRunner().invoke(fmt, ["--help"])
    assert result.exit_code == 0 and "Example:" in result.output


OUT_OF_ORDER = """\
id: t-policy
title: T
# the version: bump on every change

version: "1.0"
issuer: T
region: t
valid_from: 2025-01-01
# where the text comes from
source:
  title: T
  # the document id
  note: x
# rules come after the parameters
rules:
  - id: r1
    # the condition: dialogue must be shown
    when: dialogue
    section: S
    passage: P
    # what happens when it fires
    then: {reimbursable: false}
    severity: info
    message: {sv: "x", en: "y"}  # end of line
# what applies
applies_when: channel = "written"
parameters:
  # the cap
  cap:
    value: 2
    type: whole number
# the end
"""


def _what_follows(text: str) -> dict:
    """Each comment on a line of its own, and the key of the first entry below it."""
    lines = text.splitlines()
    follows = {}
    for n, line in enumerate(lines):
        if line.strip().startswith("#"):
            below = next((x for x in lines[n + 1:] if x.strip() and not x.strip().startswith("#")), "")
            follows[line.strip()] = below.strip().lstrip("- ").split(":")[0]
    return follows


def test_a_comment_on_its_own_line_moves_with_the_entry_below_it():
    formatted = format_text(OUT_OF_ORDER)
    assert format_text(formatted) == formatted
    assert _what_follows(formatted) == _what_follows(OUT_OF_ORDER) == {
        "# the version: bump on every change": "version", "# where the text comes from": "source",
        "# the document id": "note", "# rules come after the parameters": "rules",
        "# the condition: dialogue must be shown": "when", "# what happens when it fires": "then",
        "# what applies": "applies_when", "# the cap": "cap", "# the end": ""}
    assert "# the version: bump on every change\n\nversion:" in formatted  # the blank line kept
    assert formatted.index("parameters:") < formatted.index("# rules come after") < formatted.index("rules:")
    assert formatted.endswith("# the end\n") and "  # end of line" in formatted
    # indented deeper than the keys that follow, a comment belongs to the block above it
    deeper = OUT_OF_ORDER.replace("# end of line\n", "# end of line\n    # the rule's last word\n")
    formatted = format_text(deeper)
    assert "# end of line\n    # the rule's last word\n" in formatted
    assert "# what applies\napplies_when:" in formatted


def test_a_file_the_loader_refuses_with_a_place_is_not_formatted():
    from evaluator.tools.fmt import FormatError

    with pytest.raises(FormatError) as refused:
        format_text(OUT_OF_ORDER.replace("2025-01-01", "2025-02-30"), "t.yaml")
    assert refused.value.problem.code == "yaml_value" and refused.value.problem.location.line == 8


def test_a_file_with_keys_that_are_not_a_policys_is_refused_not_reordered(tmp_path):
    """A parameter line indented wrongly becomes a key of the file: fmt used to move it to the
    end of the file and exit 0. It is refused at exit 3 with the schema's problems at their
    lines, in validate's words, and the file is left alone."""
    policy = BUNDLED / "vgr" / "vgr-rehab-written-contact" / "4.0.yaml"
    text = policy.read_text(encoding="utf-8")
    assert "\n  max_per_week: 1\n" in text
    broken = text.replace("\n  max_per_week: 1\n", "\nmax_per_week: 1\n", 1)
    line = broken.splitlines().index("max_per_week: 1") + 1
    path = tmp_path / "4.0.yaml"
    path.write_text(broken, encoding="utf-8")
    for args in ([str(path)], ["--check", "--diff", str(path)]):
        result = _fmt(*args)
        assert result.exit_code == 3, result.output
        assert f"4.0.yaml:{line}:1: error: the document: 'max_per_week' is not one of its keys" in result.output
        assert "1 could not be formatted" in result.output and "---" not in result.output
        assert path.read_text(encoding="utf-8") == broken


def test_a_policy_being_written_is_formatted_though_keys_are_missing():
    # a missing key moves nothing: only keys and values that are there are refused
    assert format_text("version: \"1.0\"\nid: p\n") == "id: p\nversion: \"1.0\"\n"


def test_every_problem_that_stops_fmt_is_listed_in_the_order_of_the_file():
    from evaluator.tools.fmt import FormatError

    with pytest.raises(FormatError) as refused:
        format_text("id: p\nparameters:\nmax: 3\nrules: 3\n", "p.yaml")
    assert [(p.location.line, p.location.column) for p in refused.value.problems] == [(2, 12), (3, 1), (4, 8)]
    assert refused.value.problems[0].message == "parameters must be a mapping of keys, not nothing"


TABS = (
    'id: p\n'
    'title:\tT\n'                                   # a tab after the colon: validate reads a space
    'parameters: {cap:\t3, words: [a,\tb]}   \t# a tab\tin a comment stays\n'
    'rules:\n'
    '  - id: r1\n'
    '    passage: "a tab\tin quotes stays"\n'
    '    reading: |\n'
    '      a tab\tin block text stays\n'
)


def test_a_tab_between_key_and_value_becomes_a_space_and_tabs_inside_text_stay():
    """`key:<TAB>value` passes validate (the loader reads the tab as white space) but ruamel
    refused it ("found character '\\t' that cannot start any token"), so fmt --check failed with
    exit 3 on a file validate passed. fmt now formats it: the tab becomes a space."""
    formatted = format_text(TABS, "tabs.yaml")
    assert "title: T\n" in formatted
    assert "parameters: {cap: 3, words: [a, b]}    # a tab\tin a comment stays\n" in formatted
    assert "a tab\tin block text stays" in formatted
    assert yaml.safe_load(formatted)["rules"][0]["passage"] == "a tab\tin quotes stays"  # (ruamel writes \\t)
    assert format_text(formatted) == formatted
    assert yaml.safe_load(formatted) == yaml.load(TABS, Loader=yaml.CSafeLoader)


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="the pure-Python parser refuses the tab in validate too")
def test_validate_and_fmt_agree_on_a_tab_after_a_colon(tmp_path):
    root = tmp_path / "policies"
    shutil.copytree(BUNDLED, root)
    path = root / "vgr" / "vgr-rehab-written-contact" / "4.0.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("  max_per_week: 1\n", "  max_per_week:\t1\n", 1), encoding="utf-8")
    assert load_policy_set(root)[0] is not None  # validate reads it
    result = _fmt("--check", str(path))
    assert result.exit_code == 1 and "would reformat" in result.output, result.output
    assert _fmt(str(path)).exit_code == 0
    assert path.read_text(encoding="utf-8") == text


def test_a_tab_inside_text_not_in_quotes_is_said_in_words_at_its_place():
    # ruamel cannot keep a tab inside plain text, and fmt must not change the text: it says so
    from evaluator.tools.fmt import FormatError

    with pytest.raises(FormatError) as refused:
        format_text("id: p\ntitle: a tab\there\n", "t.yaml")
    problem = refused.value.problem
    assert (problem.location.line, problem.location.column) == (2, 13)
    assert problem.message == "a tab stands inside a text that is not in quotes, and fmt cannot keep it there"
    assert problem.hint == "type a space instead, or write the text in quotes"
