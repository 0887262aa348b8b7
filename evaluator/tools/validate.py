"""Everything `regelverk validate` checks in a policy folder, and its problems as CI annotations."""

from __future__ import annotations

from pathlib import Path

from ..errors import Problem
from ..loading.repository import PolicySet, load_policy_set
from ..loading.settings import PolicySource
from .lint import lint_policy_set
from .testing import contact_field_problems, expectation_problems, find_test_files, load_cases


def validate_policies(source: PolicySource) -> tuple[PolicySet | None, list[Problem]]:
    """The policy set (None when it does not load) and every problem, sorted by place: loading
    (YAML, schema, conditions and their types, placement, versions), the policy tests' own
    form and their contacts' fields, and, when the set loads, lint. With `source.within` (a
    part of the folder named), only that part's problems and those of no file."""
    policy_set, problems = load_policy_set(source.root, source.settings)
    for path in find_test_files(source.within or source.root):
        doc, found = load_cases(path)
        problems = problems + found
        if doc is not None and policy_set is not None:
            problems = problems + contact_field_problems(doc, policy_set) + expectation_problems(doc, policy_set)
    if policy_set is not None:
        problems = problems + lint_policy_set(policy_set)
    if source.within is not None:
        problems = [p for p in problems if p.location is None or _under(p.location.file, source.within)]
    return policy_set, sorted(problems, key=Problem.sort_key)


def _under(file: str, within: Path) -> bool:
    path = Path(file).resolve()
    return path == within or within in path.parents


def github_annotation(problem: Problem) -> str:
    """A problem as a GitHub Actions workflow command (`::error file=…,line=…,col=…,title=…::…`),
    so it shows on the pull request's line."""
    kind = "error" if problem.severity == "error" else "warning"
    loc = problem.location
    props = [f"file={_escaped(loc.file, True)}", f"line={loc.line}", f"col={loc.column}"] if loc else []
    props.append(f"title=regelverk {problem.code}")
    text = _escaped(problem.message + (f" ({problem.hint})" if problem.hint else ""), False)
    return f"::{kind} {','.join(props)}::{text}"


def _escaped(text: str, prop: bool) -> str:
    """Escaped for a workflow command: a message escapes %, CR and LF; a property also : and ,."""
    text = str(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return text.replace(":", "%3A").replace(",", "%2C") if prop else text
