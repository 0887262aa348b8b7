"""Run the fuzz targets for a chosen time: `python -m tests.fuzz [TARGET ...] --seconds N`."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback

from hypothesis import HealthCheck, Phase, given, settings

TARGETS: dict = {}


def _load_targets(instrument: bool = False) -> None:
    """Import the targets (and so regelverk); for atheris, with regelverk's and Lark's code
    instrumented for coverage (instrumenting everything loaded takes minutes)."""
    if instrument:
        import atheris

        with atheris.instrument_imports(include=["evaluator", "lark", "yaml"]):
            from .targets import TARGETS as found
    else:
        from .targets import TARGETS as found
    TARGETS.update(found)


def _test_for(target, examples: int):
    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate, Phase.shrink],
              print_blob=True)
    @given(target.strategy)
    def run(example):
        target.check(example)
    return run


def run_hypothesis(name: str, seconds: float, batch: int) -> tuple[int, list[str]]:
    """Batches of `batch` examples until `seconds` pass; returns examples tried and findings
    (each the shrunk failing example with its traceback)."""
    target = TARGETS[name]
    counter = {"n": 0}
    original = target.check

    def counted(example):
        counter["n"] += 1
        original(example)

    target_counted = type(target)(target.name, target.strategy, counted, target.about)
    test = _test_for(target_counted, batch)
    findings: list[str] = []
    seen: set[str] = set()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            test()
        except Exception as exc:  # noqa: BLE001 - a finding: reported, and the run goes on
            text = "".join(traceback.format_exception(exc))
            key = "".join(traceback.format_exception_only(exc))[:200]
            if key not in seen:
                seen.add(key)
                findings.append(text)
                print(f"[{name}] FINDING:\n{text}", file=sys.stderr, flush=True)
    from .targets import release_state  # (loaded by now: TARGETS came from it)

    release_state()
    return counter["n"], findings


def run_atheris(name: str, seconds: float) -> None:  # pragma: no cover - needs atheris
    """Coverage-guided: atheris mutates bytes, hypothesis's strategy turns them into inputs."""
    import atheris

    target = TARGETS[name]
    test = _test_for(target, 1)
    atheris.Setup([sys.argv[0], f"-max_total_time={int(seconds)}", "-rss_limit_mb=4096",
                   # libFuzzer writes crash-, slow-unit- and timeout- files here, not into the checkout
                   f"-artifact_prefix={tempfile.gettempdir()}/regelverk-fuzz-"],
                  test.hypothesis.fuzz_one_input)
    atheris.Fuzz()


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    _load_targets(instrument="atheris" in argv)
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    parser.add_argument("targets", nargs="*", choices=[*TARGETS, []], metavar="TARGET",
                        help=f"targets to run (default: all): {', '.join(TARGETS)}")
    parser.add_argument("--seconds", type=float, default=30, help="time per target (default 30)")
    parser.add_argument("--batch", type=int, default=200, help="hypothesis examples per batch")
    parser.add_argument("--engine", choices=["hypothesis", "atheris"], default="hypothesis")
    parser.add_argument("--list", action="store_true", help="list the targets and stop")
    args = parser.parse_args(argv)
    if args.list:
        for t in TARGETS.values():
            print(f"{t.name:10} {t.about}")
        return 0
    names = args.targets or list(TARGETS)
    if args.engine == "atheris":
        if len(names) != 1:
            parser.error("atheris runs one target per process")
        run_atheris(names[0], args.seconds)
        return 0
    total = 0
    failed = False
    for name in names:
        start = time.monotonic()
        cpu = time.process_time()
        n, findings = run_hypothesis(name, args.seconds, args.batch)
        took, cpu_took = time.monotonic() - start, time.process_time() - cpu
        total += n
        failed |= bool(findings)
        print(f"{name:10} {n:7,} inputs in {took:6.1f} s ({cpu_took:6.1f} CPU s, {n / max(took, 1e-9):7,.0f}/s): "
              f"{len(findings)} finding(s)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
