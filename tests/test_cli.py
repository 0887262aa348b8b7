"""The CLI through click's CliRunner: exit codes, output shapes, errors."""

from __future__ import annotations

import json
import shutil

from click.testing import CliRunner
from conftest import chat

from evaluator.cli import main


def _with_test_file(tmp_path, fixture_policies, name: str, text: str):
    """A copy of the fixture policies with the policy test file `name`.test.yaml beside testland-chat."""
    root = tmp_path / "p"
    shutil.copytree(fixture_policies, root)
    (root / f"testland/testland-chat/{name}.test.yaml").write_text(text)
    return root


def run(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def test_help_shows_examples():
    for cmd in main.commands:
        result = run(cmd, "--help")
        assert result.exit_code == 0 and "Example" in result.output, cmd


def test_validate_clean_and_broken(tmp_path, fixture_policies):
    result = run("validate", str(fixture_policies))
    assert result.exit_code == 0 and "0 error(s)" in result.output and "3 policy version(s) loaded" in result.output
    broken = tmp_path / "p"
    shutil.copytree(fixture_policies, broken)
    f = broken / "testland/testland-chat/1.0.yaml"
    f.write_text(f.read_text().replace("when: not (dialogue and documented)", "when: not (dialog and documented)"))
    result = run("validate", str(broken))
    assert result.exit_code == 1
    first = result.output.splitlines()[0]
    assert first.endswith("testland/testland-chat/1.0.yaml:20:16: error: 'dialog' is neither a field of the contact "
                          "nor a parameter (did you mean 'dialogue'?)")
    result = run("validate", str(broken), "--format", "json")
    assert result.exit_code == 1 and json.loads(result.output)["problems"][0]["line"] == 20
    result = run("validate", str(broken), "--format", "github")
    assert result.output.startswith("::error file=") and ",line=20,col=16," in result.output


def test_validate_checks_the_form_of_policy_tests(tmp_path, fixture_policies):
    folder = tmp_path / "p"
    shutil.copytree(fixture_policies, folder)
    (folder / "testland/testland-chat/broken.test.yaml").write_text("cases:\n  - name: x\n    contact: {id: [\n")
    result = run("validate", str(folder))
    assert result.exit_code == 1
    assert "testland/testland-chat/broken.test.yaml:4:1: error: YAML syntax" in result.output
    result = run("test", str(folder))
    assert result.exit_code == 1
    assert result.output.rstrip().endswith("; 1 test file(s) could not be read (above), their cases not run")


def test_evaluate_file_and_stdin(tmp_path, fixture_policies):
    lines = [json.dumps(chat("a", "2024-03-04")), "oops", json.dumps(chat("b", "2024-03-05"))]
    path = tmp_path / "in.ndjson"
    path.write_text("\n".join(lines) + "\n")
    result = run("evaluate", str(path), "--policies", str(fixture_policies))
    assert result.exit_code == 0
    out = [json.loads(x) for x in result.output.splitlines()]
    assert [d["status"] for d in out] == ["decided", "invalid", "decided"]
    assert out[2]["outputs"]["reimbursable"] is False
    again = run("evaluate", "--policies", str(fixture_policies), input="\n".join(lines))
    assert again.output == result.output


def test_evaluate_with_broken_policies_exits_3(tmp_path, fixture_policies):
    broken = tmp_path / "p"
    shutil.copytree(fixture_policies, broken)
    (broken / "testland/testland-chat/2.0.yaml").write_text("id: [")
    result = CliRunner().invoke(main, ["evaluate", "--policies", str(broken)], input="")
    assert result.exit_code == 3 and "cannot be loaded" in result.output


def test_a_folder_without_policies_is_an_error_not_a_clean_run(tmp_path, fixture_policies):
    # Most likely the wrong folder: CI would pass and every contact would be no_policy.
    empty = tmp_path / "empty"
    empty.mkdir()
    shutil.copy(fixture_policies / "outputs.yaml", empty / "outputs.yaml")
    # A folder that is neither in a policy repository nor a policy folder says what to do.
    cases = ((tmp_path / "bare", "is not in a policy repository", "io"), (empty, "holds no policy file", "empty"))
    for folder, words, code in cases:
        folder.mkdir(exist_ok=True)
        result = run("validate", str(folder))
        assert result.exit_code == 1 and words in result.output
        result = run("validate", str(folder), "--format", "github")
        assert result.exit_code == 1 and result.output.startswith(f"::error title=regelverk {code}::")  # no place: no file=
        result = CliRunner().invoke(main, ["evaluate", "--policies", str(folder)], input=json.dumps(chat("a", "2024-03-04")))
        assert result.exit_code == 3 and words in result.output


def test_evaluate_missing_file_is_a_usage_error():
    result = CliRunner().invoke(main, ["evaluate", "/nonexistent/x.ndjson"])
    assert result.exit_code == 4 and "cannot read" in result.output


def test_explain_text_both_languages(tmp_path, fixture_policies):
    path = tmp_path / "in.ndjson"
    path.write_text("\n".join(json.dumps(c) for c in [chat("a", "2024-03-04"), chat("b", "2024-03-05")]))
    en = run("explain", str(path), "--contact", "b", "--policies", str(fixture_policies))
    assert en.exit_code == 0
    assert "Rule per-week: FIRED → sets reimbursable=false" in en.output
    assert "contacts counted (1): a (2024-03-04)" in en.output
    assert "    Parameters: " in en.output and "a false wins" in en.output
    assert "Source: Testlands riktlinje, Tak" in en.output and "  Document: Testlands riktlinje\n" in en.output and "Passage: “En per vecka.”" in en.output
    sv = run("explain", str(path), "--contact", "b", "--lang", "sv", "--policies", str(fixture_policies))
    assert "Regel per-week: UTLÖSTES" in sv.output and "räknade kontakter (1): a (2024-03-04)" in sv.output
    assert "Status: decided (beslutad)" in sv.output
    js = run("explain", str(path), "--contact", "b", "--format", "json", "--policies", str(fixture_policies))
    body = json.loads(js.output)
    assert body["decision"]["contact"] == "b"
    chat_trace = next(t for t in body["trace"] if t["policy"] == "testland-chat")
    assert {r["rule"]: r["result"] for r in chat_trace["rules"]}["per-week"] is True
    missing = CliRunner().invoke(main, ["explain", str(path), "--contact", "zz", "--policies", str(fixture_policies)])
    assert missing.exit_code == 2 and "no contact with id 'zz'" in missing.output


def test_explain_reads_standard_input_and_csv_as_it_reads_a_file(tmp_path, fixture_policies):
    """explain reads its input twice (the contact's patient only): standard input is spooled,
    a CSV file read twice by its own reader; the counted contacts skip another patient's and a
    contact whose id another patient used first (invalid, as in the whole batch)."""
    contacts = [chat("a", "2024-03-04"), {**chat("x", "2024-03-05"), "patient": "p2"},
                {**chat("x", "2024-03-06")}, chat("b", "2024-03-07")]
    text = "\n".join(json.dumps(c) for c in contacts) + "\n"
    path = tmp_path / "in.ndjson"
    path.write_text(text)
    args = ["--contact", "b", "--format", "json", "--policies", str(fixture_policies)]
    from_file = run("explain", str(path), *args)
    from_stdin = run("explain", "-", *args, input=text)
    assert from_file.exit_code == from_stdin.exit_code == 0
    assert from_stdin.output == from_file.output
    body = json.loads(from_file.output)
    whole = [json.loads(line) for line in run("evaluate", str(path), "--policies", str(fixture_policies)).output.splitlines()]
    assert body["decision"] == whole[3]
    assert whole[2]["status"] == "invalid"  # x reused: not counted for b
    counted = [r for t in body["trace"] for r in t["rules"] if r.get("evidence")]
    assert counted and all(e in ("a",) for r in counted for e in r["evidence"])
    csv = tmp_path / "in.csv"
    fields = ["id", "patient", "unit", "region", "date", "channel", "dialogue"]
    csv.write_text(",".join(fields) + "\n" + "".join(
        ",".join(str(c.get(f, "")).lower() if isinstance(c.get(f), bool) else str(c.get(f, "")) for f in fields) + "\n"
        for c in contacts))
    from_csv = run("explain", str(csv), *args)
    assert from_csv.exit_code == 0
    assert json.loads(from_csv.output)["decision"]["contact"] == "b"


def test_policies_timeline(fixture_policies):
    result = run("policies", "--policies", str(fixture_policies))
    assert "testland-chat  [testland]" in result.output
    assert "1.0  2024-01-01 – 2024-12-31" in result.output and "2.0  2025-01-01 – until further notice" in result.output
    data = json.loads(run("policies", "--policies", str(fixture_policies), "--format", "json").output)
    assert [v["version"] for v in data[0]["versions"]] == ["1.0", "2.0"]
    assert data[0]["versions"][0]["document"] == {"title": "Testlands riktlinje", "document_id": None,
                                                  "version": None, "url": None}


def test_test_command_reports_failures_with_place(tmp_path, fixture_policies):
    root = _with_test_file(tmp_path, fixture_policies, "chat", """\
policy: testland-chat
defaults: {region: testland, channel: written, patient: p1, unit: u1, dialogue: true, documented: true}
cases:
  - name: second in a week is not reimbursed
    history: [{id: h1, date: 2024-03-04}]
    contact: {id: c1, date: 2024-03-06}
    expect:
      outputs: {reimbursable: false}
      fires: [per-week]
      does_not_fire: [per-month]
      evidence: {per-week: [h1]}
  - name: a wrong expectation
    contact: {id: c1, date: 2024-03-06}
    expect:
      outputs: {reimbursable: false}
      fires: [per-week]
""")
    result = run("test", str(root), "--coverage")
    assert result.exit_code == 1
    assert "FAIL " in result.output and "chat.test.yaml:12  a wrong expectation" in result.output
    assert "outputs.reimbursable" in result.output and "rule per-week" in result.output
    assert "1 passed, 1 failed" in result.output
    assert "rule coverage:" in result.output
    low = run("test", str(root / "testland/testland-chat/chat.test.yaml"), "--policies", str(root), "--min-coverage", "100")
    assert low.exit_code == 1 and "below the required 100%" in low.output


def test_a_failing_case_says_why_its_contact_is_invalid_and_which_names_do_not_exist(tmp_path, fixture_policies):
    root = _with_test_file(tmp_path, fixture_policies, "names", """\
policy: testland-chat
defaults: {region: testland, channel: written, patient: p1, dialogue: true, documented: true}
cases:
  - name: unit left out of the defaults, a rule and a policy misspelt
    contact: {id: c1, date: 2024-03-06}
    expect:
      fires: [per-weak, testland-chatt/per-week]
""")
    result = run("test", str(root / "testland/testland-chat/names.test.yaml"), "--policies", str(root))
    assert result.exit_code == 1
    assert "there is no rule 'per-weak' in testland-chat (did you mean 'per-week'?)" in result.output
    assert "there is no policy 'testland-chatt' (did you mean 'testland-chat'?)" in result.output
    assert "the contact" in result.output and "invalid (unit: is required but missing)" in result.output


INVALID_CONTACTS = """\
policy: testland-chat
defaults: {region: testland, channel: written, patient: p1, unit: u1, dialogue: true, documented: true}
cases:
  - name: an invalid contact has every output null, as expected here, yet the case is about a valid one
    contact: {id: c1, date: 2024-03-06, dialogue: perhaps}
    expect:
      outputs: {reimbursable: null}
  - name: an invalid earlier contact the case did not mean
    history: [{id: h1, date: 2024-03-04, channel: fax}]
    contact: {id: c1, date: 2024-03-06}
    expect:
      outputs: {reimbursable: true}
  - name: an invalid contact the case means
    contact: {id: c1, date: 2024-03-06, dialogue: perhaps}
    expect:
      status: invalid
  - name: an invalid earlier contact the case means
    history: [{id: h1, date: 2024-03-04, channel: fax}]
    contact: {id: c1, date: 2024-03-06}
    expect:
      invalid_history: [h1]
      outputs: {reimbursable: true}
  - name: an earlier contact said to be invalid that is not
    history: [{id: h1, date: 2024-03-04}]
    contact: {id: c1, date: 2024-03-11}
    expect:
      invalid_history: [h1]
"""


def test_a_case_whose_contact_is_invalid_fails_unless_it_says_so(tmp_path, fixture_policies):
    # An invalid contact's outputs are all null: a case expecting null passed with a contact
    # invalid by mistake. It fails, with why, unless it expects the contact to be invalid.
    root = _with_test_file(tmp_path, fixture_policies, "invalid", INVALID_CONTACTS)
    result = run("test", str(root / "testland/testland-chat/invalid.test.yaml"), "--policies", str(root),
                 "--format", "json")
    cases = {c["name"]: c for c in json.loads(result.output)["cases"]}
    failed = {name: [f["what"] for f in c["failures"]] for name, c in cases.items() if c["failures"]}
    assert failed == {
        "an invalid contact has every output null, as expected here, yet the case is about a valid one": ["the contact"],
        "an invalid earlier contact the case did not mean": ["history contact h1"],
        "an earlier contact said to be invalid that is not": ["history contact h1"],
    }, failed
    text = run("test", str(root / "testland/testland-chat/invalid.test.yaml"), "--policies", str(root)).output
    assert "invalid (dialogue: must be true or false, not 'perhaps')" in text
    assert "invalid (channel: 'fax' is not one of physical, video, phone, written, letter)" in text


def test_validate_says_an_invalid_test_contact_is_an_error_unless_the_case_means_it(tmp_path, fixture_policies):
    root = _with_test_file(tmp_path, fixture_policies, "invalid", INVALID_CONTACTS)
    result = run("validate", str(root), "--format", "json")
    found = [(p["line"], p["severity"], p["code"]) for p in json.loads(result.output)["problems"]
             if p["file"].endswith("invalid.test.yaml")]
    assert found == [(5, "error", "test_field"), (9, "error", "test_field")], found
    assert result.exit_code == 1


def test_a_history_contact_dated_after_the_contact_is_an_error_in_validate_and_test(tmp_path, fixture_policies):
    root = _with_test_file(tmp_path, fixture_policies, "later", """\
policy: testland-chat
defaults: {region: testland, channel: written, patient: p1, unit: u1, dialogue: true, documented: true}
cases:
  - name: the second in a week is not reimbursed
    history:
      - {id: h1, date: 2024-03-04}
      - {id: h2, date: 2024-03-06, time: "10:00"}
      - {id: h3, date: 2024-03-06}
    contact: {id: c1, date: 2024-03-06}
    expect:
      outputs: {reimbursable: false}
""")
    result = run("validate", str(root), "--format", "json")
    found = [(p["line"], p["column"], p["severity"], p["code"], p["message"])
             for p in json.loads(result.output)["problems"] if p["file"].endswith("later.test.yaml")]
    # (h3, with no time on the contact's day, comes before it: input order)
    assert found == [(7, 9, "error", "test_history",
                      "history contact h2 (2024-03-06 10:00) comes after the case's contact (2024-03-06), so it takes "
                      "no part in its history: the history holds earlier contacts only")], found
    out = run("test", str(root / "testland/testland-chat/later.test.yaml"), "--policies", str(root)).output
    assert "history contact h2" in out and "after the contact (2024-03-06): not in its history" in out
    assert "0 passed, 1 failed" in out


def test_validate_names_a_history_contact_the_case_lacks(tmp_path, fixture_policies):
    root = _with_test_file(tmp_path, fixture_policies, "names", """\
policy: testland-chat
defaults: {region: testland, channel: written, patient: p1, unit: u1, dialogue: true, documented: true}
cases:
  - name: a misspelt id
    history: [{id: h1, date: 2024-03-04, channel: fax}]
    contact: {id: c1, date: 2024-03-06}
    expect:
      invalid_history: [h11]
""")
    problems = json.loads(run("validate", str(root), "--format", "json").output)["problems"]
    named = [p for p in problems if p["code"] == "test_name"]
    assert [(p["line"], p["message"], p["hint"]) for p in named] == [
        (8, "the case's history has no contact 'h11'", "did you mean 'h1'?")]


def test_empty_expectation_list_means_none(tmp_path, fixture_policies):
    root = _with_test_file(tmp_path, fixture_policies, "none", """\
policy: testland-chat
defaults: {region: testland, channel: written, patient: p1, unit: u1, dialogue: true}
cases:
  - name: documented is missing, so a rule is undetermined
    contact: {id: c1, date: 2024-03-06}
    expect:
      unknown: []
""")
    result = run("test", str(root / "testland/testland-chat/none.test.yaml"), "--policies", str(root))
    assert result.exit_code == 1 and "testland-chat/qualified" in result.output


def test_test_files_found_below_a_hidden_folder(tmp_path, fixture_policies):
    # An installed package lives in .venv/…: hidden folders above the search root do not count.
    root = tmp_path / ".venv" / "p"
    shutil.copytree(fixture_policies, root)
    (root / "testland/testland-chat/a.test.yaml").write_text(
        "cases:\n  - name: x\n    contact: {id: c, patient: p, unit: u, region: testland, date: 2024-03-04, channel: written}\n"
        "    expect: {status: decided}\n")
    (root / ".hidden").mkdir()
    (root / ".hidden/b.test.yaml").write_text("cases: []\n")
    result = run("test", str(root))
    assert result.exit_code == 0 and "1 passed, 0 failed" in result.output


def test_decisions_do_not_depend_on_hash_seed():
    """Set and dict orders vary with PYTHONHASHSEED between runs; decisions must not."""
    import os
    import subprocess
    import sys

    from evaluator.resources import examples_dir

    outputs = []
    for seed in ("1", "2", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        done = subprocess.run([sys.executable, "-m", "evaluator", "evaluate", str(examples_dir() / "contacts.ndjson")],
                              capture_output=True, text=True, env=env, check=True)
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1] == outputs[2] and outputs[0].count("\n") == 31


def test_parallel_evaluation_gives_the_same_decisions(tmp_path, fixture_policies):
    import random

    rnd = random.Random(3)
    lines = []
    for i in range(400):
        c = chat(f"c{i}", f"2024-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}", patient=f"p{rnd.randrange(30)}",
                 unit=rnd.choice(["u1", "u2"]), dialogue=rnd.random() < 0.9)
        lines.append(json.dumps(c))
    lines[7] = "broken"
    lines[9] = lines[8]  # a duplicate id
    path = tmp_path / "in.ndjson"
    path.write_text("\n".join(lines) + "\n")
    one = run("evaluate", str(path), "--policies", str(fixture_policies), "--jobs", "1")
    two = run("evaluate", str(path), "--policies", str(fixture_policies), "--jobs", "2")
    assert one.exit_code == two.exit_code == 0
    assert one.output == two.output and one.output.count("\n") == 400


def test_input_lines_split_only_at_line_feeds_and_decode_one_by_one(tmp_path, fixture_policies):
    good = json.dumps(chat("a", "2024-03-04", note="x\u2028y\u0085z"), ensure_ascii=False).encode("utf-8")
    second = json.dumps(chat("b", "2024-03-11")).encode("utf-8")
    bad = b'{"id": "c\xff"}'
    path = tmp_path / "in.ndjson"
    path.write_bytes(b"\xef\xbb\xbf" + good + b"\r\n" + bad + b"\n" + second + b"\n")
    result = run("evaluate", str(path), "--policies", str(fixture_policies))
    out = [json.loads(x) for x in result.output.splitlines()]
    assert [d["status"] for d in out] == ["decided", "invalid", "decided"]
    assert out[1]["errors"][0]["message"] == "line 2 is not UTF-8 text (byte 10)"


def test_output_that_cannot_be_written_is_exit_5_with_the_reason_not_a_traceback():
    import os
    import subprocess
    import sys

    from evaluator.resources import examples_dir

    if not os.path.exists("/dev/full") and not os.environ.get("CI"):  # Linux has it; CI runs there
        import pytest
        pytest.skip("no /dev/full (a device whose writes fail) on this system")
    example = str(examples_dir() / "contacts.ndjson")
    for args in (["evaluate", example], ["explain", example, "--contact", "vgr-2"]):
        with open("/dev/full", "wb") as full:
            done = subprocess.run([sys.executable, "-m", "evaluator", *args], stdout=full,
                                  stderr=subprocess.PIPE, text=True, timeout=120)
        assert done.returncode == 5, (args, done.stderr)
        assert done.stderr.strip() == "regelverk: cannot write the output: No space left on device", args
        # started with standard output closed
        done = subprocess.run(["sh", "-c", 'exec "$0" -m evaluator "$@" >&-', sys.executable, *args],
                              stderr=subprocess.PIPE, text=True, timeout=120)
        assert done.returncode == 5, (args, done.stderr)
        assert done.stderr.strip() == "regelverk: cannot write the output: standard output is closed", args


def test_standard_input_closed_or_unreadable_is_named_as_such(tmp_path):
    """Started with standard input closed (`<&-`), evaluate and explain said nothing useful but a
    traceback; an empty CSV or a bad Parquet on standard input was named by the temporary file
    it was copied to. Each now names standard input, exit 4."""
    import subprocess
    import sys

    command = f"{sys.executable} -m evaluator"
    for args, given, message in (
            ("evaluate -q <&-", None, "regelverk: cannot read standard input: it is closed"),
            ("explain --contact c1 <&-", None, "regelverk: cannot read standard input: it is closed"),
            ("evaluate --input-format csv", b"", "regelverk: standard input: a CSV file needs a header row"),
            ("evaluate --input-format parquet", b"x", "regelverk: standard input cannot be read as Parquet")):
        done = subprocess.run(["bash", "-c", f"{command} {args}"], input=given, capture_output=True, timeout=120,
                              cwd=tmp_path)
        stderr = done.stderr.decode()
        assert done.returncode == 4 and message in stderr and "Traceback" not in stderr, stderr
        assert "regelverk-" not in stderr  # (no temporary file named)


def test_an_input_file_without_permission_to_read_it_is_exit_4_naming_it(tmp_path):
    """click refused a FILE it could not read as a usage error (exit 2), while docs/data.md
    says an input that cannot be read is exit 4. evaluate and explain now open it themselves:
    exit 4, the file named, no traceback, whatever its format."""
    import os
    import subprocess
    import sys

    from evaluator.resources import examples_dir

    if os.geteuid() == 0:
        # root reads a file without permission to: the command is run without that power
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            import pytest
            pytest.skip("running as root, and no setpriv to give the power to read any file up")
        lead = [setpriv, "--bounding-set=-dac_override,-dac_read_search"]
    else:
        lead = []
    example = (examples_dir() / "contacts.ndjson").read_bytes()
    for suffix in (".ndjson", ".csv", ".parquet"):
        path = tmp_path / f"locked{suffix}"
        path.write_bytes(example)
        path.chmod(0)
        for args in (["evaluate", "-q"], ["evaluate", "-q", "--memory-budget", "0"], ["explain", "--contact", "c1"]):
            done = subprocess.run([*lead, sys.executable, "-m", "evaluator", *args, str(path)],
                                  capture_output=True, text=True, timeout=120, cwd=tmp_path)
            assert done.returncode == 4, (args, suffix, done.stderr)
            assert done.stderr.strip().endswith(f"regelverk: cannot read {path}: Permission denied"), done.stderr
            assert "Traceback" not in done.stderr and done.stdout == ""


def test_an_out_file_without_permission_to_write_it_is_exit_5_and_kept(tmp_path):
    """`--out FILE` where FILE may not be written: exit 5 naming it, as for any output that
    cannot be written (it was click's usage error, exit 2), and FILE is left as it was (the
    rename of the file written first would have replaced it)."""
    import os
    import shutil
    import subprocess
    import sys

    from evaluator.resources import examples_dir

    lead = [shutil.which("setpriv"), "--bounding-set=-dac_override"] if os.geteuid() == 0 else []
    assert all(lead), "running as root, the test needs setpriv (util-linux) to give up the power to write any file"
    locked = tmp_path / "decisions.ndjson"
    locked.write_bytes(b"kept\n")
    locked.chmod(0o444)
    done = subprocess.run([*lead, sys.executable, "-m", "evaluator", "evaluate", "-q",
                           str(examples_dir() / "contacts.ndjson"), "--out", str(locked)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 5, done.stderr
    assert done.stderr.strip().endswith(f"regelverk: cannot write {locked}: Permission denied"), done.stderr
    assert locked.read_bytes() == b"kept\n" and sorted(p.name for p in tmp_path.iterdir()) == ["decisions.ndjson"]


def test_explain_given_a_folder_is_exit_4_naming_it(tmp_path):
    """explain's FILE was refused by click as a usage error (exit 2) when it was a folder;
    evaluate said so with exit 4. Both now say it the same way."""
    for command in ("evaluate", "explain"):
        result = CliRunner().invoke(main, [command, str(tmp_path), "--contact", "c1"][:2 if command == "evaluate" else 4])
        assert result.exit_code == 4, result.output
        assert f"regelverk: cannot read {tmp_path}: it is a folder" in result.output
