"""Golden text output of explain, test, policies and validate on the fixture policies."""

from __future__ import annotations

import json
import shutil

from _golden import check_golden
from click.testing import CliRunner
from conftest import chat

from evaluator.cli import main


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def relative(text: str, root) -> str:
    return text.replace(str(root) + "/", "")


def test_explain_golden(tmp_path, fixture_policies):
    path = tmp_path / "in.ndjson"
    contacts = [chat("a", "2024-03-04"), chat("b", "2024-03-05", documented=None), chat("c", "2024-03-06")]
    path.write_text("\n".join(json.dumps(c) for c in contacts) + "\n")
    for lang in ("en", "sv"):
        out = run("explain", str(path), "--contact", "c", "--lang", lang, "--policies", str(fixture_policies))
        assert out.exit_code == 0
        check_golden(f"explain-{lang}.txt", out.output)


def test_test_failure_golden(tmp_path, fixture_policies):
    root = tmp_path / "p"
    shutil.copytree(fixture_policies, root)
    (root / "testland/testland-chat/g.test.yaml").write_text("""\
policy: testland-chat
defaults: {region: testland, channel: written, patient: p1, unit: u1, dialogue: true, documented: true}
cases:
  - name: second in a week
    history: [{id: h1, date: 2024-03-04}]
    contact: {id: c1, date: 2024-03-06}
    expect: {outputs: {reimbursable: false}, fires: [per-week], evidence: {per-week: [h1]}}
  - name: a wrong expectation
    contact: {id: c1, date: 2024-03-06}
    expect:
      outputs: {reimbursable: false, kva: [X1]}
      fires: [per-week]
      evidence: {per-week: [h9]}
""")
    out = run("test", str(root), "--coverage")
    assert out.exit_code == 1
    check_golden("test-failure.txt", relative(out.output, root))


def test_policies_golden(fixture_policies):
    out = run("policies", "--policies", str(fixture_policies))
    check_golden("policies.txt", relative(out.output, fixture_policies.resolve().parent.parent.parent))


def test_validate_golden(tmp_path, fixture_policies):
    root = tmp_path / "p"
    shutil.copytree(fixture_policies, root)
    f = root / "testland/testland-chat/1.0.yaml"
    f.write_text(f.read_text().replace("per_week: 1", "per_week: 1\n  per_week: 2")
                 .replace('channel = "written" and was reimbursable and same unit and same iso week',
                          'chanel = "writen" and was reimbursible and same unit and same iso week'))
    out = run("validate", str(root))
    assert out.exit_code == 1
    check_golden("validate-errors.txt", relative(out.output, root))
