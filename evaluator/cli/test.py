"""`regelverk test`: run the YAML policy tests, with rule coverage."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..language.values import show_bare
from ..tools.testing import run_tests
from ..tools.testreport import to_json, to_junit
from .common import EXIT_OK, EXIT_PROBLEMS, load_or_exit, locate_or_exit


@click.command("test")
@click.argument("path", required=False, type=click.Path(exists=True))
@click.option("--policies", "policies_opt", type=click.Path(file_okay=False, exists=True), default=None,
              help="Policy folder (default: the one PATH is in; without PATH, the policy repository this runs in, "
                   "else the bundled policies).")
@click.option("--coverage", is_flag=True, help="Show for each rule whether a test made it fire and not fire.")
@click.option("--min-coverage", type=click.FloatRange(0, 100), default=None,
              help="Fail when rule coverage (fired and not fired, per rule) is below this percentage.")
@click.option("--verbose", "-v", is_flag=True, help="List every case, not only failures.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "junit"]), default="text", show_default=True,
              help="junit: JUnit XML, one testsuite per test file, one testcase per case, for CI test reports.")
@click.option("--mutate", is_flag=True,
              help="Mutation testing: change the policies under PATH one thing at a time and report the changes "
                   "no test notices (see docs/hardening.md).")
@click.option("--min-score", type=click.FloatRange(0, 100), default=None,
              help="With --mutate: fail when the mutation score (the share of mutants killed) is below this percentage.")
def test(path, policies_opt, coverage, min_coverage, verbose, fmt, mutate, min_score):
    """Run the policy tests (*.test.yaml) under PATH (default: the policy folder). PATH may be
    the policy folder, a region's folder, a policy's folder or one test file: the cases run,
    and the rule coverage measured, are those of the policies under it.

    Exit 0 when every case passes (and coverage reaches --min-coverage), 1 otherwise.

    \b
    Example:
      regelverk test policies/ --coverage --min-coverage 100
      regelverk test policies/halland --min-coverage 100
      regelverk test policies/ --format junit > policy-tests.xml
      regelverk test --mutate policies/ --min-score 100
    """
    # The policies PATH is in (or --policies); the cases run and the coverage measured are
    # those of the policies under PATH (testing.policies_under).
    source = locate_or_exit(policies_opt or path)
    target = Path(path) if path else source.root
    repo = load_or_exit(source=source)
    if mutate:
        from .mutation import report_mutation

        sys.exit(report_mutation(repo.policy_set, target, min_score, verbose))
    if min_score is not None:
        raise click.UsageError("--min-score goes with --mutate")
    run = run_tests(repo.policy_set, target)
    if fmt != "text":
        percent = run.coverage.percent(repo.policy_set)
        report = to_json if fmt == "json" else to_junit
        click.echo(report(run, repo.policy_set, min_coverage), nl=fmt == "json")
        below = min_coverage is not None and percent < min_coverage
        if below:
            click.echo(f"rule coverage {percent:.1f}% is below the required {min_coverage:g}%", err=True)
        sys.exit(EXIT_PROBLEMS if not run.ok or below else EXIT_OK)
    for p in run.problems:
        click.echo(p.render())
    for r in run.results:
        if r.ok:
            if verbose:
                click.echo(f"PASS {r.location}  {r.name}")
            continue
        click.echo(f"FAIL {r.location}  {r.name}")
        width = max(len(w) for w, _, _ in r.failures)
        click.echo(f"     {'':{width}}  {'expected':<28}  actual")
        for what, expected, actual in r.failures:
            click.echo(f"     {what:{width}}  {show_bare(expected):<28}  {show_bare(actual)}")
    percent = run.coverage.percent(repo.policy_set)
    if coverage:
        click.echo("")
        click.echo("rule coverage (fires / does not fire / unknown seen):")
        for pid, version, rule, fired, not_fired, unknown in run.coverage.table(repo.policy_set):
            mark = "ok " if fired and not_fired else "-- "
            flags = f"{'fires' if fired else '     '}  {'not' if not_fired else '   '}  {'unknown' if unknown else ''}"
            click.echo(f"  {mark}{pid} {version} {rule:<32} {flags}")
        click.echo(f"rule coverage: {percent:.1f}%")
    unread = {p.location.file for p in run.problems if p.severity == "error" and p.location}
    click.echo(f"{run.passed} passed, {run.failed} failed"
               + (f"; {len(unread)} test file(s) could not be read (above), their cases not run" if unread else ""))
    failed = not run.ok
    if min_coverage is not None and percent < min_coverage:
        click.echo(f"rule coverage {percent:.1f}% is below the required {min_coverage:g}%", err=True)
        failed = True
    sys.exit(EXIT_PROBLEMS if failed else EXIT_OK)
