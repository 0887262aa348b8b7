"""A policy test run as text for a terminal, as JSON, or as JUnit XML (what CI systems show)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from ..errors import Code
from ..language.values import show, show_bare
from ..loading.repository import PolicySet
from .testing import TestRun

# Characters XML 1.0 cannot hold at all, even escaped (control characters but tab, LF and CR).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _x(text) -> str:
    """Text for an XML attribute or element: what XML cannot hold shown as \\xNN."""
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def failure_lines(failures) -> list[str]:
    """One line per failed expectation: what, expected, actual."""
    return [f"{what}: expected {show_bare(expected)}, got {show_bare(actual)}" for what, expected, actual in failures]


def coverage_rows(run: TestRun, policy_set: PolicySet) -> list[dict]:
    return [{"policy": pid, "version": version, "rule": rule, "fires": fired, "does_not_fire": not_fired,
             "unknown_seen": unknown}
            for pid, version, rule, fired, not_fired, unknown in run.coverage.table(policy_set)]


def to_text(run: TestRun, policy_set: PolicySet, *, verbose: bool = False, coverage: bool = False) -> str:
    """The report for a terminal: the problems of unreadable test files, each failed case with
    what it expected and got (every case with `verbose`), the coverage table with `coverage`,
    and the counts."""
    out = [p.render() for p in run.problems]
    for r in run.results:
        if r.ok:
            if verbose:
                out.append(f"PASS {r.location}  {r.name}")
            continue
        out.append(f"FAIL {r.location}  {r.name}")
        width = max(len(w) for w, _, _ in r.failures)
        out.append(f"     {'':{width}}  {'expected':<28}  actual")
        out += [f"     {what:{width}}  {a:<28}  {b}" for what, a, b in (_shown(*f) for f in r.failures)]
    if coverage:
        out += ["", "rule coverage (fires / does not fire / unknown seen):"]
        for pid, version, rule, fired, not_fired, unknown in run.coverage.table(policy_set):
            mark = "ok " if fired and not_fired else "-- "
            flags = f"{'fires' if fired else '     '}  {'not' if not_fired else '   '}  {'unknown' if unknown else ''}"
            out.append(f"  {mark}{pid} {version} {rule:<32} {flags}")
        out.append(f"rule coverage: {run.coverage.percent(policy_set):.1f}%")
    unread = {p.location.file for p in run.problems if p.severity == "error" and p.location and p.code != Code.NO_TESTS}
    out.append(f"{run.passed} passed, {run.failed} failed"
               + (f"; {len(unread)} test file(s) could not be read (above), their cases not run" if unread else ""))
    return "\n".join(out) + "\n"


def _shown(what: str, expected, actual) -> tuple[str, str, str]:
    """A failure's row: the two values bare, or quoted where bare they would look the same (the
    text "false" against the yes/no value false)."""
    a, b = show_bare(expected), show_bare(actual)
    if a == b:
        a, b = show(expected), show(actual)
    return what, a, b


def to_json(run: TestRun, policy_set: PolicySet, min_coverage: float | None) -> str:
    percent = run.coverage.percent(policy_set)
    report = {
        "ok": run.ok and (min_coverage is None or percent >= min_coverage),
        "passed": run.passed,
        "failed": run.failed,
        "cases": [{"file": r.file, "line": r.line, "name": r.name, "ok": r.ok,
                   "failures": [{"what": w, "expected": e, "actual": a} for w, e, a in r.failures]}
                  for r in run.results],
        "problems": [p.to_json() for p in run.problems],
        "coverage": {"percent": round(percent, 1), "min_coverage": min_coverage,
                     "policies": sorted(run.coverage.policies) if run.coverage.policies is not None else None,
                     "rules": coverage_rows(run, policy_set)},
    }
    return json.dumps(report, ensure_ascii=False, indent=2, default=str)


def to_junit(run: TestRun, policy_set: PolicySet, min_coverage: float | None) -> str:
    """One <testsuite> per test file, one <testcase> per case (its failures in <failure>); a
    test file that could not be read is a suite with one <error>; with a required coverage, a
    suite "rule coverage" whose one case fails below it."""
    root = ET.Element("testsuites", name="regelverk test")
    suites: dict[str, ET.Element] = {}

    def suite(name: str) -> ET.Element:
        if name not in suites:
            suites[name] = ET.SubElement(root, "testsuite", name=name)
        return suites[name]

    counts: dict[str, list[int]] = {}  # suite -> [tests, failures, errors]
    for r in run.results:
        element = ET.SubElement(suite(r.file), "testcase", name=r.name, classname=_classname(r.file),
                                file=r.file, line=str(r.line))
        tally = counts.setdefault(r.file, [0, 0, 0])
        tally[0] += 1
        if not r.ok:
            tally[1] += 1
            lines = failure_lines(r.failures)
            failure = ET.SubElement(element, "failure", message=lines[0], type="expectation")
            failure.text = f"{r.location}  {r.name}\n" + "\n".join(lines)
    for p in run.problems:
        if p.severity != "error":
            continue
        name = p.location.file if p.location else "regelverk test"
        element = ET.SubElement(suite(name), "testcase", name="the test file can be read",
                                classname=_classname(name), file=name,
                                line=str(p.location.line if p.location else 1))
        error = ET.SubElement(element, "error", message=p.message, type=p.code)
        error.text = p.render()
        tally = counts.setdefault(name, [0, 0, 0])
        tally[0] += 1
        tally[2] += 1
    if min_coverage is not None:
        percent = run.coverage.percent(policy_set)
        name = "rule coverage"
        element = ET.SubElement(suite(name), "testcase", name=f"rule coverage at least {min_coverage:g}%",
                                classname="regelverk.coverage")
        tally = counts.setdefault(name, [1, 0, 0])
        if percent < min_coverage:
            tally[1] += 1
            missing = [f"{row['policy']} {row['version']} {row['rule']}: "
                       + ", ".join(w for w, seen in (("fires", row["fires"]), ("does not fire", row["does_not_fire"])) if not seen)
                       for row in coverage_rows(run, policy_set) if not (row["fires"] and row["does_not_fire"])]
            failure = ET.SubElement(element, "failure", type="coverage",
                                    message=f"rule coverage {percent:.1f}% is below the required {min_coverage:g}%")
            failure.text = "never seen:\n" + "\n".join(missing)
    total = [0, 0, 0]
    for name, element in suites.items():
        tests, failures, errors = counts.get(name, [0, 0, 0])
        element.set("tests", str(tests))
        element.set("failures", str(failures))
        element.set("errors", str(errors))
        element.set("skipped", "0")
        total = [total[0] + tests, total[1] + failures, total[2] + errors]
    root.set("tests", str(total[0]))
    root.set("failures", str(total[1]))
    root.set("errors", str(total[2]))
    for element in root.iter():
        element.attrib = {k: _x(v) for k, v in element.attrib.items()}
        if element.text:
            element.text = _x(element.text)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _classname(file: str) -> str:
    """A test file's path as the dotted name JUnit viewers group by:
    policies/<region>/<policy>/caps.test.yaml -> policies.<region>.<policy>.caps."""
    stem = file.replace("\\", "/").removesuffix(".yaml").removesuffix(".test")
    return ".".join(part for part in stem.split("/") if part not in ("", ".", ".."))
