"""Provenance (contract §7): content hashes of policy versions and sets, and the git commit.

Hashes are taken from content only, never from file names, times or the machine, so two
checkouts of the same policy files give the same hashes. A version's hash is the SHA-256 of
its file's text with line ends written as line feeds (a Windows checkout gives the same
hash); an auditor can check it with `sha256sum` on a checkout. A set's hash covers, in a
fixed order, the outputs file and every version's id, number and hash.

The commit is read from the `.git` folder above the policies (HEAD, the ref it names, loose
or packed; a worktree's `.git` file and its common folder are followed), so git need not be
installed; where that fails `git rev-parse HEAD` is tried, and else the commit is null.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

from ..loading.yamlsource import text_hash

_HEX40 = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # SHA-1 or SHA-256 object names


def policy_set_hash(outputs_text: str, versions, facts: dict | None = None) -> str:
    """The hash of a policy set: its outputs file, the facts its repository declares (their
    JSON Schemas, keys sorted) and its versions (id, number, content hash), in id and number
    order, so the order files were found in does not count."""
    digest = hashlib.sha256()
    digest.update(b"regelverk policy set 1\noutputs " + text_hash(outputs_text).encode() + b"\n")
    if facts:
        declared = json.dumps(facts, sort_keys=True, ensure_ascii=False, default=str)
        digest.update(b"facts " + text_hash(declared).encode() + b"\n")
    for pid, version, content in sorted((v.id, v.version, v.content_hash) for v in versions):
        digest.update(f"version {pid} {version} {content}\n".encode())
    return "sha256:" + digest.hexdigest()


def _git_dir(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        marker = folder / ".git"
        if marker.is_dir():
            return marker
        if marker.is_file():  # a worktree or submodule: "gitdir: <path>"
            try:
                first = marker.read_text(encoding="utf-8").strip()
            except OSError:
                return None
            if first.startswith("gitdir:"):
                target = Path(first.removeprefix("gitdir:").strip())
                return target if target.is_absolute() else (folder / target).resolve()
            return None
    return None


def _read_ref(git_dir: Path, ref: str) -> str | None:
    common = git_dir
    if (git_dir / "commondir").is_file():  # a worktree keeps its refs in the common folder
        common = (git_dir / (git_dir / "commondir").read_text(encoding="utf-8").strip()).resolve()
    for folder in (git_dir, common):
        loose = folder / ref
        if loose.is_file():
            value = loose.read_text(encoding="utf-8").strip()
            return value if _HEX40.fullmatch(value) else None
    for folder in (git_dir, common):
        packed = folder / "packed-refs"
        if packed.is_file():
            for line in packed.read_text(encoding="utf-8").splitlines():
                parts = line.split(" ", 1)
                if len(parts) == 2 and parts[1] == ref and _HEX40.fullmatch(parts[0]):
                    return parts[0]
    return None


def git_commit(folder: Path | str) -> str | None:
    """The commit checked out where `folder` lies in a git checkout; None when it is not in
    one or the commit cannot be told."""
    folder = Path(folder).resolve()
    try:
        git_dir = _git_dir(folder)
        if git_dir is not None:
            head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
            if _HEX40.fullmatch(head):  # a detached HEAD
                return head
            if head.startswith("ref:"):
                found = _read_ref(git_dir, head.removeprefix("ref:").strip())
                if found:
                    return found
    except (OSError, UnicodeDecodeError):
        pass
    try:  # a layout this reader does not know (reftable, say): ask git, if it is there
        done = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    value = done.stdout.strip()
    return value if done.returncode == 0 and _HEX40.fullmatch(value) else None


def git_clean(folder: Path | str, files: list) -> bool | None:
    """Whether every one of `files` (those a policy set was loaded from) is committed, and the
    same as in the commit checked out where `folder` lies: False when one is changed, new or
    ignored by git (the commit then does not hold the rules that decided); None outside a git
    checkout, or where git is not there to ask."""
    try:
        done = subprocess.run(["git", "-C", str(folder), "status", "--porcelain=v1", "-z", "--untracked-files=all",
                               "--ignored=matching", "--", *(str(f) for f in files)],
                              capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout == b"" if done.returncode == 0 else None


def _loaded_files(policy_set) -> list[Path]:
    """The files a policy set's decisions depend on: every version's, the outputs file, the
    declared facts and the repository's settings (those that exist in its own folders)."""
    from ..loading.repository import OUTPUTS_FILE

    files = [Path(v.file).resolve() for v in policy_set.versions()]
    files.append(Path(policy_set.root).resolve() / OUTPUTS_FILE)
    settings = getattr(policy_set, "settings", None)
    if settings is not None:
        files += [settings.facts_file, settings.marker]
    return [f for f in files if f is not None and f.is_file()]


def provenance_of(policy_set) -> dict:
    """The provenance object every decision made with `policy_set` carries."""
    from .. import __version__
    from ..loading.repository import OUTPUTS_FILE
    from ..resources import policies_dir

    path = Path(policy_set.root) / OUTPUTS_FILE
    if not path.exists():  # as the loader does: the bundled outputs
        path = policies_dir() / OUTPUTS_FILE
    outputs_text = path.read_bytes().decode("utf-8")
    commit = git_commit(policy_set.root)
    return {
        "engine_version": __version__,
        "policy_set_hash": policy_set_hash(outputs_text, policy_set.versions(), _declared_facts(policy_set)),
        "git_commit": commit,
        # (added: git_commit alone read as "these rules", with the files changed since)
        "git_clean": git_clean(policy_set.root, _loaded_files(policy_set)) if commit is not None else None,
    }


def _declared_facts(policy_set) -> dict:
    """The JSON Schemas of the facts the set's repository declares (none: {})."""
    facts = getattr(policy_set, "facts", None) or {}
    if not facts:
        return {}
    schema = getattr(policy_set, "contact_schema", None) or {}
    properties = schema.get("properties", {})
    return {name: properties.get(name, str(fact)) for name, fact in sorted(facts.items())}
