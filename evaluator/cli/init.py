"""`regelverk init` and `regelverk schemas`: start a region's policy repository; its editor schemas."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..loading.settings import locate_policies
from ..loading.yamlsource import display_path
from ..tools.editor_schemas import SCHEMA_FILES, stale_schemas, write_schemas
from ..tools.init import InitError, plan, unwrite, write
from .common import EXIT_OK, EXIT_PROBLEMS, POLICIES_OPTION, load_or_exit, locate_policies_to_change


@click.command()
@click.argument("directory", required=False, default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--region", required=True, help="The region's slug (lower case, as in my-region).")
@click.option("--requirement", default=None,
              help="The pip requirement CI installs regelverk by (default: the source and version of "
                   "the regelverk running now, e.g. 'regelverk @ git+https://…/regelverk@v0.2.0').")
def init(directory, region, requirement):
    """Start a policy repository for a region in DIRECTORY (default: here): regelverk.yaml with
    its settings, facts.yaml, policies/outputs.yaml, an example policy with its tests, a CI
    workflow, a pre-commit configuration, requirements.txt pinning regelverk, and the JSON
    Schemas and editor settings (.vscode/settings.json) that check and complete the files as
    you type. It passes its own checks at once; nothing is written over an existing file.

    Exit 0 when written; 2 when the region is no slug or a file would be overwritten.

    \b
    Example:
      regelverk init policies-myregion --region myregion
      cd policies-myregion && regelverk validate && regelverk test --coverage
    """
    root = directory.resolve()
    try:
        result = plan(root, region, requirement)
    except InitError as exc:
        raise click.UsageError(str(exc)) from exc
    write(result)
    try:
        repo = load_or_exit(root)
    except SystemExit:
        # What init wrote does not load (a defect of regelverk's, said above): take it all
        # back, so that init can be run again once that is mended.
        unwrite(result)
        click.echo("regelverk: init's own files do not pass its checks (above); nothing is left written", err=True)
        raise
    written = write_schemas(repo.policy_set, root / "schemas")
    for path in sorted([*result.files, *written]):
        click.echo(f"created {display_path(path)}")
    if result.inside is not None:
        click.echo(f"regelverk: note: {display_path(root)} is inside the policy repository at {result.inside}; "
                   "commands run below it use the new repository, not that one", err=True)
    if result.to_fill_in:
        click.echo("regelverk: fill in requirements.txt: where your organisation installs regelverk from "
                   "(pip did not record it); CI and pre-commit install that line", err=True)
    go = "" if root == Path.cwd().resolve() else f"cd {display_path(root)}; "
    click.echo(f"next: {go}regelverk validate; regelverk test --coverage; then replace "
               "the example policy with your guideline (git init, and push to run the CI workflow)")


@click.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder to write them in (default: schemas/ of the policy repository this runs in).")
@click.option("--check", is_flag=True,
              help="Write nothing; exit 1 listing the schema files that are missing or out of date.")
@POLICIES_OPTION
def schemas(out_dir, check, policies_dir):
    """Write the JSON Schemas of the policy repository's files, with its declared facts: policy,
    policy tests, contact, decision, facts, outputs and settings. Editors (the YAML language
    server: VS Code's YAML extension, and others) use them to check and complete the files.

    \b
    Run it again after changing facts.yaml; CI runs `regelverk schemas --check`, which exits 1
    when the files differ from what would be written.

    \b
    Example:
      regelverk schemas --out schemas
      regelverk schemas --check
    """
    if out_dir is None:
        source = locate_policies_to_change(policies_dir, "schemas (without --out)")
        out_dir = source.settings.root / "schemas"
    source = locate_policies(policies_dir) if policies_dir else None
    repo = load_or_exit(policies_dir, source)
    if check:
        stale = stale_schemas(repo.policy_set, out_dir)
        for path in stale:
            click.echo(f"out of date: {display_path(path)} (regelverk schemas writes it anew)")
        click.echo(f"{len(stale)} schema file(s) out of date" if stale else "the schemas are up to date")
        sys.exit(EXIT_PROBLEMS if stale else EXIT_OK)
    for path in write_schemas(repo.policy_set, out_dir):
        click.echo(f"wrote {display_path(path)}: {SCHEMA_FILES[path.name]}")
    sys.exit(EXIT_OK)



