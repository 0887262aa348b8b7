"""Change impact: decide the same contacts under two whole policy sets and tell what differs.

The base side is the policy set at a git revision or in a folder; the other side is the working
set, or (counterfactual) the working set with each new version put in force over a window of
dates in place of the version it follows. Both sides are decided as `evaluate` decides: the same
contacts in the same order, each patient's earlier contacts as history, every policy. A
`PairEngine` decides each bucket of patients under both sets in one pass (over the same parsed
and checked contacts, in the worker processes `evaluate` uses) and passes on only what differs.

A decision differs when its status, an output, or a finding differs. Findings are compared by
what they say happened: policy, rule, result, severity, evidence and missing facts; not by the
version number (a new version with the same rules decides the same), nor by their message text
or cited source (a change of wording), which is counted apart as `reworded`. `provenance` and
any other field a decision carries is not compared.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path

import orjson

from ..errors import PolicyError
from ..language.dates import shift
from ..language.values import show
from ..loading.repository import Policy, PolicySet, load_policy_set
from ..loading.settings import Settings
from ..running.engine import Engine, cyclic_gc_paused
from ..running.parallel import evaluate_lines_in_processes, evaluate_records_in_processes
from ..running.state import Context, Entry

# How many months before the last contact an old version decided the default window opens.
DEFAULT_WINDOW_MONTHS = 3

_SAME, _INVALID, _REWORDED = 0, 1, 2
_IN_WINDOW = 4  # added to _SAME / _REWORDED for a contact dated inside a window


class ImpactInputError(Exception):
    """The base names no folder and no git revision, or git cannot read it."""


# --- the base side -------------------------------------------------------------------------


def _git(cwd: Path, *args: str, text: bool = True):
    try:
        done = subprocess.run(["git", "-C", str(cwd), *args], check=False, capture_output=True, text=text)
    except OSError as exc:
        raise ImpactInputError(f"cannot run git: {exc}") from exc
    if done.returncode != 0:
        err = done.stderr if text else done.stderr.decode("utf-8", "replace")
        raise ImpactInputError(f"git {' '.join(args)}: {err.strip() or 'failed'}")
    return done.stdout


def load_base(base: str, policies: Path, workdir: Path, settings: Settings | None = None) -> tuple[PolicySet, str]:
    """The policy set at `base`: a folder, or a git revision of the repository that holds
    `policies` (its policy folder at that revision, materialised with `git archive` in
    `workdir`). The base's policies are checked against the declared facts of `settings` (the
    working set's repository): they are the same repository's policies at another time.
    Returns the set and a label for reports. PolicyError when it does not load (problems placed
    at REV:path), ImpactInputError when `base` names nothing."""
    settings = settings or Settings(None, {})
    folder = Path(base)
    if folder.is_dir():
        return _load(folder, None, base, settings), base
    try:
        top = Path(_git(policies, "rev-parse", "--show-toplevel").strip())
    except ImpactInputError as exc:
        raise ImpactInputError(f"--base {base}: no such folder, and {policies} is not in a git repository") from exc
    try:
        _git(top, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}")
    except ImpactInputError:
        raise ImpactInputError(f"--base {base}: neither a folder nor a git revision") from None
    rel = policies.resolve().relative_to(top.resolve()).as_posix()
    if rel != "." and not _git(top, "ls-tree", "-d", base, "--", rel).strip():
        raise ImpactInputError(f"--base {base}: there is no folder {rel}/ at that revision")
    archive = _git(top, "archive", "--format=tar", base, "--", rel if rel != "." else ".", text=False)
    _unpack(archive, workdir)
    root = workdir / rel
    if not root.is_dir():
        raise ImpactInputError(f"--base {base}: there is no folder {rel}/ at that revision")
    return _load(root, workdir, f"{base}:", settings), f"{base}"


def _unpack(archive: bytes, workdir: Path) -> None:
    """The regular files of a tar archive from git, written under `workdir`; anything else (a
    link, a path that would leave the folder) is left out. (By hand rather than with
    extractall's filters, which Python 3.11 has only from 3.11.4.)"""
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar.getmembers():
            parts = Path(member.name).parts
            if not member.isfile() or Path(member.name).is_absolute() or ".." in parts:
                continue
            target = workdir.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            if source is not None:
                target.write_bytes(source.read())


def _load(root: Path, temp: Path | None, label: str, settings: Settings) -> PolicySet:
    policy_set, problems = load_policy_set(root, settings)
    if policy_set is None:
        errors = [p for p in problems if p.severity == "error"]
        if temp is not None:  # name the files as REV:path, not as the temporary folder
            errors = [replace(p, location=replace(p.location, file=_relabel(p.location.file, temp, label)))
                      if p.location and p.location.file else p for p in errors]
        raise PolicyError(errors)
    return policy_set


def _relabel(file: str, temp: Path, label: str) -> str:
    for prefix in (str(temp.resolve()) + "/", str(temp) + "/"):
        if file.startswith(prefix):
            return label + file[len(prefix):]
    return file


# --- what changed between the sets ---------------------------------------------------------


@dataclass
class VersionChanges:
    added: list[tuple[str, str]] = field(default_factory=list)  # (policy, version)
    removed: list[tuple[str, str]] = field(default_factory=list)
    changed: list[tuple[str, str]] = field(default_factory=list)  # same version, other content


def version_changes(base: PolicySet, working: PolicySet) -> VersionChanges:
    """The versions added, removed and changed (by their YAML value: layout and comments do not
    count) from the base set to the working set."""
    a = {(v.id, v.version): v for v in base.versions()}
    b = {(v.id, v.version): v for v in working.versions()}
    out = VersionChanges()
    out.added = sorted(k for k in b if k not in a)
    out.removed = sorted(k for k in a if k not in b)
    out.changed = sorted(k for k in b if k in a and a[k].document != b[k].document)
    return out


# --- the counterfactual side ---------------------------------------------------------------


@dataclass
class Window:
    """A new version put in force from `start` to `end` (both included) in place of `old`."""

    policy: str
    new: str
    old: str | None
    start: date
    end: date
    contacts: int | None = None  # contacts the old version applied to in it (a new policy: valid contacts)


def _minus(valid_from: date, valid_to: date | None, start: date, end: date) -> list[tuple[date, date | None]]:
    """A period with [start, end] cut out: zero, one or two periods."""
    pieces: list[tuple[date, date | None]] = []
    if valid_from < start:
        pieces.append((valid_from, min(valid_to, start - timedelta(days=1)) if valid_to else start - timedelta(days=1)))
    if valid_to is None or valid_to > end:
        pieces.append((max(valid_from, end + timedelta(days=1)), valid_to))
    return [(a, b) for a, b in pieces if b is None or a <= b]


def as_if_in_force(working: PolicySet, windows: list[Window]) -> PolicySet:
    """The working set with each window's new version in force over the window instead of the
    policy's other versions; elsewhere every version keeps its own dates."""
    policies = dict(working.policies)
    for w in windows:
        policy = policies[w.policy]
        pieces = []
        for v in policy.versions:
            if v.version == w.new:
                pieces.append(replace(v, valid_from=w.start, valid_to=w.end))
            pieces += [replace(v, valid_from=a, valid_to=b) for a, b in _minus(v.valid_from, v.valid_to, w.start, w.end)]
        policies[w.policy] = Policy(policy.id, tuple(sorted(pieces, key=lambda v: v.valid_from)))
    return replace(working, policies=policies)


def new_versions(base: PolicySet, working: PolicySet) -> list[tuple[str, str, str | None]]:
    """(policy, new version, old version) for each policy with a version the base lacks: its
    latest such version, and the version in force the day before it starts (else the latest
    one that starts before it; None for a new policy)."""
    known = {(v.id, v.version) for v in base.versions()}
    out = []
    for pid, policy in sorted(working.policies.items()):
        fresh = [v for v in policy.versions if (pid, v.version) not in known]
        if not fresh:
            continue
        new = max(fresh, key=lambda v: (v.valid_from, v.key))
        before = [v for v in policy.versions if v.valid_from < new.valid_from and v is not new]
        old = policy.in_force_on(new.valid_from - timedelta(days=1)) if new.valid_from > date.min else None
        if old is None and before:
            old = before[-1]
        out.append((pid, new.version, old.version if old is not None else None))
    return out


class _DatesEngine:
    """For the default windows: gives for each valid contact [its date's ordinal, a bit mask of
    the old versions that apply to it], through the same bucket machinery as PairEngine (so
    the contacts are checked in the worker processes too); 0 for an invalid one."""

    def __init__(self, working: PolicySet, olds: list):
        self.engine = Engine(working)
        self.olds = olds

    def prepare(self, records: list, line_errors, emit, own: bool = False, claimed: list | None = None):
        decisions, groups = self.engine.prepare(records, line_errors, None, own, claimed)
        marks = [d if d is None else 0 for d in decisions]
        if emit is not None:
            marks = [m if m is None else emit(m) for m in marks]
        return marks, groups

    def decide_patient(self, items: list, decisions: list, traces, explain, full, emit) -> None:
        olds = self.olds
        for ordinal, _, _, i, typed in items:
            day = typed["date"]
            mask, ctx = 0, None
            for bit, v in enumerate(olds):
                if v.in_force_on(day):
                    ctx = ctx or Context(Entry(typed, 0), [], [])
                    if self.engine.program.of(v).closures.applies(ctx) is True:
                        mask |= 1 << bit
            mark = [ordinal, mask]
            decisions[i] = mark if emit is None else emit(mark)


def default_windows(working: PolicySet, replaced: list[tuple[str, str, str | None]], contacts: list,
                    jobs: int = 1, text: bytes | None = None) -> list[Window]:
    """The default window of each replacement: the last DEFAULT_WINDOW_MONTHS months (to the
    day) up to the latest date of a contact in `contacts` the old version applies to (in force
    on its date and its applies_when true); never before the old version starts. A new policy
    has no old version: its window ends at the latest date of any valid contact, and it gets
    none when it is in force over the whole window already. A replacement with no such contact
    gets no window. One pass over the contacts, in `jobs` processes as evaluate decides."""
    versions = {(v.id, v.version): v for v in working.versions()}
    applied, dated = _days_applied(working, replaced, contacts, jobs, text)
    windows = []
    for pid, new, old in replaced:
        days = applied[pid] if old is not None else dated
        if not days:
            continue
        end = date.fromordinal(max(days))
        start = shift(end, -DEFAULT_WINDOW_MONTHS, "month") + timedelta(days=1)
        if old is not None:
            start = max(start, versions[(pid, old)].valid_from)
        elif versions[(pid, new)].in_force_on(start) and versions[(pid, new)].in_force_on(end):
            continue  # a new policy already in force over the whole window: nothing to put in place
        first, last = start.toordinal(), end.toordinal()
        windows.append(Window(pid, new, old, start, end, sum(1 for d in days if first <= d <= last)))
    return windows


def given_windows(working: PolicySet, replaced: list[tuple[str, str, str | None]], contacts: list, start: date,
                  end: date, jobs: int = 1, text: bytes | None = None) -> list[Window]:
    """A window from `start` to `end` for every replacement, each with the number of contacts
    in it that its old version applies to (for a new policy: the valid contacts in it), as
    the default windows have theirs."""
    applied, dated = _days_applied(working, replaced, contacts, jobs, text)
    first, last = start.toordinal(), end.toordinal()
    return [Window(pid, new, old, start, end,
                   sum(1 for d in (applied[pid] if old is not None else dated) if first <= d <= last))
            for pid, new, old in replaced]


def _days_applied(working: PolicySet, replaced: list[tuple[str, str, str | None]], contacts: list, jobs: int,
                  text: bytes | None) -> tuple[dict[str, list[int]], list[int]]:
    """One pass over the contacts: for each replaced policy, the day (ordinal) of each contact
    its old version applies to (in force on its date, its applies_when true); and the day of
    every valid contact."""
    versions = {(v.id, v.version): v for v in working.versions()}
    olds = [(pid, versions[(pid, old)]) for pid, _, old in replaced if old is not None]
    marks = _in_buckets(_DatesEngine(working, [v for _, v in olds]), contacts, jobs, text)
    applied: dict[str, list[int]] = {pid: [] for pid, _ in olds}
    dated: list[int] = []
    bits = [(1 << bit, applied[pid]) for bit, (pid, _) in enumerate(olds)]
    for mark in marks:
        if not mark:
            continue
        ordinal, mask = mark
        dated.append(ordinal)
        if mask:
            for bit, days in bits:
                if mask & bit:
                    days.append(ordinal)
    return applied, dated


# --- deciding both sides in one pass -------------------------------------------------------


def _finding_key(f: dict) -> tuple:
    """What a finding says happened, not how it says it: no version, message or source."""
    return (f.get("policy"), f.get("rule"), f.get("result"), f.get("severity"),
            tuple(f.get("evidence") or ()), tuple(f.get("missing") or ()))


def _worded(f: dict) -> tuple:
    return _finding_key(f) + (orjson.dumps(f.get("message"), option=orjson.OPT_SORT_KEYS), f.get("source"))


def _applied(decision: dict) -> list[str]:
    return sorted({p["id"] for p in decision["policies"]})


def _side(decision: dict, findings: list[dict]) -> dict:
    """What a report needs of one side of a differing decision."""
    return {"status": decision["status"], "outputs": decision["outputs"], "policies": _applied(decision),
            "findings": [{k: f.get(k) for k in ("policy", "version", "rule", "result", "severity", "evidence",
                                                 "missing", "message") if k in f}
                         for f in findings]}


def compare_decisions(a: dict, b: dict):
    """_SAME, _REWORDED (the findings differ in their words only), or the difference as a dict
    (`base`, `new`, each with only the findings that differ; `policies` for decisions whose
    applied policies alone differ)."""
    fa, fb = a["findings"], b["findings"]
    same_findings = fa == fb
    if same_findings and a["status"] == b["status"] and a["outputs"] == b["outputs"]:
        if len(a["policies"]) == len(b["policies"]) == 1 and a["policies"][0]["id"] == b["policies"][0]["id"]:
            return _SAME  # (the common case, quickly)
        if _applied(a) == _applied(b):
            return _SAME
    ka = Counter(map(_finding_key, fa)) if not same_findings else None
    kb = Counter(map(_finding_key, fb)) if not same_findings else None
    if a["status"] == b["status"] and a["outputs"] == b["outputs"] and ka == kb:
        pa, pb = _applied(a), _applied(b)
        if pa != pb:
            return {"policies": [f"+{p}" for p in pb if p not in pa] + [f"-{p}" for p in pa if p not in pb]}
        return _SAME if same_findings or Counter(map(_worded, fa)) == Counter(map(_worded, fb)) else _REWORDED
    if same_findings:
        only_a = only_b = []
    else:
        only_a = [f for f in fa if kb[_finding_key(f)] < ka[_finding_key(f)]]
        only_b = [f for f in fb if ka[_finding_key(f)] < kb[_finding_key(f)]]
    return {"contact": a["contact"], "base": _side(a, only_a), "new": _side(b, only_b)}


class PairEngine:
    """Decides each patient's contacts under two policy sets, over the same checked contacts,
    and gives for each contact the comparison of its two decisions instead of a decision. It
    offers the two methods the bucket machinery of parallel.py calls on an engine, so a batch
    is dealt out, decided in worker processes and gathered as `evaluate` does it."""

    def __init__(self, base: Engine, new: Engine, windows: list[Window] = ()):
        self.base, self.new = base, new
        self.spans = [(w.start, w.end) for w in windows]
        # Each version's content (policy, version, its YAML value) as a number, equal for the
        # twin versions of the two sets. A patient none of whose contacts meets versions of
        # other content on the two sides (the same outputs.yaml given) is decided the same on
        # both: it is decided once.
        kinds: dict = {}
        self.content = {}
        for engine in (base, new):
            for v in engine.policy_set.versions():
                key = (v.id, v.version, orjson.dumps(v.document, option=orjson.OPT_SORT_KEYS, default=str))
                self.content[id(v)] = kinds.setdefault(key, len(kinds))
        self.always_both = base.policy_set.outputs != new.policy_set.outputs

    def _met(self, engine: Engine, contact: dict, day: date) -> list:
        """The content of the versions in force on `day` that may apply to `contact`."""
        content = self.content
        return [content[id(v)] for v in engine.candidates(contact, day)]

    def _alike(self, items: list) -> bool:
        """Whether every contact of the patient meets versions of the same content on both sides."""
        if self.always_both:
            return False
        met, base, new = self._met, self.base, self.new
        for _, _, _, _, typed in items:
            day = typed["date"]
            if met(base, typed, day) != met(new, typed, day):
                return False
        return True

    def prepare(self, records: list, line_errors, emit, own: bool = False, claimed: list | None = None):
        decisions, groups = self.base.prepare(records, line_errors, None, own, claimed)
        # an invalid record is invalid whatever the policies (the check is the contact schema's)
        marks = [d if d is None else _INVALID for d in decisions]
        if emit is not None:
            marks = [m if m is None else emit(m) for m in marks]
        return marks, groups

    def decide_patient(self, items: list, decisions: list, traces, explain, full, emit) -> None:
        spans = self.spans
        if self._alike(items):
            for _, _, _, i, typed in items:
                mark = _SAME
                if spans:
                    day = typed["date"]
                    if any(start <= day <= end for start, end in spans):
                        mark += _IN_WINDOW
                decisions[i] = mark if emit is None else emit(mark)
            return
        before: dict = {}
        after: dict = {}
        self.base.decide_patient(items, before, {}, None, None, None)
        self.new.decide_patient(items, after, {}, None, None, None)
        for _, _, _, i, typed in items:
            compared = compare_decisions(before[i], after[i])
            if spans:
                day = typed["date"]
                if any(start <= day <= end for start, end in spans):
                    if type(compared) is int:
                        compared += _IN_WINDOW
                    else:
                        compared["in_window"] = True
            decisions[i] = compared if emit is None else emit(compared)


def compare_batch(base: PolicySet, new: PolicySet, contacts: list, windows: list[Window] = (), jobs: int = 1,
                  text: bytes | None = None) -> list:
    """Each contact's comparison (see compare_decisions; ints for those that do not differ),
    in input order. `contacts`: NDJSON lines (bytes or text) or records (dicts); `text` the
    NDJSON they were split from, if at hand. With `jobs` above 1, a large batch is decided
    in that many processes, as `evaluate` decides it."""
    return _in_buckets(PairEngine(Engine(base), Engine(new), windows), contacts, jobs, text)


def _in_buckets(engine, contacts: list, jobs: int, text: bytes | None) -> list:
    """What `engine` (an Engine, or anything with its prepare and decide_patient) gives for
    each contact, in input order: in worker processes where the batch is large enough (see
    parallel.py), else here in one go. The cyclic garbage collector is paused meanwhile, as
    for evaluate (see engine.cyclic_gc_paused)."""
    with cyclic_gc_paused():
        return _in_buckets_now(engine, contacts, jobs, text)


def _in_buckets_now(engine, contacts: list, jobs: int, text: bytes | None) -> list:
    records_given = bool(contacts) and isinstance(contacts[0], dict)
    if records_given:
        done = evaluate_records_in_processes(engine, contacts, jobs)
        if done is not None:
            return done
        records, errors = list(contacts), None
    else:
        done = evaluate_lines_in_processes(engine, contacts, jobs, text)
        if done is not None:
            return [_read_mark(line) for line in done]
        from ..running.ndjson import parse_ndjson

        records, errors = parse_ndjson(contacts)
    marks, groups = engine.prepare(records, errors, None, own=not records_given)
    for items in groups.values():
        engine.decide_patient(items, marks, {}, None, None, None)
    return marks


def _read_mark(line: bytes):
    return line[0] - 48 if len(line) == 2 else orjson.loads(line)  # b"0\n" … b"6\n": a bare digit


# --- the report ----------------------------------------------------------------------------


@dataclass
class Example:
    contact: str
    base: dict
    new: dict


@dataclass
class Group:
    output: str  # an output's name, "status", "policies" or "findings"
    transition: str  # "true → false", "+<code>" (a code a union output gained), "decided → no_policy", …
    count: int = 0
    findings: Counter = field(default_factory=Counter)  # (side, policy, version, rule) -> decisions
    examples: list[Example] = field(default_factory=list)


@dataclass
class ImpactReport:
    base: str
    working: str
    source: str
    contacts: int = 0  # decisions made (one per input line)
    invalid: int = 0
    changed: int = 0
    flipped: int = 0  # of those, decisions whose status or an output differs (not only findings)
    reworded: int = 0  # decisions equal but for the words of their findings
    policies_only: Counter = field(default_factory=Counter)  # "+policy" / "-policy" -> decisions
    counterfactual: bool = False
    windows: list[Window] = field(default_factory=list)
    no_window: list[tuple[str, str, str | None]] = field(default_factory=list)  # new versions left out, see default_windows
    in_window: int = 0
    versions: VersionChanges = field(default_factory=VersionChanges)
    groups: list[Group] = field(default_factory=list)


def transitions(diff: dict) -> list[tuple[str, str]]:
    """The (output, transition) groups one differing decision belongs to."""
    a, b = diff["base"], diff["new"]
    out = []
    if a["status"] != b["status"]:
        out.append(("status", f"{a['status']} → {b['status']}"))
    else:
        for name in dict.fromkeys([*a["outputs"], *b["outputs"]]):
            va, vb = a["outputs"].get(name), b["outputs"].get(name)
            if va == vb:
                continue
            if isinstance(va, list) and isinstance(vb, list):
                out.append((name, " ".join([f"+{c}" for c in vb if c not in va] + [f"-{c}" for c in va if c not in vb])))
            else:
                out.append((name, f"{show(va)} → {show(vb)}"))
    if a["status"] == b["status"]:  # (a change of status says it already)
        out += [("policies", f"+{p}") for p in b["policies"] if p not in a["policies"]]
        out += [("policies", f"-{p}") for p in a["policies"] if p not in b["policies"]]
    if not out:
        out.append(("findings", " ".join(_finding_changes(a["findings"], b["findings"]))))
    return out


def _finding_changes(fa: list[dict], fb: list[dict]) -> list[str]:
    """`~policy/rule (evidence)` for a rule with a finding on both sides (and what differs),
    `+…`/`-…` for one on one side only."""
    ka = {(f["policy"], f["rule"]): f for f in fa}
    kb = {(f["policy"], f["rule"]): f for f in fb}
    out = []
    for key in dict.fromkeys([*ka, *kb]):
        name = "/".join(key)
        if key in ka and key in kb:
            what = [k for k in ("result", "severity", "evidence", "missing") if ka[key].get(k) != kb[key].get(k)]
            out.append(f"~{name} ({', '.join(what) or 'changed'})")
        elif key in kb:
            out.append(f"+{name} ({kb[key]['result']})")
        else:
            out.append(f"-{name} ({ka[key]['result']})")
    return out


def rules_deciding(*policy_sets: PolicySet) -> dict:
    """(policy, version, rule) -> the outputs the rule sets, for the rules of the sets."""
    return {(v.id, v.version, r.id): r.decides for s in policy_sets for v in s.versions() for r in v.rules}


def summarise(marks: list, report: ImpactReport, examples: int = 3, decides: dict | None = None) -> ImpactReport:
    """Fill `report` from each contact's comparison: counts, and the groups in order of size.
    `decides` (see rules_deciding): a group of an output lists only the differing findings of
    rules that set that output, where any do."""
    groups: dict[tuple[str, str], Group] = {}
    report.contacts = len(marks)
    for mark in marks:
        if type(mark) is int:
            if mark == _INVALID:
                report.invalid += 1
                continue
            if mark >= _IN_WINDOW:
                report.in_window += 1
                mark -= _IN_WINDOW
            if mark == _REWORDED:
                report.reworded += 1
            continue
        if mark.get("in_window"):
            report.in_window += 1
        if "base" not in mark:
            report.policies_only.update(mark["policies"])
            continue
        report.changed += 1
        keys = transitions(mark)
        if keys[0][0] not in ("findings", "policies"):
            report.flipped += 1
        for key in keys:
            group = groups.get(key)
            if group is None:
                group = groups[key] = Group(*key)
            group.count += 1
            found = [(side, f["policy"], f["version"], f["rule"]) for side in ("base", "new") for f in mark[side]["findings"]]
            if decides and key[0] not in ("status", "policies", "findings"):
                own = [k for k in found if key[0] in decides.get(k[1:], ())]
                found = own or found
            group.findings.update(found)
            if len(group.examples) < examples:
                group.examples.append(Example(str(mark["contact"]), mark["base"], mark["new"]))
    report.groups = sorted(groups.values(), key=lambda g: (-g.count, g.output, g.transition))
    return report



def run_impact(base: PolicySet, working: PolicySet, contacts: list, *, base_label: str, working_label: str,
               source: str, as_if: bool = False, window: tuple[date, date] | None = None, jobs: int = 1,
               examples: int = 3, text: bytes | None = None) -> ImpactReport:
    """The impact of going from `base` to `working` on `contacts` (NDJSON lines or records).
    With `as_if`, each new version is put in force over `window` (else its default window, see
    default_windows) in place of the version it follows."""
    report = ImpactReport(base_label, working_label, source, counterfactual=as_if,
                          versions=version_changes(base, working))
    other = working
    if as_if:
        replaced = new_versions(base, working)
        if window is not None:
            report.windows = given_windows(working, replaced, contacts, window[0], window[1], jobs, text)
        else:
            report.windows = default_windows(working, replaced, contacts, jobs, text)
            placed = {(w.policy, w.new) for w in report.windows}
            report.no_window = [r for r in replaced if (r[0], r[1]) not in placed]
        other = as_if_in_force(working, report.windows)
    marks = compare_batch(base, other, contacts, report.windows, jobs, text)
    return summarise(marks, report, examples, rules_deciding(base, other))
