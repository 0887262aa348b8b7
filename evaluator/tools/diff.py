"""Compare two versions of a policy: what changed in its text, and how its decisions change.

A side is a policy file, `FILE@REV` (that file as it was at a git revision), `POLICY_ID@REV`
(the policy's latest version file at a git revision), or a bare `POLICY_ID` (its latest version file in the policy folder on disk). Each side is
loaded on its own, as a policy set holding only that one version, so its impact on a batch of
contacts is what that version alone decides: a contact outside the version's dates gets
`no_policy` on that side, which is the honest answer.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import tempfile
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from ..errors import PolicyError
from ..loading.policy import PolicyVersion, version_key
from ..loading.repository import OUTPUTS_FILE, TEST_SUFFIX, Policy, PolicySet, load_policy_set
from ..loading.settings import LocateError, Settings, locate_policies
from ..loading.yamlsource import display_path, parse_yaml
from .impact import ImpactReport, Window, compare_batch, rules_deciding, summarise
from .impact_render import impact_json, markdown_body, text_body
from .meaning import Part, parameters_read, parts, same

METADATA_KEYS = ("id", "version", "title", "issuer", "region", "valid_from", "valid_to", "description", "applies_when")
RULE_KEYS = ("section", "passage", "reading", "when", "then", "otherwise", "severity", "message")
# What a rule decides; its other keys (section, passage, reading, message) are its words.
MEANING_KEYS = ("then", "otherwise", "severity")
# Metadata that changes what a version decides or when (applies_when is compared as a tree).
MEANING_METADATA = ("id", "region", "valid_from", "valid_to")


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


def _git_top(root: Path, spec: str) -> Path:
    """The top folder of the git checkout the policy folder is in (`spec`: the side, for the error)."""
    try:
        return Path(_git(root, "rev-parse", "--show-toplevel").strip()).resolve()
    except DiffInputError:
        raise DiffInputError(f"{spec} names a git revision, but the policy folder {display_path(root)} is not "
                             "in a git repository; compare with a policy file instead") from None


def _known_revision(top: Path, name: str, rev: str) -> None:
    """DiffInputError, in words, unless git knows `rev` (`name`@`rev`: the side)."""
    try:
        _git(top, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    except DiffInputError:
        raise DiffInputError(f"git does not know the revision '{rev}' (in {name}@{rev}): name a branch, a tag or a "
                             f"commit, as {name}@main or {name}@HEAD~1") from None


def _from_git(policy_id: str, rev: str, root: Path) -> Side:
    top = _git_top(root, f"{policy_id}@{rev}")
    rel = root.resolve().relative_to(top).as_posix()
    prefix = "" if rel == "." else rel + "/"
    _known_revision(top, policy_id, rev)
    listed = _git(top, "ls-tree", "-r", "--name-only", rev, "--", rel).splitlines()
    path = _latest(listed, policy_id)
    if path is None:
        raise DiffInputError(f"there is no policy '{policy_id}' under {prefix or './'} at revision {rev}")
    text = _git(top, "show", f"{rev}:{path}")
    outputs_path = prefix + OUTPUTS_FILE
    outputs = (_git(top, "show", f"{rev}:{outputs_path}") if outputs_path in listed
               else _outputs_text(root))
    return Side(f"{rev}:{path}", text, outputs)


def _file_from_git(file: str, rev: str, root: Path) -> Side:
    """FILE@REV: the file at `file` (a path as on disk, relative to here) as it was at `rev`."""
    top = _git_top(root, f"{file}@{rev}")
    try:
        rel = Path(file).resolve().relative_to(top).as_posix()
    except ValueError:
        raise DiffInputError(f"{file} is not in the git repository at {display_path(top)}, so it has no "
                             f"version at {rev}") from None
    _known_revision(top, file, rev)
    try:
        text = _git(top, "show", f"{rev}:{rel}")
    except DiffInputError:
        raise DiffInputError(f"there is no file {rel} at revision {rev} (a new file: compare it with the "
                             f"policy's latest version there, POLICY_ID@{rev})") from None
    folder = root.resolve().relative_to(top).as_posix()
    outputs_path = ("" if folder == "." else folder + "/") + OUTPUTS_FILE
    listed = _git(top, "ls-tree", "--name-only", rev, "--", outputs_path).splitlines()
    outputs = _git(top, "show", f"{rev}:{outputs_path}") if outputs_path in listed else _outputs_text(root)
    return Side(f"{rev}:{rel}", text, outputs)


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
        name, rev = spec.rsplit("@", 1)
        if not name or not rev:
            raise DiffInputError(f"'{spec}': write POLICY_ID@REVISION, e.g. my-policy@HEAD~1, or FILE@REVISION")
        if Path(name).suffix in (".yaml", ".yml") or "/" in name:
            side = _file_from_git(name, rev, root)  # this very file, as it was then
        else:
            side = _from_git(name, rev, root)
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
    # The load reads everything into memory, so the folder can go right after it.
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
    changes: list[Change]  # every key whose value changed, as text
    when: list[Part] = field(default_factory=list)  # the parts of the condition that changed in meaning
    renamed_from: str | None = None  # matched by meaning, not by id

    @property
    def keys(self) -> list[str]:
        return list(dict.fromkeys(c.what.split(".")[0] for c in self.changes))

    @property
    def meaning_changed(self) -> bool:
        return bool(self.when) or any(c.what in MEANING_KEYS for c in self.changes)

    @property
    def wording(self) -> list[str]:
        """The keys that changed in words (or layout) only."""
        return [k for k in self.keys if k not in MEANING_KEYS and k != "when"] + (
            ["when (layout)"] if "when" in self.keys and not self.when else [])


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
    applies_when: list[Part] = field(default_factory=list)  # its parts that changed in meaning
    parameter_readers: dict = field(default_factory=dict)  # parameter -> rules whose condition or effect reads it

    @property
    def meaning_changed(self) -> bool:
        """Whether the change decides anything differently on some contact: dates, scope,
        parameters that conditions or effects read, rules added, removed or changed in meaning."""
        return bool(
            any(c.what in MEANING_METADATA for c in self.metadata) or self.applies_when
            or any(c.what.split(".")[0] in self.parameter_readers and not c.what.endswith(".description")
                   for c in self.parameters)
            or self.rules_added or self.rules_removed or any(rc.meaning_changed for rc in self.rules_changed))

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
    ca, cb = {r.id: r for r in old.rules}, {r.id: r for r in new.rules}
    pa, pb = old.parameters, new.parameters
    diff.applies_when = parts(old.applies_when, new.applies_when, pa, pb)
    if not diff.applies_when:  # written differently, same meaning: said as such, not as a change
        diff.metadata = [c for c in diff.metadata if c.what != "applies_when"]
    removed = [rid for rid in ra if rid not in rb]
    added = [rid for rid in rb if rid not in ra]
    # A rule whose id changed but whose meaning did not is matched by its meaning: renamed.
    renamed = {}
    for rid in added:
        match = next((o for o in removed if o not in renamed.values() and _same_rule(ca[o], cb[rid], pa, pb)), None)
        if match is not None:
            renamed[rid] = match
    diff.rules_removed = [ra[rid] for rid in removed if rid not in renamed.values()]
    diff.rules_added = [rb[rid] for rid in added if rid not in renamed]
    for rid, new_rule in rb.items():
        old_id = renamed.get(rid, rid)
        old_rule = ra.get(old_id)
        if old_rule is None:
            continue
        changes = _changes(old_rule, new_rule, [k for k in RULE_KEYS if k != "message"])
        changes += _changes(old_rule.get("message") or {}, new_rule.get("message") or {}, ("sv", "en"), "message.")
        changes.sort(key=lambda c: RULE_KEYS.index(c.what.split(".")[0]))
        when = parts(ca[old_id].when, cb[rid].when, pa, pb)
        if changes or when or old_id != rid:
            diff.rules_changed.append(RuleChange(rid, changes, when, old_id if old_id != rid else None))
    common_a = [rid for rid in ra if rid in rb or rid in renamed.values()]
    common_b = [renamed.get(rid, rid) for rid in rb if rid in ra or rid in renamed]
    diff.order_changed = common_a != common_b
    for version in (old, new):
        for rule in version.rules:
            reads = parameters_read(rule.when, version.parameters)
            raw = next((r for r in (version.document.get("rules") or []) if r.get("id") == rule.id), {})
            for which in ("then", "otherwise"):
                for value in (raw.get(which) or {}).values():
                    if isinstance(value, dict) and value.get("parameter") in version.parameters:
                        reads.add(value["parameter"])
            for name in reads:
                diff.parameter_readers.setdefault(name, [])
                if rule.id not in diff.parameter_readers[name]:
                    diff.parameter_readers[name].append(rule.id)
        for name in parameters_read(version.applies_when, version.parameters):
            diff.parameter_readers.setdefault(name, [])
            if "applies_when" not in diff.parameter_readers[name]:
                diff.parameter_readers[name].insert(0, "applies_when")
    return diff


def _same_rule(a, b, pa: dict, pb: dict) -> bool:
    """Two checked rules that decide alike: the same condition, effects and severity."""
    return same(a.when, b.when, pa, pb) and a.then == b.then and a.otherwise == b.otherwise and a.severity == b.severity


# --- impact on contacts --------------------------------------------------------------------


def _in_force_always(policy_set: PolicySet) -> PolicySet:
    """The set with its one version in force on every date."""
    (policy,) = policy_set.policies.values()
    version = replace(policy.versions[0], valid_from=date.min, valid_to=None)
    return replace(policy_set, policies={policy.id: Policy(policy.id, (version,))})


def impact(old: Side, new: Side, lines: list, source: str, examples: int = 5) -> ImpactReport:
    """How the decisions on NDJSON `lines` change when the new version decides them in place of
    the old one: each contact decided by both, each taken as in force on the contact's date
    (impact's counterfactual, over every date: two versions in force on different dates would
    otherwise only ever disagree about which of them applies)."""
    ov, nv = old.version, new.version
    windows = [Window(nv.id, nv.version, ov.version, date.min, date.max)]
    report = ImpactReport(old.label, new.label, source, counterfactual=True, windows=windows)
    marks = compare_batch(_in_force_always(old.policy_set), _in_force_always(new.policy_set), lines, windows)
    return summarise(marks, report, examples, rules_deciding(old.policy_set, new.policy_set))


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


def _parameter_words(diff: VersionDiff, c: Change) -> str:
    name = c.what.split(".")[0]
    readers = diff.parameter_readers.get(name)
    if c.what.endswith(".description"):
        return _change_words(c) + " (words only)"
    if readers:
        return _change_words(c) + f" (read by {', '.join(readers)})"
    return _change_words(c) + " (read by no condition or effect: words only)"


def meaning_words(diff: VersionDiff) -> str:
    """The one-line verdict: does the change decide anything differently."""
    if diff.empty:
        return "No changes."
    if diff.meaning_changed:
        return "Meaning changed: some contacts may be decided differently."
    return "No change in meaning: words, comments or layout only (the checked conditions and effects are the same)."


def _rule_heading(rc: RuleChange) -> str:
    renamed = f", renamed from {rc.renamed_from}" if rc.renamed_from else ""
    if rc.meaning_changed:
        what = (["when"] if rc.when else []) + [k for k in rc.keys if k in MEANING_KEYS]
        more = f"; words: {', '.join(rc.wording)}" if rc.wording else ""
        return f"meaning changed: {', '.join(what)}{more}{renamed}"
    return f"words only, same meaning: {', '.join(rc.wording) or 'none'}{renamed}"


def render_text(diff: VersionDiff, result: ImpactReport | None = None, lang: str = "en") -> str:
    out = [f"{diff.policy} {diff.old_version} → {diff.new_version}",
           f"  old: {diff.old_label}", f"  new: {diff.new_label}", "", meaning_words(diff)]
    if diff.metadata or diff.applies_when:
        out += ["", "Metadata and dates:"]
        for c in diff.metadata:
            if c.what == "applies_when":
                out += [f"  applies_when: {p.words()}" for p in diff.applies_when]
            else:
                out.append(f"  {_change_words(c)}")
    if diff.parameters:
        out += ["", "Parameters:"] + [f"  {_parameter_words(diff, c)}" for c in diff.parameters]
    if diff.rules_added or diff.rules_removed or diff.rules_changed or diff.order_changed:
        out += ["", "Rules:"]
        for r in diff.rules_added:
            out.append(f"  + {r['id']} (added, section {r.get('section')})")
            out += [f"      {line}" for line in _rule_summary(r)]
        for r in diff.rules_removed:
            out.append(f"  - {r['id']} (removed, section {r.get('section')})")
            out += [f"      was: {line}" for line in _rule_summary(r)]
        for rc in diff.rules_changed:
            out.append(f"  ~ {rc.id} ({_rule_heading(rc)})")
            out += [f"      when: {p.words()}" for p in rc.when]
            for c in rc.changes:
                if c.what == "when":
                    continue
                if c.what in MEANING_KEYS:
                    out.append(f"      {c.what}: {show(c.old)} → {show(c.new)}")
                else:
                    out.append(f"      {c.what}: {show(c.old)}")
                    out.append(f"      {' ' * len(c.what)}  → {show(c.new)}")
        if diff.order_changed:
            out.append("  the order of the rules changed (it changes no decision, only the order of findings)")
    if result is not None:
        out += ["", f"Impact on {result.source}:"] + [f"  {line}" if line else "" for line in text_body(result, lang)]
    return "\n".join(out) + "\n"


def _md(value) -> str:
    """A value in a Markdown table cell: code, with the characters that would break the table escaped."""
    return "`" + show(value).replace("`", "'").replace("|", "\\|") + "`" if value is not None else "*(none)*"


def _code(text: str | None) -> str:
    return "*(none)*" if text is None else "`" + text.replace("`", "'").replace("|", "\\|") + "`"


def _cell(text) -> str:
    """Text from a policy in Markdown: as text, never markup (a section or a condition may hold <
    and &), with the | that would break a table escaped."""
    return html.escape(str(text), quote=False).replace("|", "\\|")


def render_markdown(diff: VersionDiff, result: ImpactReport | None = None, lang: str = "en") -> str:
    out = [f"### `{diff.policy}` {diff.old_version} → {diff.new_version}", "",
           f"Old: `{diff.old_label}`  ", f"New: `{diff.new_label}`", "", f"**{meaning_words(diff)}**"]
    meta = [c for c in diff.metadata if c.what != "applies_when"]
    if meta or diff.applies_when:
        out += ["", "#### Metadata and dates", "", "| | old | new |", "|---|---|---|"]
        out += [f"| `{c.what}` | {_md(c.old)} | {_md(c.new)} |" for c in meta]
        out += [f"| `applies_when`: parameter `{p.name}` | {_code(p.old)} | {_code(p.new)} |" if p.kind == "parameter"
                else f"| `applies_when` ({p.kind.replace('_', ' ')}) | {_code(p.old)} | {_code(p.new)} |"
                for p in diff.applies_when]
    if diff.parameters:
        out += ["", "#### Parameters", "", "| | old | new | read by |", "|---|---|---|---|"]
        out += [f"| `{c.what}` | {_md(c.old)} | {_md(c.new)} | "
                + (", ".join(f"`{r}`" for r in diff.parameter_readers.get(c.what.split('.')[0], []))
                   if not c.what.endswith(".description") else "") + " |" for c in diff.parameters]
    if diff.rules_added or diff.rules_removed or diff.rules_changed or diff.order_changed:
        out += ["", "#### Rules", ""]
        for r in diff.rules_added:
            out.append(f"- **added** `{r['id']}` ({_cell(r.get('section'))}): " + _cell("; ".join(_rule_summary(r))))
        for r in diff.rules_removed:
            out.append(f"- **removed** `{r['id']}` ({_cell(r.get('section'))}): was " + _cell("; ".join(_rule_summary(r))))
        for rc in diff.rules_changed:
            out.append(f"- **changed** `{rc.id}`: {_cell(_rule_heading(rc))}")
            out += [f"  - `when`: {p.markdown()}" for p in rc.when]
            for c in rc.changes:
                if c.what != "when":
                    out.append(f"  - `{c.what}`: {_md(c.old)} → {_md(c.new)}")
        if diff.order_changed:
            out.append("- the order of the rules changed (only the order of findings follows it)")
    if result is not None:
        out += ["", f"#### Impact on `{result.source}`", ""] + markdown_body(result, lang)
    return "\n".join(out) + "\n"


def to_json(diff: VersionDiff, result: ImpactReport | None = None) -> dict:
    report = {
        "policy": diff.policy,
        "old": {"file": diff.old_label, "version": diff.old_version},
        "new": {"file": diff.new_label, "version": diff.new_version},
        "changed": not diff.empty,
        "meaning_changed": diff.meaning_changed,
        "metadata": [c.to_json() for c in diff.metadata],
        "applies_when": [p.to_json() for p in diff.applies_when],
        "parameters": [c.to_json() for c in diff.parameters],
        "parameter_readers": diff.parameter_readers,
        "rules": {
            "added": [r["id"] for r in diff.rules_added],
            "removed": [r["id"] for r in diff.rules_removed],
            "changed": [{"id": rc.id, "keys": rc.keys, "meaning_changed": rc.meaning_changed,
                         "renamed_from": rc.renamed_from, "when": [p.to_json() for p in rc.when],
                         "wording": rc.wording, "changes": [c.to_json() for c in rc.changes]}
                        for rc in diff.rules_changed],
            "order_changed": diff.order_changed,
        },
    }
    if result is not None:
        report["impact"] = impact_json(result)
    return report
