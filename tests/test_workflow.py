"""The example CI workflow, run step by step on a simulated pull request in a local repository.

The workflow's YAML is read, and its `run:` scripts are run in order with bash, as GitHub's
`shell: bash` runs them (`bash --noprofile --norc -eo pipefail`), with a fake job summary,
RUNNER_TEMP and `gh`, the `${{ … }}` expressions the workflow uses filled in from a small
context, and `if:` / `continue-on-error:` / step outcomes handled as GitHub handles them.
Steps that `uses:` an action and the Install step are skipped: regelverk is installed here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from _golden import FIXTURES, check_golden

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "policies.yml"
BASH = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]


def _git(repo, *args):
    subprocess.run(["git", "-c", "user.name=Test", "-c", "user.email=test@example.org", "-c", "commit.gpgsign=false",
                    *args], cwd=repo, check=True, capture_output=True)


def _expression(text: str, context: dict) -> str:
    """The value of a `${{ … }}` expression the workflow uses: a dotted name in the context."""
    name = text.strip()
    if name not in context:
        raise AssertionError(f"the workflow uses ${{{{ {name} }}}}, which this test does not know")
    return context[name]


def _fill(value: str, context: dict) -> str:
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: _expression(m.group(1), context), str(value))


def _condition(text: str | None, context: dict, failed: bool) -> bool:
    """An `if:` of the forms the workflow uses: terms joined by &&, each always(), success(),
    failure() or NAME == 'value'. Without always() or failure(), a step runs only while no
    earlier step has failed (GitHub's implied success())."""
    if text is None:
        return not failed
    terms = [t.strip() for t in text.split("&&")]
    status_checked = False
    for term in terms:
        if term == "always()":
            status_checked = True
        elif term == "failure()":
            status_checked = True
            if not failed:
                return False
        elif term == "success()":
            status_checked = True
            if failed:
                return False
        elif m := re.fullmatch(r"([\w.]+) == '([^']*)'", term):
            if _expression(m.group(1), context) != m.group(2):
                return False
        else:
            raise AssertionError(f"the test does not understand the condition {term!r}")
    return status_checked or not failed


def run_workflow(repo: Path, context: dict, tmp: Path, bin_dir: Path, only: set | None = None,
                 workflow_file: Path = WORKFLOW) -> tuple[list, Path]:
    """Run the workflow's steps in `repo` (those with an id in `only`, if given); the (name,
    outcome, output) of each and the summary file."""
    workflow = yaml.safe_load(workflow_file.read_text(encoding="utf-8"))
    assert workflow["defaults"]["run"]["shell"] == "bash"
    (job,) = workflow["jobs"].values()
    summary = tmp / "summary.md"
    summary.write_text("", encoding="utf-8")
    runner_temp = tmp / "runner"
    runner_temp.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env.update({k: _fill(v, context) for k, v in (workflow.get("env") or {}).items()})
    env.update({"GITHUB_STEP_SUMMARY": str(summary), "RUNNER_TEMP": str(runner_temp), "CI": "true",
                "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"})
    results, failed = [], False
    for step in job["steps"]:
        name = step.get("name") or step.get("uses")
        if "uses" in step or name == "Install" or (only is not None and step.get("id") not in only):
            continue
        if not _condition(step.get("if"), context, failed):
            results.append((name, "skipped"))
            if step.get("id"):
                context[f"steps.{step['id']}.outcome"] = "skipped"
            continue
        step_env = dict(env)
        step_env.update({k: _fill(v, context) for k, v in (step.get("env") or {}).items()})
        script = tmp / "step.sh"
        script.write_text(step["run"], encoding="utf-8")
        done = subprocess.run([*BASH, str(script)], cwd=repo, env=step_env, capture_output=True, text=True)
        outcome = "success" if done.returncode == 0 else "failure"
        results.append((name, outcome, done.stdout + done.stderr))
        if step.get("id"):
            context[f"steps.{step['id']}.outcome"] = outcome
        if outcome == "failure" and not step.get("continue-on-error"):
            failed = True
    return results, summary


@pytest.fixture
def pull_request(tmp_path):
    """A policy repository (this one's policies and example contacts) on `main`, and a pull
    request on top: a new version with a raised cap (and no tests yet), a changed parameter in
    a version in force, and a new policy (with two contacts for it)."""
    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "policies", repo / "policies")
    for name in ("regelverk.yaml", "facts.yaml"):  # the repository's settings and declared facts
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, repo / name)
    (repo / "examples").mkdir()
    shutil.copy(ROOT / "examples" / "contacts.ndjson", repo / "examples" / "contacts.ndjson")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "policies")
    _git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    _git(repo, "checkout", "-q", "-b", "raise-the-cap")
    subprocess.run([sys.executable, "-m", "evaluator", "new-version", "vgr-rehab-written-contact",
                    "--from", "2027-01-31", "--policies", "policies"], cwd=repo, check=True, capture_output=True)
    new = repo / "policies/vgr/vgr-rehab-written-contact/5.0.yaml"
    new.write_text(new.read_text(encoding="utf-8").replace("max_per_week: 1", "max_per_week: 2"), encoding="utf-8")
    halland = repo / "policies/halland/halland-distance-contact/1.0.yaml"
    text = halland.read_text(encoding="utf-8")
    short = re.search(r"  short_call_max_minutes:\n    type: [a-z ]+\n    value: 5\n", text)
    assert short, "the halland parameter moved: update this test"
    halland.write_text(text.replace(short.group(0), short.group(0).replace("value: 5", "value: 2")), encoding="utf-8")
    capland = repo / "policies/capland/capland-written/1.0.yaml"
    capland.parent.mkdir(parents=True)
    shutil.copy(FIXTURES / "impact" / "capland-1.0.yaml", capland)
    with open(repo / "examples" / "contacts.ndjson", "a", encoding="utf-8") as contacts:
        for line in (FIXTURES / "impact" / "contacts.ndjson").read_text(encoding="utf-8").splitlines()[:2]:
            contacts.write(line + "\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "raise the cap")
    return repo, _tools(tmp_path)


def _tools(tmp_path: Path) -> Path:
    """A folder of stand-ins for the runner's tools: gh (records its calls) and regelverk (this
    test's Python, however it was installed)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gh = bin_dir / "gh"
    gh.write_text('#!/bin/sh\necho "$@" >> "$RUNNER_TEMP/gh-calls"\n', encoding="utf-8")
    gh.chmod(0o755)
    regelverk = bin_dir / "regelverk"  # the regelverk of this test's Python, however it was installed
    regelverk.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m evaluator "$@"\n', encoding="utf-8")
    regelverk.chmod(0o755)
    return bin_dir


CONTEXT = {"github.event_name": "pull_request", "github.base_ref": "main", "github.token": "not-a-token",
           "github.event.pull_request.number": "7"}


def test_the_impact_is_posted_and_then_the_job_fails_on_the_failing_tests(pull_request, tmp_path):
    repo, bin_dir = pull_request
    results, summary = run_workflow(repo, dict(CONTEXT), tmp_path, bin_dir)
    outcomes = {r[0]: r[1] for r in results}
    assert outcomes == {
        "Validate (problems show on the pull request's lines)": "success",
        "Layout": "success",
        "Policy tests, every rule seen to fire and not to fire": "failure",  # 5.0 and capland have no tests yet
        "What the pull request changes, and the decisions it flips": "success",
        "Comment on the pull request (where the token may)": "success",
        "Fail the job if a check failed": "failure",
    }, results
    last = results[-1][2]
    assert "::error::failed: tests" in last
    check_golden("workflow-summary.md", summary.read_text(encoding="utf-8"))
    calls = (tmp_path / "runner" / "gh-calls").read_text(encoding="utf-8")
    assert calls.startswith(f"pr comment 7 --body-file {tmp_path / 'runner' / 'impact.md'} --edit-last")
    assert (tmp_path / "runner" / "impact.md").read_text(encoding="utf-8") == summary.read_text(encoding="utf-8")


def test_a_failing_command_in_a_pipe_fails_the_step(pull_request, tmp_path):
    repo, bin_dir = pull_request
    context = dict(CONTEXT, **{"github.base_ref": "no-such-branch"})
    results, summary = run_workflow(repo, context, tmp_path, bin_dir, only={"impact"})
    outcomes = {r[0]: r[1] for r in results}
    assert "fatal: bad revision 'origin/no-such-branch...HEAD'" in results[0][2]  # (git diff, inside a pipe)
    assert outcomes["What the pull request changes, and the decisions it flips"] == "failure"
    assert summary.read_text(encoding="utf-8") == ""


def test_every_script_fails_on_a_failing_command_in_a_pipe():
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    for step in workflow["jobs"]["policies"]["steps"]:
        if "run" in step and step.get("name") != "Install":
            assert step["run"].startswith("set -euo pipefail\n"), step["name"]


def test_the_workflow_init_writes_posts_the_impact_of_a_change(tmp_path):
    """A region's repository from `regelverk init`, and a pull request that starts a version
    applying to video contacts only, with no tests yet: the summary shows the phone contact of
    the sample that the new version no longer decides, and then the job fails on the tests."""
    subprocess.run([sys.executable, "-m", "evaluator", "init", "repo", "--region", "sorland",
                    "--requirement", "regelverk==0.1.0"], cwd=tmp_path, check=True, capture_output=True)
    repo = tmp_path / "repo"
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "start")
    _git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    _git(repo, "checkout", "-q", "-b", "video-only")
    year = re.search(r"valid_from: (\d{4})", (repo / "policies/sorland/sorland-distance-contact/1.0.yaml")
                     .read_text(encoding="utf-8")).group(1)
    subprocess.run([sys.executable, "-m", "evaluator", "new-version", "sorland-distance-contact",
                    "--from", f"{year}-03-05"], cwd=repo, check=True, capture_output=True)
    new = repo / "policies/sorland/sorland-distance-contact/2.0.yaml"
    new.write_text(new.read_text(encoding="utf-8").replace('channel in ["video", "phone"]', 'channel = "video"'),
                   encoding="utf-8")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "video only from March")
    workflow = repo / ".github/workflows/policies.yml"
    results, summary = run_workflow(repo, dict(CONTEXT), tmp_path, _tools(tmp_path), workflow_file=workflow)
    failed = {name for name, outcome, *_ in results if outcome != "success"}
    assert failed == {"Policy tests, every rule seen to fire and not to fire", "Fail the job if a check failed"}, results
    assert "::error::failed: tests" in results[-1][2]
    text = summary.read_text(encoding="utf-8")
    assert "sorland-distance-contact" in text and "s2" in text and "no_policy" in text, text
    for step in yaml.safe_load(workflow.read_text(encoding="utf-8"))["jobs"]["policies"]["steps"]:
        if "run" in step and step.get("name") != "Install":
            assert step["run"].startswith("set -euo pipefail\n"), step["name"]


def test_a_pull_request_that_edits_an_older_version_is_compared_with_that_version(tmp_path):
    """The base branch has 1.0 and 2.0 (2.0 asks for video only); the pull request rewords a
    reading of 1.0. The summary compares 1.0 with 1.0 as it was (words only), not the base's
    latest version 2.0 with 1.0, which read as a change of meaning in every such pull request."""
    subprocess.run([sys.executable, "-m", "evaluator", "init", "repo", "--region", "sorland",
                    "--requirement", "regelverk==0.1.0"], cwd=tmp_path, check=True, capture_output=True)
    repo = tmp_path / "repo"
    folder = repo / "policies/sorland/sorland-distance-contact"
    year = re.search(r"valid_from: (\d{4})", (folder / "1.0.yaml").read_text(encoding="utf-8")).group(1)
    subprocess.run([sys.executable, "-m", "evaluator", "new-version", "sorland-distance-contact",
                    "--from", f"{year}-03-05"], cwd=repo, check=True, capture_output=True)
    two = folder / "2.0.yaml"
    two.write_text(two.read_text(encoding="utf-8").replace('channel in ["video", "phone"]', 'channel = "video"'),
                   encoding="utf-8")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "1.0 and 2.0")
    _git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    _git(repo, "checkout", "-q", "-b", "reword")
    one = folder / "1.0.yaml"
    one.write_text(one.read_text(encoding="utf-8").replace("unknown stays unknown.", "unknown stays unknown (clarified)."),
                   encoding="utf-8")
    _git(repo, "commit", "-q", "-am", "reword 1.0")
    workflow = repo / ".github/workflows/policies.yml"
    results, summary = run_workflow(repo, dict(CONTEXT), tmp_path, _tools(tmp_path), only={"impact"},
                                    workflow_file=workflow)
    assert [outcome for _, outcome, *_ in results] == ["success"], results
    text = summary.read_text(encoding="utf-8")
    assert "1.0 → 1.0" in text and "2.0 → 1.0" not in text, text
    assert "No change in meaning" in text and "Meaning changed" not in text, text
