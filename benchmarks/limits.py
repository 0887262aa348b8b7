"""What the worst input within the limits costs, and what input over them costs to refuse.

Prints, for each case, the seconds and the peak memory (tracemalloc) of reading it the way the
tools do: the YAML loader for files, the parser and checker for conditions, and the whole
mutation run over the bundled policies. Run from the repository root:

    .venv/bin/python benchmarks/limits.py
"""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

from evaluator.language.checker import check_condition
from evaluator.language.parser import ConditionSyntaxError, parse_condition
from evaluator.language.types import Names, field_types_from_schema
from evaluator.limits import DEFAULTS, Limits, using
from evaluator.loading.repository import load_policy_set
from evaluator.loading.yamlsource import parse_yaml
from evaluator.resources import load_schema
from evaluator.tools.mutate import run_mutation

ROOT = Path(__file__).resolve().parent.parent


def measure(name: str, fn) -> None:
    """Timed once as the tools run it, then once more under tracemalloc for the peak memory
    (tracing makes it several times slower, so the two are not taken together)."""
    start = time.perf_counter()
    outcome = fn()
    seconds = time.perf_counter() - start
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{name:66} {seconds:7.3f} s  {peak / 2**20:7.1f} MiB  {outcome}", flush=True)


def yaml_case(text: str):
    def run():
        doc, problems = parse_yaml(text, "bench.yaml")
        return problems[0].message[:48] if problems else f"read ({len(text):,} characters)"
    return run


def condition_case(text: str, names: Names):
    def run():
        try:
            node = parse_condition(text)
        except ConditionSyntaxError as exc:
            return exc.message[:48]
        _, problems = check_condition(node, names, allow_history=True)
        return f"parsed and checked, {len(problems)} problem(s)"
    return run


def main() -> None:
    limit = DEFAULTS["max_file_bytes"]
    names = Names(fields=field_types_from_schema(load_schema("contact.schema.json")))
    print(f"limits: {DEFAULTS}")
    print(f"{'case':66} {'time':>9}  {'peak':>11}  outcome")
    items = (limit - 10) // 4
    measure(f"YAML list of {items:,} one-character items (just under the limit)",
            yaml_case("a:\n" + "- x\n" * items))
    measure("YAML mapping nested 99 deep", yaml_case("".join("  " * i + f"k{i}:\n" for i in range(99)) + "  " * 99 + "x\n"))
    measure("YAML list of 12,500,000 items (50 MB, refused by size)", yaml_case("a:\n" + "- x\n" * 12_500_000))
    chars = DEFAULTS["max_condition_chars"]
    chain = " or ".join(["dialogue"] * (chars // 12))
    measure(f"condition: a chain of {chars // 12:,} 'or' terms ({len(chain):,} characters)", condition_case(chain, names))
    measure("condition: 49 levels of 'not'", condition_case("not " * 49 + "dialogue", names))
    measure("condition: 500,000 characters (refused by length)", condition_case("dialogue or " * 41_666 + "dialogue", names))
    long_chain = " or ".join(["dialogue"] * 20_000)
    with using(Limits(max_condition_chars=len(long_chain))):
        measure(f"condition: 20,000 'or' terms, limit raised ({len(long_chain):,} chars)",
                condition_case(long_chain, names))
    policy_set, _ = load_policy_set(ROOT / "policies")
    measure("mutation testing of the bundled policies (test --mutate)",
            lambda: (lambda r: f"{r.score:.1f}% of {len(r.mutants) - len(r.equivalent)} mutants")(
                run_mutation(policy_set, ROOT / "policies")))


if __name__ == "__main__":
    main()
