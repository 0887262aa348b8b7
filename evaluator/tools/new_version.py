"""Start a new version of a policy: copy the latest version file, date it, end the previous one.

Both files are edited with ruamel.yaml in round-trip mode (as `fmt` does), so comments and
layout stay as the author wrote them. The change is made in a copy of the policy folder first
and validated there; the real files are written only when the result loads without errors.
"""

from __future__ import annotations

import io
import re
import shutil
import tempfile
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path

from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from ..errors import Problem, closest
from ..loading.policy import PolicyVersion, version_key
from ..loading.repository import PolicySet, load_policy_set
from ..loading.yamlsource import display_path
from .fmt import line_ends, yaml_writer
from .lint import lint_policy_set
from .testing import find_test_files, load_cases

VERSION = re.compile(r"^[0-9]+(\.[0-9]+)*$")


class NewVersionError(Exception):
    """The request cannot be carried out as asked (a usage error): the message says why."""


@dataclass
class NewVersion:
    policy: str
    previous: PolicyVersion
    version: str
    valid_from: date
    new_file: Path
    old_file: Path
    old_valid_to: date | None  # the previous version's end before the change
    new_old_valid_to: date | None  # … and after it
    texts: dict[Path, str] = field(default_factory=dict)  # file -> its new text, with the old file's line ends
    problems: list[Problem] = field(default_factory=list)  # what validating the result found

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)


def next_version(version: str) -> str:
    """The next major version, keeping the number of parts: 4.0 → 5.0, 1 → 2, 2.1.3 → 3.0.0."""
    parts = version.split(".")
    return ".".join([str(int(parts[0]) + 1)] + ["0"] * (len(parts) - 1))


def _dump(doc) -> str:
    out = io.StringIO()
    yaml_writer().dump(doc, out)
    return out.getvalue()


def _set_after(mapping: CommentedMap, key: str, value, after: str) -> None:
    if key in mapping:
        mapping[key] = value
    else:
        keys = list(mapping)
        mapping.insert(keys.index(after) + 1 if after in keys else len(keys), key, value)


def plan(policy_set: PolicySet, policy_id: str, valid_from: date, version: str | None = None) -> NewVersion:
    """Work out the new version and both files' new text, and validate them in a copy."""
    policy = policy_set.policies.get(policy_id)
    if policy is None:
        guess = closest(policy_id, policy_set.policies)
        raise NewVersionError(f"there is no policy '{policy_id}'" + (f"; did you mean '{guess}'?" if guess else ""))
    previous = max(policy.versions, key=lambda v: v.key)
    if not valid_from > previous.valid_from:
        raise NewVersionError(f"the new version must start after version {previous.version} does "
                              f"({previous.valid_from}); {valid_from} is not after it")
    new = version or next_version(previous.version)
    if not VERSION.match(new):
        raise NewVersionError(f"'{new}' is not a version number (e.g. 5.0)")
    if version_key(new) <= previous.key:
        raise NewVersionError(f"version {new} is not after the latest version {previous.version}")
    root = Path(policy_set.root)
    old_file = root / previous.region / previous.id / f"{previous.version}.yaml"
    new_file = old_file.with_name(f"{new}.yaml")
    if new_file.exists():
        raise NewVersionError(f"{new_file} exists already")

    y = yaml_writer()
    with old_file.open(encoding="utf-8", newline="") as handle:
        raw = handle.read()
    # Both files keep the line ends the old one has: ruamel's text is given them back.
    old_text, newline = line_ends(raw)
    new_doc = y.load(old_text)
    old_doc = y.load(old_text)

    quoted = new_doc.get("version")
    new_doc["version"] = type(quoted)(new) if isinstance(quoted, str) and type(quoted) is not str \
        else DoubleQuotedScalarString(new)
    new_doc["valid_from"] = valid_from
    if "valid_to" in new_doc:
        del new_doc["valid_to"]  # the new version is in force until further notice

    # The previous version ends the day before, unless it has ended already: shorten, never lengthen.
    end = valid_from - timedelta(days=1)
    changed_end = previous.valid_to is None or previous.valid_to > end
    if changed_end:
        _set_after(old_doc, "valid_to", end, after="valid_from")

    result = NewVersion(policy_id, previous, new, valid_from, new_file, old_file, previous.valid_to,
                        end if changed_end else previous.valid_to)
    result.texts[new_file] = _dump(new_doc).replace("\n", newline)
    if changed_end:
        result.texts[old_file] = _dump(old_doc).replace("\n", newline)

    with tempfile.TemporaryDirectory(prefix="regelverk-new-version-") as tmp:
        copy = Path(tmp) / "policies"
        shutil.copytree(root, copy)
        for path, text in result.texts.items():
            (copy / path.relative_to(root)).write_text(text, encoding="utf-8", newline="")
        checked, problems = load_policy_set(copy, policy_set.settings)
        if checked is not None:
            problems = problems + lint_policy_set(checked)
        # Show the problems at the real places, not in the temporary copy; of the warnings,
        # only those about this policy (the others were there before).
        folder = str(copy / previous.region / previous.id)
        result.problems = [_relocate(p, str(copy), root) for p in problems
                           if p.severity == "error" or (p.location is not None and p.location.file.startswith(folder))]
    return result


def _relocate(problem: Problem, tmp: str, root: Path) -> Problem:
    loc = problem.location
    if loc is None or tmp not in loc.file:
        return problem
    rel = loc.file.split(tmp, 1)[1].lstrip("/")
    return replace(problem, location=replace(loc, file=display_path(root / rel)))



@dataclass(frozen=True)
class DatedCase:
    """A policy test case and the date of its contact."""

    file: str
    line: int
    name: str
    date: date


def cases_from(policy_set: PolicySet, policy_id: str, valid_from: date) -> list[DatedCase]:
    """The test cases of `policy_id` whose contact is dated `valid_from` or later: once a new
    version starts that day, they test it, not the version they were written for. A case is the
    policy's when its file lies in the policy's folder or names the policy (`policy:`)."""
    root = Path(policy_set.root)
    policy = policy_set.policies[policy_id]
    folder = (root / policy.latest.region / policy_id).resolve()
    found = []
    for path in find_test_files(root):
        doc, _ = load_cases(path)
        if doc is None:  # (validate and test report an unreadable test file)
            continue
        spec = doc.value
        if spec.get("policy") != policy_id and not path.resolve().is_relative_to(folder):
            continue
        default = (spec.get("defaults") or {}).get("date")
        for i, case in enumerate(spec["cases"]):
            day = _as_date((case.get("contact") or {}).get("date", default))
            if day is not None and day >= valid_from:
                found.append(DatedCase(doc.file, doc.location(("cases", i)).line, case["name"], day))
    return found


def _as_date(value) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def write(result: NewVersion) -> None:
    for path, text in result.texts.items():
        path.write_text(text, encoding="utf-8", newline="")  # the line ends as they are in the text
