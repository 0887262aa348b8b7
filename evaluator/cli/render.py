"""`regelverk render`: the policies as static pages, a page per policy and an index."""

from __future__ import annotations

from pathlib import Path

import click

from ..tools.render import render_site
from .common import POLICIES_OPTION, load_or_exit


def locate_policies_bundled(repo) -> bool:
    """Whether the loaded policies are the copy installed with regelverk (never written into)."""
    from ..loading.settings import bundled_source

    return repo.policy_set.root == bundled_source().root


@click.command()
@click.option("--format", "fmt", type=click.Choice(["html", "md"]), default="html", show_default=True,
              help="html: static pages that work offline (style inline, nothing fetched); md: Markdown.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, writable=True), default=None,
              help="Folder to write the pages to, created when missing (default: out/site at the policy "
                   "repository's root; outside one, here).")
@POLICIES_OPTION
def render(fmt, out_dir, policies_dir):
    """Write a page per policy (title, issuer, source document, version timeline, and for each
    version its parameters and every rule with its section, quoted passage, reading, condition,
    effects, severity and messages) and an index page.

    Exit 0 when written; 2 when --out cannot be written; 3 when the policies cannot be loaded.

    \b
    Example:
      regelverk render --out site/
      regelverk render --format md --out docs/policies --policies policies/
    """
    repo = load_or_exit(policies_dir)
    pages = render_site(repo.policy_set, fmt)
    root = repo.policy_set.settings.root
    out = Path(out_dir) if out_dir else (root if root and not locate_policies_bundled(repo) else Path(".")) / "out" / "site"
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, text in pages.items():
            (out / name).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise click.BadParameter(f"cannot write to {out}: {exc}", param_hint="--out") from exc
    click.echo(f"wrote {len(pages)} page(s) to {out}: {', '.join(sorted(pages))}")
