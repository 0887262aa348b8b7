#!/usr/bin/env python3
"""How long `regelverk impact` takes against one `regelverk evaluate` of the same file.

The change measured is a typical pull request on the bundled policies: a new version of
vgr-rehab-written-contact (5.0, from 2027-01-31, the weekly cap raised from 1 to 2; 4.0 ends
the day before) and a parameter changed in place in halland-distance-contact 1.0 (a short call
is now at most 2 minutes, not 5). The base is the bundled policies as they are.

Measured, each as a subprocess with its output to /dev/null, in turn (evaluate, impact,
impact --as-if-in-force, …) so that the shared machine's drift falls on all of them alike:

* `regelverk evaluate FILE --policies WORKING`;
* `regelverk impact FILE --base BASE --policies WORKING --format json`;
* the same with `--as-if-in-force --from 2026-10-01 --to 2026-12-31` (an explicit window);
* `regelverk impact` against a working folder where also every version's title changed: every
  patient then meets versions of other content on the two sides and is decided on both (the
  worst case: impact decides a patient only once where nothing it meets differs);
* the same with `--as-if-in-force` and the default window (one more pass over the contacts to
  find it), unless --skip-default-window.

Prints wall time, contacts per second and max RSS of each, the ratios impact / evaluate (target
at most 2.5x), and what the impact found. The data are benchmarks/generate.py's (generated into
benchmarks/data/ when missing, as run.py does).

    .venv/bin/python benchmarks/impact.py                                   # 1,000,000 contacts
    .venv/bin/python benchmarks/impact.py --contacts 50000 --patients 5000  # a quick run
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import (  # noqa: E402
    ROOT,
    add_data_arguments,
    child_env,
    ensure_data,
    evaluate_command,
    log,
    machine,
    rate,
    run_child,
)

TARGET = 2.5


def make_policies(tmp: Path) -> tuple[Path, Path]:
    """The base (the bundled policies) and the working folder with the change."""
    base = tmp / "base"
    shutil.copytree(ROOT / "policies", base, ignore=shutil.ignore_patterns("*.test.yaml"))
    work = tmp / "work"
    shutil.copytree(base, work)
    subprocess.run(evaluate_command(Path("-"))[:-2] + ["new-version", "vgr-rehab-written-contact",
                   "--from", "2027-01-31", "--policies", str(work)], check=True, capture_output=True,
                   cwd=ROOT, env=child_env())
    new = work / "vgr" / "vgr-rehab-written-contact" / "5.0.yaml"
    new.write_text(new.read_text(encoding="utf-8").replace("max_per_week: 1", "max_per_week: 2"), encoding="utf-8")
    halland = work / "halland" / "halland-distance-contact" / "1.0.yaml"
    text = halland.read_text(encoding="utf-8")
    old = re.search(r"  short_call_max_minutes:\n    type: [a-z ]+\n    value: 5\n", text)
    assert old, "the halland parameter moved: update benchmarks/impact.py"
    halland.write_text(text.replace(old.group(0), old.group(0).replace("value: 5", "value: 2")), encoding="utf-8")
    return base, work


def touch_everything(work: Path, tmp: Path) -> Path:
    """The working folder with every version's title changed as well: every contact then meets
    versions of other content on the two sides, and every patient is decided on both (the
    worst case; a real change of wording everywhere)."""
    every = tmp / "every"
    shutil.copytree(work, every)
    for path in every.rglob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        if text.count("\ntitle: ") == 1:
            path.write_text(text.replace("\ntitle: ", "\ntitle: (rev.) ", 1), encoding="utf-8")
    return every


def regelverk(*args: str) -> list[str]:
    return evaluate_command(Path("-"))[:-2] + list(args)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_arguments(p)
    p.add_argument("--repeat", type=int, default=1, help="rounds of the measurements; medians are shown")
    p.add_argument("--skip-default-window", action="store_true")
    p.add_argument("--timeout", type=float, default=1800)
    p.add_argument("--json", dest="json_out", help="also write the figures as JSON to this file")
    args = p.parse_args(argv)
    file = ensure_data(args)
    n = sum(1 for _ in open(file, "rb"))
    with tempfile.TemporaryDirectory(prefix="regelverk-impact-bench-") as tmp:
        base, work = make_policies(Path(tmp))
        every = touch_everything(work, Path(tmp))
        commands = {
            "evaluate": regelverk("evaluate", str(file), "--policies", str(work)),
            "impact": regelverk("impact", str(file), "--base", str(base), "--policies", str(work), "--format", "json"),
            "impact --as-if-in-force (window given)": regelverk(
                "impact", str(file), "--base", str(base), "--policies", str(work), "--format", "json",
                "--as-if-in-force", "--from", "2026-10-01", "--to", "2026-12-31"),
        }
        commands["impact, every version retitled (worst case)"] = regelverk(
            "impact", str(file), "--base", str(base), "--policies", str(every), "--format", "json")
        if not args.skip_default_window:
            commands["impact --as-if-in-force (default window)"] = regelverk(
                "impact", str(file), "--base", str(base), "--policies", str(work), "--format", "json",
                "--as-if-in-force")
        runs: dict[str, list] = {name: [] for name in commands}
        reports: dict[str, dict] = {}
        for round_ in range(args.repeat):
            for name, cmd in commands.items():
                log(f"round {round_ + 1}: {name} ...")
                out = Path(tmp) / "out.json"
                with open(out if name != "evaluate" else os.devnull, "wb") as sink:
                    r = run_child(cmd, sink, args.timeout, ROOT, child_env())
                if r["exit_code"] != 0:
                    log(f"{name} failed ({r['exit_code']}): {r['stderr_tail']}")
                    return 1
                runs[name].append(r)
                if name != "evaluate":
                    reports[name] = json.loads(out.read_text(encoding="utf-8"))
    evaluate_s = statistics.median(r["wall_s"] for r in runs["evaluate"])
    result = {"machine": machine(), "contacts": n, "file": str(file), "runs": {}}
    print(f"{n:,} contacts ({file.name}); {args.repeat} round(s), medians; machine: "
          f"{result['machine']['cpu']}, {result['machine']['cores_usable']} usable core(s), "
          f"Python {result['machine']['python']}")
    print()
    print("| command | wall | contacts/s | max RSS | impact / evaluate | found |")
    print("|---|---|---|---|---|---|")
    for name, rs in runs.items():
        wall = statistics.median(r["wall_s"] for r in rs)
        rss = max(r["max_rss_mb"] for r in rs)
        ratio = wall / evaluate_s
        found = ""
        if name in reports:
            rep = reports[name]
            found = (f"{rep['changed']:,} differ ({rep['flipped']:,} in status or outputs) in "
                     f"{len(rep['groups'])} group(s)")
        result["runs"][name] = {"wall_s": wall, "contacts_per_s": rate(n, wall), "max_rss_mb": rss,
                                "ratio": round(ratio, 2), "found": found}
        print(f"| `{name}` | {wall:.2f} s | {rate(n, wall):,.0f} | {rss:,.0f} MB | "
              f"{'' if name == 'evaluate' else f'**{ratio:.2f}x**'} | {found} |")
    worst = max(v["ratio"] for k, v in result["runs"].items() if k != "evaluate")
    print()
    print(f"target: impact at most {TARGET}x one evaluate — worst {worst:.2f}x: {'met' if worst <= TARGET else 'NOT met'}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
