"""`regelverk test`: run the YAML policy tests, with rule coverage."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..tools.testing import run_tests
from ..tools.testreport import to_json, to_junit, to_text
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
      regelverk test policies/<region> --min-coverage 100
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
    click.echo(to_text(run, repo.policy_set, verbose=verbose, coverage=coverage), nl=False)
    percent = run.coverage.percent(repo.policy_set)
    failed = not run.ok
    if min_coverage is not None and percent < min_coverage:
        click.echo(f"rule coverage {percent:.1f}% is below the required {min_coverage:g}%", err=True)
        failed = True
    sys.exit(EXIT_PROBLEMS if failed else EXIT_OK)
