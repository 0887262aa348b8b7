"""`regelverk test --mutate`: the report of a mutation run (evaluator/tools/mutate.py)."""

from __future__ import annotations

from pathlib import Path

import click

from ..tools.mutate import run_mutation, where


def report_mutation(policy_set, target: Path, min_score: float | None, verbose: bool) -> int:
    """Print the surviving mutants, the score and the time; the exit code (0 ok, 1 not)."""
    run = run_mutation(policy_set, target)
    for p in run.problems:
        click.echo(p.render())
    if run.baseline_failures or any(p.severity == "error" for p in run.problems):
        for r in run.baseline_failures:
            click.echo(f"FAIL {r.location}  {r.name}")
        click.echo("the policy tests must pass on the policies as they are before mutants are tried "
                   "(run regelverk test)", err=True)
        return 1
    if verbose:
        for m in run.mutants:
            state = "SURVIVED" if m in run.survivors else "equival." if m in run.equivalent else "killed  "
            click.echo(f"{state} {m.version.id} {m.version.version}: {m.change}")
    for m in run.survivors:
        click.echo(f"{where(m)}: survived: {m.change} (no test case noticed)")
    if not run.mutants:
        click.echo(f"no policy under {target} to mutate", err=True)
    counted = len(run.mutants) - len(run.equivalent)
    equivalent = f", {len(run.equivalent)} declared equivalent" if run.equivalent else ""
    click.echo(f"mutation score: {run.score:.1f}% ({run.killed} of {counted} mutants killed{equivalent}, "
               f"{run.cases} test cases) in {run.seconds:.1f} s")
    if min_score is not None and run.score < min_score:
        click.echo(f"mutation score {run.score:.1f}% is below the required {min_score:g}%", err=True)
        return 1
    return 0
