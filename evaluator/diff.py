"""Compare two versions of a policy: what changed in its text, and how its decisions change.

A side is a policy file, `POLICY_ID@REV` (the policy's latest version file at a git revision),
or a bare `POLICY_ID` (its latest version file in the policy folder on disk). Each side is
loaded on its own, as a policy set holding only that one version, so its impact on a batch of
contacts is what that version alone decides: a contact outside the version's dates gets
`no_policy` on that side, which is the honest answer.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from .api import Repository
from .errors import PolicyError
from .policy import PolicyVersion, version_key
from .repository import OUTPUTS_FILE, TEST_SUFFIX, PolicySet, load_policy_set
from .settings import LocateError, Settings, locate_policies
from .yamlsource import display_path, parse_yaml

METADATA_KEYS = ("id", "version", "title", "issuer", "region", "valid_from", "valid_to", "description", "applies_when")
RULE_KEYS = ("section", "passage", "reading", "when", "then", "otherwise", "severity", "message")


class DiffInputError(Exception):
    """A side names no policy file, no policy or no git revision: the command was called wrongly."""


# --- reading a side ------------------------------------------------------------------------


@dataclass
class Side:
    """One side of a diff: where it came from and its single version, loaded."""

    label: str  # as a reviewer reads it: a path, or REV:path
    text: str
    outputs_text: str
    policy_set: PolicySet | None = None
    settings: Settings | None = None  # the repository whose declared facts the policy reads

    @property
    def version(self) -> PolicyVersion:
        (policy,) = self.policy_set.policies.values()
        return policy.versions[0]


def _git(cwd: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", "-C", str(cwd), *args], check=False, capture_output=True, text=True,
                              encoding="utf-8")
    except OSError as exc:
        raise DiffInputError(f"cannot run git: {exc}") from exc
    if done.returncode != 0:
        raise DiffInputError(f"git {' '.join(args)}: {done.stderr.strip() or 'failed'}")
    return done.stdout


def _latest(paths: list[str], policy_id: str) -> str | None:
    """The latest version file of a policy among paths <…>/<region>/<id>/<version>.yaml."""
    found = []
    for p in paths:
        parts = p.split("/")
        if (len(parts) >= 3 and parts[-2] == policy_id and parts[-1].endswith(".yaml")
                and not parts[-1].endswith(TEST_SUFFIX)):
            found.append((version_key(parts[-1][: -len(".yaml")]), p))
    return max(found)[1] if found else None


def _from_git(policy_id: str, rev: str, root: Path) -> Side:
    top = Path(_git(root, "rev-parse", "--show-toplevel").strip())
    rel = root.resolve().relative_to(top.resolve()).as_posix()
    prefix = "" if rel == "." else rel + "/"
    _git(top, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    listed = _git(top, "ls-tree", "-r", "--name-only", rev, "--", rel).splitlines()
    path = _latest(listed, policy_id)
    if path is None:
        raise DiffInputError(f"there is no policy '{policy_id}' under {prefix or './'} at revision {rev}")
    text = _git(top, "show", f"{rev}:{path}")
    outputs_path = prefix + OUTPUTS_FILE
    outputs = (_git(top, "show", f"{rev}:{outputs_path}") if outputs_path in listed
               else _outputs_text(root))
    return Side(f"{rev}:{path}", text, outputs)


def _outputs_text(root: Path | None) -> str:
    if root is not None and (root / OUTPUTS_FILE).is_file():
        return (root / OUTPUTS_FILE).read_text(encoding="utf-8")
    raise DiffInputError(f"cannot find the outputs.yaml of the policy folder {root}")


def _read(path: Path, label: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DiffInputError(f"cannot read {label}: {exc}") from exc


def _from_disk(policy_id: str, root: Path) -> Side:
    paths = [p.relative_to(root).as_posix() for p in root.rglob("*.yaml")]
    rel = _latest(paths, policy_id)
    if rel is None:
        raise DiffInputError(f"'{policy_id}' is neither a file nor a policy in {root}")
    return Side(display_path(root / rel), _read(root / rel, rel), _outputs_text(root))



def resolve_side(spec: str, policies_root: Path | None = None) -> Side:
    """Read one side: a file, POLICY_ID@REV, or POLICY_ID; then load it as a policy set of its own."""
    path = Path(spec)
    try:
        # A file is read with the policy folder and repository it stands in (a loose file:
        # with the policies the command means); a policy id is looked up in the policies the
        # command means (settings.locate_policies).
        source = None
        if path.is_file():
            try:
                source = locate_policies(path.parent)
            except LocateError:
                pass
        source = source or locate_policies(policies_root)
    except LocateError as exc:
        raise DiffInputError(str(exc)) from exc
    root = source.root
    if path.is_file():
        side = Side(display_path(path), _read(path, spec), _outputs_text(root))
    elif "@" in spec:
        policy_id, rev = spec.rsplit("@", 1)
        if not policy_id or not rev:
            raise DiffInputError(f"'{spec}': write POLICY_ID@REVISION, e.g. my-policy@HEAD~1")
        side = _from_git(policy_id, rev, root)
    elif path.suffix in (".yaml", ".yml") or "/" in spec:
        raise DiffInputError(f"there is no file {spec}")
    else:
        side = _from_disk(spec, root)
    side.settings = source.settings
    _load(side)
    return side


def _load(side: Side) -> None:
    """Load the side as a policy set holding only its version; PolicyError when it does not load."""
    doc, problems = parse_yaml(side.text, side.label)
    if doc is None or problems:
        raise PolicyError(problems)
    value = doc.value if isinstance(doc.value, dict) else {}
    # The file's own region, id and version name its place; anything odd (a schema error the
    # load reports anyway) must not lead the file out of the temporary folder.
    place = [str(value.get(k) or "") for k in ("region", "id", "version")]
    place = [p if re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]*", p) else "unknown" for p in place]
    # Everything is compiled into memory by the load, so the folder can go right after it.
    with tempfile.TemporaryDirectory(prefix="regelverk-diff-") as tmp:
        root = Path(tmp)
        (root / OUTPUTS_FILE).write_text(side.outputs_text, encoding="utf-8")
        target = root / place[0] / place[1] / f"{place[2]}.yaml"
        target.parent.mkdir(parents=True)
        target.write_text(side.text, encoding="utf-8")
        policy_set, problems = load_policy_set(root, side.settings or Settings(None, {}))
        shown = display_path(target)
    if policy_set is None:
        raise PolicyError([
            replace(p, location=replace(p.location, file=side.label)) if p.location and p.location.file == shown else p
            for p in problems if p.severity == "error"])
    side.policy_set = policy_set


# --- what changed --------------------------------------------------------------------------


def _normal(value):
    """A value as compared: text with its line breaks folded, dates as ISO text."""
    if isinstance(value, str):
        return " ".join(value.split())
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def show(value) -> str:
    """A value as a reviewer reads it, in the policy file's own notation."""
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False) if (value == "" or any(c in value for c in ",:{}[]\"'#")
                                                          or value.strip() != value) else value
    return str(value)


@dataclass
class Change:
    what: str  # "valid_to", "source.validity", "max_per_week", "message.sv" …
    old: object
    new: object

    def to_json(self) -> dict:
        return {"what": self.what, "old": self.old, "new": self.new}


@dataclass
class RuleChange:
    id: str
    changes: list[Change]

    @property
    def keys(self) -> list[str]:
        return list(dict.fromkeys(c.what.split(".")[0] for c in self.changes))


@dataclass
class VersionDiff:
    policy: str
    old_label: str
    new_label: str
    old_version: str
    new_version: str
    metadata: list[Change] = field(default_factory=list)
    parameters: list[Change] = field(default_factory=list)  # old None: added; new None: removed
    rules_added: list[dict] = field(default_factory=list)
    rules_removed: list[dict] = field(default_factory=list)
    rules_changed: list[RuleChange] = field(default_factory=list)
    order_changed: bool = False

    @property
    def empty(self) -> bool:
        return not (self.metadata or self.parameters or self.rules_added or self.rules_removed
                    or self.rules_changed or self.order_changed)


def _parameter(raw):
    """(value, type, description) of a parameter, written short or in full."""
    if isinstance(raw, dict):
        return _normal(raw.get("value")), raw.get("type"), _normal(raw.get("description"))
    return _normal(raw), None, None


def _changes(old: dict, new: dict, keys, prefix: str = "") -> list[Change]:
    out = []
    for key in keys:
        a, b = _normal(old.get(key)), _normal(new.get(key))
        if a != b:
            out.append(Change(prefix + key, a, b))
    return out


def compare(old: PolicyVersion, new: PolicyVersion, old_label: str = "", new_label: str = "") -> VersionDiff:
    """What changed from one version to another, in the policy file's terms."""
    a, b = old.document, new.document
    diff = VersionDiff(new.id if new.id == old.id else f"{old.id} → {new.id}", old_label or old.file,
                       new_label or new.file, old.version, new.version)
    diff.metadata = _changes(a, b, METADATA_KEYS)
    sa, sb = a.get("source") or {}, b.get("source") or {}
    diff.metadata += _changes(sa, sb, list(dict.fromkeys([*sa, *sb])), "source.")

    pa, pb = a.get("parameters") or {}, b.get("parameters") or {}
    for name in dict.fromkeys([*pa, *pb]):
        if name not in pb:
            diff.parameters.append(Change(name, _parameter(pa[name])[0], None))
        elif name not in pa:
            diff.parameters.append(Change(name, None, _parameter(pb[name])[0]))
        else:
            (va, ta, da), (vb, tb, db) = _parameter(pa[name]), _parameter(pb[name])
            if va != vb:
                diff.parameters.append(Change(name, va, vb))
            if ta != tb and ta and tb:
                diff.parameters.append(Change(f"{name}.type", ta, tb))
            if da != db:
                diff.parameters.append(Change(f"{name}.description", da, db))

    ra = {r["id"]: r for r in a.get("rules") or []}
    rb = {r["id"]: r for r in b.get("rules") or []}
    diff.rules_removed = [r for rid, r in ra.items() if rid not in rb]
    diff.rules_added = [r for rid, r in rb.items() if rid not in ra]
    for rid, old_rule in ra.items():
        new_rule = rb.get(rid)
        if new_rule is None:
            continue
        changes = _changes(old_rule, new_rule, [k for k in RULE_KEYS if k != "message"])
        changes += _changes(old_rule.get("message") or {}, new_rule.get("message") or {}, ("sv", "en"), "message.")
        changes.sort(key=lambda c: RULE_KEYS.index(c.what.split(".")[0]))
        if changes:
            diff.rules_changed.append(RuleChange(rid, changes))
    common_a = [rid for rid in ra if rid in rb]
    common_b = [rid for rid in rb if rid in ra]
    diff.order_changed = common_a != common_b
    return diff


# --- impact on contacts --------------------------------------------------------------------


@dataclass
class Example:
    contact: str
    changes: list[Change]  # what: "status" or an output name


@dataclass
class Impact:
    source: str
    contacts: int
    applies_old: int
    applies_new: int
    changed: int  # decisions whose status or outputs differ
    findings_changed: int  # decisions whose status and outputs agree but whose findings differ
    by_output: dict = field(default_factory=dict)  # name -> Counter((old, new) -> n)
    examples: list[Example] = field(default_factory=list)


def _finding_keys(decision: dict) -> list:
    return sorted((f.get("rule") or "", f.get("severity") or "") for f in decision.get("findings", []))


def impact(old: Side, new: Side, lines: list[str], source: str, examples: int = 5) -> Impact:
    """How the decisions on NDJSON `lines` change from the old version to the new one."""
    before = Repository(old.policy_set).evaluate_lines(lines)
    after = Repository(new.policy_set).evaluate_lines(lines)
    result = Impact(source, len(before), sum(d["status"] == "decided" for d in before),
                    sum(d["status"] == "decided" for d in after), 0, 0)
    for d1, d2 in zip(before, after, strict=True):
        changes = []
        if d1["status"] != d2["status"]:
            changes.append(Change("status", d1["status"], d2["status"]))
        for name in dict.fromkeys([*d1["outputs"], *d2["outputs"]]):
            v1, v2 = d1["outputs"].get(name), d2["outputs"].get(name)
            if v1 != v2:
                changes.append(Change(name, v1, v2))
                result.by_output.setdefault(name, Counter())[(json.dumps(v1), json.dumps(v2))] += 1
        if changes:
            result.changed += 1
            if len(result.examples) < examples:
                result.examples.append(Example(str(d1["contact"]), changes))
        elif _finding_keys(d1) != _finding_keys(d2):
            result.findings_changed += 1
    return result


# --- rendering -----------------------------------------------------------------------------


def _rule_summary(rule: dict) -> list[str]:
    lines = [f"when {_normal(rule.get('when'))}"]
    if rule.get("then"):
        lines.append(f"then {show(rule['then'])}")
    if rule.get("otherwise"):
        lines.append(f"otherwise {show(rule['otherwise'])}")
    lines.append(f"severity {rule.get('severity')}")
    return lines


def _change_words(c: Change) -> str:
    if c.what == "valid_to":  # no valid_to: in force until further notice
        return f"valid_to: {show(c.old) if c.old else 'open'} → {show(c.new) if c.new else 'open'}"
    if c.old is None:
        return f"{c.what}: added, {show(c.new)}"
    if c.new is None:
        return f"{c.what}: removed (was {show(c.old)})"
    return f"{c.what}: {show(c.old)} → {show(c.new)}"


def _impact_lines(result: Impact) -> list[str]:
    out = [(f"{result.changed} of {result.contacts} decision(s) change "
            f"(the policy applies to {result.applies_old} contact(s) before, {result.applies_new} after)")]
    if result.findings_changed:
        out.append(f"{result.findings_changed} more decision(s) keep their outputs but change their findings")
    for name, counts in result.by_output.items():
        total = sum(counts.values())
        how = "; ".join(f"{_plain(a)} → {_plain(b)}: {n}"
                        for (a, b), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        out.append(f"{name}: {total} ({how})")
    return out


def _plain(encoded: str) -> str:
    return show(json.loads(encoded)) if encoded != "null" else "null"


def _example_words(e: Example) -> str:
    return f"{e.contact}: " + "; ".join(
        f"{c.what} {_plain(json.dumps(c.old))} → {_plain(json.dumps(c.new))}" for c in e.changes)


def render_text(diff: VersionDiff, result: Impact | None = None) -> str:
    out = [f"{diff.policy} {diff.old_version} → {diff.new_version}",
           f"  old: {diff.old_label}", f"  new: {diff.new_label}"]
    if diff.empty:
        out.append("")
        out.append("No changes.")
    if diff.metadata:
        out += ["", "Metadata and dates:"] + [f"  {_change_words(c)}" for c in diff.metadata]
    if diff.parameters:
        out += ["", "Parameters:"] + [f"  {_change_words(c)}" for c in diff.parameters]
    if diff.rules_added or diff.rules_removed or diff.rules_changed or diff.order_changed:
        out += ["", "Rules:"]
        for r in diff.rules_added:
            out.append(f"  + {r['id']} (added, section {r.get('section')})")
            out += [f"      {line}" for line in _rule_summary(r)]
        for r in diff.rules_removed:
            out.append(f"  - {r['id']} (removed, section {r.get('section')})")
            out += [f"      was: {line}" for line in _rule_summary(r)]
        for rc in diff.rules_changed:
            out.append(f"  ~ {rc.id} (changed: {', '.join(rc.keys)})")
            for c in rc.changes:
                out.append(f"      {c.what}: {show(c.old)}")
                out.append(f"      {' ' * len(c.what)}  → {show(c.new)}")
        if diff.order_changed:
            out.append("  the order of the rules changed")
    if result is not None:
        out += ["", f"Impact on {result.source}:"] + [f"  {line}" for line in _impact_lines(result)]
        if result.examples:
            out.append("  examples:")
            out += [f"    {_example_words(e)}" for e in result.examples]
    return "\n".join(out) + "\n"


def _md(value) -> str:
    """A value in a Markdown table cell: code, with the characters that would break the table escaped."""
    return "`" + show(value).replace("`", "'").replace("|", "\\|") + "`" if value is not None else "*(none)*"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(diff: VersionDiff, result: Impact | None = None) -> str:
    out = [f"### `{diff.policy}` {diff.old_version} → {diff.new_version}", "",
           f"Old: `{diff.old_label}`  ", f"New: `{diff.new_label}`"]
    if diff.empty:
        out += ["", "No changes."]
    for title, changes in (("Metadata and dates", diff.metadata), ("Parameters", diff.parameters)):
        if changes:
            out += ["", f"#### {title}", "", "| | old | new |", "|---|---|---|"]
            out += [f"| `{c.what}` | {_md(c.old)} | {_md(c.new)} |" for c in changes]
    if diff.rules_added or diff.rules_removed or diff.rules_changed or diff.order_changed:
        out += ["", "#### Rules", ""]
        for r in diff.rules_added:
            out.append(f"- **added** `{r['id']}` ({r.get('section')}): " + _cell("; ".join(_rule_summary(r))))
        for r in diff.rules_removed:
            out.append(f"- **removed** `{r['id']}` ({r.get('section')}): was " + _cell("; ".join(_rule_summary(r))))
        for rc in diff.rules_changed:
            out.append(f"- **changed** `{rc.id}`: {', '.join(rc.keys)}")
            for c in rc.changes:
                out.append(f"  - `{c.what}`: {_md(c.old)} → {_md(c.new)}")
        if diff.order_changed:
            out.append("- the order of the rules changed")
    if result is not None:
        out += ["", f"#### Impact on `{result.source}`", ""] + [f"- {line}" for line in _impact_lines(result)]
        if result.examples:
            out += ["", "| contact | change |", "|---|---|"]
            out += [f"| `{_cell(e.contact)}` | " + _cell("; ".join(
                f"{c.what} {_plain(json.dumps(c.old))} → {_plain(json.dumps(c.new))}" for c in e.changes)) + " |"
                for e in result.examples]
    return "\n".join(out) + "\n"


def to_json(diff: VersionDiff, result: Impact | None = None) -> dict:
    report = {
        "policy": diff.policy,
        "old": {"file": diff.old_label, "version": diff.old_version},
        "new": {"file": diff.new_label, "version": diff.new_version},
        "changed": not diff.empty,
        "metadata": [c.to_json() for c in diff.metadata],
        "parameters": [c.to_json() for c in diff.parameters],
        "rules": {
            "added": [r["id"] for r in diff.rules_added],
            "removed": [r["id"] for r in diff.rules_removed],
            "changed": [{"id": rc.id, "keys": rc.keys, "changes": [c.to_json() for c in rc.changes]}
                        for rc in diff.rules_changed],
            "order_changed": diff.order_changed,
        },
    }
    if result is not None:
        report["impact"] = {
            "source": result.source,
            "contacts": result.contacts,
            "applies": {"old": result.applies_old, "new": result.applies_new},
            "decisions_changed": result.changed,
            "findings_only_changed": result.findings_changed,
            "outputs": {name: [{"old": json.loads(a), "new": json.loads(b), "contacts": n}
                               for (a, b), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
                        for name, counts in result.by_output.items()},
            "examples": [{"contact": e.contact, "changes": [c.to_json() for c in e.changes]}
                         for e in result.examples],
        }
    return report
