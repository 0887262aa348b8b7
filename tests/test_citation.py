"""A policy's `source` cites the published document; findings cite its id (or title) and section."""

from __future__ import annotations

import shutil

from evaluator import load_repository
from evaluator.loading.citation import full, link
from evaluator.loading.repository import load_policy_set


def _copy(tmp_path, fixture_policies):
    root = tmp_path / "p"
    shutil.copytree(fixture_policies, root)
    return root


def _source(root, text):
    path = root / "testland/testland-chat/2.0.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("  title: Testlands riktlinje\n", text), encoding="utf-8")


def test_a_source_must_name_the_document(tmp_path, fixture_policies):
    root = _copy(tmp_path, fixture_policies)
    _source(root, "  seed: only-a-file.txt\n")
    policy_set, problems = load_policy_set(root)
    assert policy_set is None
    (problem,) = [p for p in problems if p.severity == "error"]
    assert problem.message == "source lacks the key 'title'"
    assert problem.location.file.endswith("testland-chat/2.0.yaml") and problem.location.line == 8


def test_an_address_is_http_or_https(tmp_path, fixture_policies):
    root = _copy(tmp_path, fixture_policies)
    _source(root, '  title: T\n  url: "javascript:alert(1)"\n')
    _, problems = load_policy_set(root)
    (problem,) = [p for p in problems if p.severity == "error"]
    assert problem.message == "source, url: 'javascript:alert(1)' is not in the expected form"
    assert "http:// or https://" in problem.hint
    assert link({"url": "javascript:alert(1)"}) is None and link({"url": "https://x.se/a"}) == "https://x.se/a"


def test_findings_cite_the_id_else_the_title_and_never_the_seed(tmp_path, fixture_policies):
    contacts = [{"id": id, "patient": "p", "unit": "u", "region": "testland", "date": day, "channel": "written"}
                for id, day in (("a", "2025-03-03"), ("b", "2025-03-04"), ("c", "2025-03-05"))]
    root = _copy(tmp_path, fixture_policies)
    _source(root, "  title: Testlands riktlinje\n  seed: testland.txt\n")
    (finding,) = load_repository(root).evaluate(contacts)[-1]["findings"]
    assert finding["rule"] == "rolling" and finding["source"] == "Testlands riktlinje, Tak"
    root = _copy(tmp_path / "second", fixture_policies)
    _source(root, "  title: Testlands riktlinje\n  seed: testland.txt\n  document_id: TL-2025-1\n  version: '2.1'\n")
    (finding,) = load_repository(root).evaluate(contacts)[-1]["findings"]
    assert finding["source"] == "TL-2025-1, Tak"
    source = load_repository(root).policy_set.policies["testland-chat"].latest.source
    assert full(source) == "Testlands riktlinje (TL-2025-1, version 2.1)"
    assert full({**source, "url": "https://x.se/a"}) == "Testlands riktlinje (TL-2025-1, version 2.1), https://x.se/a"
