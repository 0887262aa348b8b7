"""Start a region's policy repository that passes its own CI at once (`regelverk init`)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from importlib import metadata
from pathlib import Path

from .. import __version__
from ..loading.settings import MARKER, find_repository_root
from ..resources import policies_dir, templates_dir

TEMPLATES = templates_dir() / "init"
REGION = re.compile(r"[a-z][a-z0-9_-]*")


class InitError(Exception):
    """The repository cannot be started as asked; nothing was written."""


@dataclass
class Plan:
    """The files `init` writes, by their path in the new repository."""

    root: Path
    files: dict[Path, str] = field(default_factory=dict)
    to_fill_in: bool = False  # requirements.txt holds the documented form, to be completed
    inside: Path | None = None  # a repository the new one is nested in (commands below it use the new one)


# Where pip recorded no repository to install regelverk from again: the documented form, for
# the region to fill in (regelverk is installed from its repository at a tag, or a wheel).
TO_FILL_IN = f"regelverk @ git+https://<host>/<org>/regelverk@v{__version__}"


def installed_requirement() -> str | None:
    """The pip requirement of the regelverk running now, as a region pins it: the repository
    and revision it was installed from, where pip recorded one (PEP 610); else None."""
    try:
        direct = metadata.distribution("regelverk").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        direct = None
    if direct:
        info = json.loads(direct)
        vcs = info.get("vcs_info")
        if vcs and info.get("url"):
            revision = vcs.get("requested_revision") or vcs.get("commit_id")
            return f"regelverk @ {vcs.get('vcs', 'git')}+{info['url']}@{revision}"
    return None


def example_id(region: str) -> str:
    """The id of the example policy init writes for `region`: a policy id has no '_', which a
    region slug may have (vastra_gotaland → vastra-gotaland-distance-contact)."""
    return region.replace("_", "-") + "-distance-contact"


def _target(relative: str, region: str) -> Path:
    parts = []
    for part in Path(relative).parts:
        part = part.replace("EXAMPLE", example_id(region)).replace("REGION", region)
        parts.append("." + part[len("dot-"):] if part.startswith("dot-") else part)
    return Path(*parts)


def plan(root: Path, region: str, requirement: str | None = None, year: int | None = None) -> Plan:
    """What `init` would write into `root` for `region`; InitError when it must not."""
    if not REGION.fullmatch(region or ""):
        raise InitError(f"'{region}' is not a region slug: lower-case letters, digits, '-' and '_', "
                        "starting with a letter (as in my-region)")
    if (root / MARKER).exists():
        raise InitError(f"{root} is a policy repository already (it has {MARKER})")
    requirement = requirement or installed_requirement()
    values = {
        "region": region,
        "example": example_id(region),
        "year": str(year or date.today().year),
        "requirement": requirement or TO_FILL_IN,
    }
    result = Plan(root, to_fill_in=requirement is None,
                  inside=find_repository_root(root.parent) if root.parent != root else None)
    for template in sorted(p for p in TEMPLATES.rglob("*") if p.is_file()):
        text = template.read_text(encoding="utf-8")
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", value)
        result.files[root / _target(template.relative_to(TEMPLATES).as_posix(), region)] = text
    # The outputs every decision carries: the contract's, as regelverk ships them.
    result.files[root / "policies" / "outputs.yaml"] = (policies_dir() / "outputs.yaml").read_text(encoding="utf-8")
    clash = [p for p in result.files if p.exists()]
    if clash:
        shown = ", ".join(str(p.relative_to(root)) for p in clash[:5])
        raise InitError(f"{root} already has {shown}{' …' if len(clash) > 5 else ''}; nothing was written")
    return result


def write(result: Plan) -> None:
    for path, text in result.files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def unwrite(result: Plan) -> None:
    """Remove what write(result) wrote, and the folders below the root it left empty."""
    for path in result.files:
        path.unlink(missing_ok=True)
    for folder in sorted({p.parent for p in result.files}, key=lambda f: len(f.parts), reverse=True):
        while folder != result.root and folder.exists() and not any(folder.iterdir()):
            folder.rmdir()
            folder = folder.parent
