"""Provenance (contract §7): content hashes that depend on content only, and the git commit."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from conftest import chat
from jsonschema import Draft202012Validator

from evaluator import __version__, load_repository
from evaluator.cli import main
from evaluator.explaining.provenance import git_commit
from evaluator.resources import load_schema

CHAT_2 = Path("testland") / "testland-chat" / "2.0.yaml"


def copy_of(fixture_policies, where: Path) -> Path:
    target = where / "policies"
    shutil.copytree(fixture_policies, target)
    return target


def test_every_interface_gives_the_same_provenance(repo, fixture_policies, tmp_path):
    expected = repo.engine.provenance
    assert expected["engine_version"] == __version__
    assert expected["policy_set_hash"].startswith("sha256:") and len(expected["policy_set_hash"]) == 71
    contacts = [chat("a", "2025-03-04"), {"id": "bad"}]
    decisions = [*repo.evaluate(contacts), repo.evaluate_one(chat("c", "2025-03-05")),
                 *repo.evaluate_lines(["not json", json.dumps(chat("d", "2025-03-06"))])]
    source = tmp_path / "in.ndjson"
    source.write_text("\n".join(json.dumps(c) for c in contacts) + "\nnot json\n", encoding="utf-8")
    out = CliRunner().invoke(main, ["evaluate", str(source), "--policies", str(fixture_policies)])
    assert out.exit_code == 0, out.output
    decisions += [json.loads(line) for line in out.stdout.splitlines()]
    validator = Draft202012Validator(load_schema("decision.schema.json"))
    for d in decisions:
        assert d["provenance"] == expected, d
        assert not list(validator.iter_errors(d))
        for applied in d["policies"]:
            assert applied["content_hash"].startswith("sha256:")
    # a decision's provenance is its own: changing it changes no other decision
    decisions[0]["provenance"]["engine_version"] = "changed"
    assert repo.evaluate_one(chat("c", "2025-03-05"))["provenance"] == expected


def test_hashes_depend_on_content_not_place_time_or_line_ends(repo, fixture_policies, tmp_path):
    expected = repo.engine.provenance["policy_set_hash"]
    hashes = {(p.id, p.version): p.content_hash for p in repo.policy_set.versions()}
    moved = copy_of(fixture_policies, tmp_path / "elsewhere" / "deeper")
    for path in moved.rglob("*.yaml"):  # other times, and Windows line ends
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
        os.utime(path, (1_000_000, 1_000_000))
    again = load_repository(moved)
    assert again.engine.provenance["policy_set_hash"] == expected
    assert {(p.id, p.version): p.content_hash for p in again.policy_set.versions()} == hashes
    # the same in a process of its own (no state shared with this one)
    code = ("import json, sys; from evaluator import load_repository; "
            "print(load_repository(sys.argv[1]).engine.provenance['policy_set_hash'])")
    done = subprocess.run([sys.executable, "-c", code, str(moved)], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == expected


def test_one_changed_rule_changes_its_versions_hash_and_the_sets(repo, fixture_policies, tmp_path):
    before = {(p.id, p.version): p.content_hash for p in repo.policy_set.versions()}
    changed = copy_of(fixture_policies, tmp_path)
    path = changed / CHAT_2
    text = path.read_text(encoding="utf-8")
    assert "severity: info" in text
    path.write_text(text.replace("severity: info", "severity: warning", 1), encoding="utf-8")
    after_repo = load_repository(changed)
    after = {(p.id, p.version): p.content_hash for p in after_repo.policy_set.versions()}
    differ = {key for key in before if before[key] != after[key]}
    assert differ == {("testland-chat", "2.0")}
    assert after_repo.engine.provenance["policy_set_hash"] != repo.engine.provenance["policy_set_hash"]
    decided = after_repo.evaluate_one(chat("c", "2025-03-05"))
    assert decided["policies"][0]["content_hash"] == after[("testland-chat", "2.0")]


def test_the_commit_is_read_from_the_checkout_without_git(tmp_path, monkeypatch):
    if shutil.which("git") is None:  # making the checkout needs git; reading it does not
        raise AssertionError("git is needed to make the test's checkout (CI has it)")
    repo_dir = tmp_path / "checkout"
    (repo_dir / "policies").mkdir(parents=True)
    (repo_dir / "policies" / "x.txt").write_text("x", encoding="utf-8")
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    run = lambda *args: subprocess.run(["git", "-C", str(repo_dir), *args], env=env, check=True,  # noqa: E731
                                       capture_output=True, text=True).stdout.strip()
    run("init", "-q", "-b", "main")
    run("add", ".")
    run("commit", "-q", "-m", "one")
    head = run("rev-parse", "HEAD")
    monkeypatch.setenv("PATH", "")  # no git to ask: the files alone must tell
    assert git_commit(repo_dir / "policies") == head
    run_packed = subprocess.run(["git", "-C", str(repo_dir), "pack-refs", "--all"], env={**env},
                                capture_output=True, check=True)
    assert run_packed.returncode == 0 and not (repo_dir / ".git" / "refs" / "heads" / "main").exists()
    assert git_commit(repo_dir / "policies") == head  # from packed-refs
    (repo_dir / ".git" / "HEAD").write_text(head + "\n", encoding="utf-8")  # detached
    assert git_commit(repo_dir / "policies") == head
    assert git_commit(tmp_path / "nowhere") is None  # not in a checkout, and no git to ask


def test_git_clean_says_whether_the_commit_holds_the_rules_that_decided(tmp_path):
    """git_commit is HEAD even where the policy files differ from it: git_clean says so. True
    for a committed repository; false once a version is edited, or for a repository not yet
    added to the checkout it stands in; null outside git."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}

    def git(where, *args):
        return subprocess.run(["git", "-C", str(where), *args], env=env, check=True, capture_output=True,
                              text=True).stdout.strip()

    def provenance(where):
        done = subprocess.run([sys.executable, "-m", "evaluator", "evaluate", "contacts/sample.ndjson"], cwd=where,
                              capture_output=True, text=True, check=True)
        return json.loads(done.stdout.splitlines()[0])["provenance"]

    subprocess.run([sys.executable, "-m", "evaluator", "init", "r", "--region", "sorland", "--requirement", "x"],
                   cwd=tmp_path, check=True, capture_output=True)
    repo = tmp_path / "r"
    assert provenance(repo)["git_commit"] is None and provenance(repo)["git_clean"] is None  # not in git
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "start")
    clean = provenance(repo)
    assert clean["git_commit"] == git(repo, "rev-parse", "HEAD") and clean["git_clean"] is True
    version = repo / "policies/sorland/sorland-distance-contact/1.0.yaml"
    version.write_text(version.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    edited = provenance(repo)
    assert edited["git_commit"] == clean["git_commit"] and edited["git_clean"] is False
    git(repo, "checkout", "-q", "--", ".")
    (repo / "facts.yaml").write_text((repo / "facts.yaml").read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    assert provenance(repo)["git_clean"] is False  # the declared facts are part of what decided
    git(repo, "checkout", "-q", "--", ".")
    (repo / "policies/sorland/sorland-distance-contact/notes.txt").write_text("x", encoding="utf-8")
    assert provenance(repo)["git_clean"] is True  # a file the policies are not loaded from
    # a repository inside another checkout that does not hold it yet
    outer = tmp_path / "outer"
    outer.mkdir()
    git(outer, "init", "-q", "-b", "main")
    (outer / "x").write_text("x", encoding="utf-8")
    git(outer, "add", "x")
    git(outer, "commit", "-q", "-m", "x")
    shutil.copytree(repo, outer / "r", ignore=shutil.ignore_patterns(".git"))
    inside = provenance(outer / "r")
    assert inside["git_commit"] == git(outer, "rev-parse", "HEAD") and inside["git_clean"] is False
    validator = Draft202012Validator(load_schema("decision.schema.json"))
    assert not list(validator.iter_errors({**json.loads(subprocess.run(
        [sys.executable, "-m", "evaluator", "evaluate", "contacts/sample.ndjson"], cwd=repo, capture_output=True,
        text=True, check=True).stdout.splitlines()[0])}))
