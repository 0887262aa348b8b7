#!/usr/bin/env python3
"""Peak memory of `regelverk evaluate` deciding an NDJSON file whole in memory, against its size.

For each size and number of processes (--jobs), one run with a memory budget large enough for
the in-memory way, and:

* the peak of the memory of the command and its workers together: the sum of their
  proportional set sizes (PSS: a page shared by n processes counts 1/n in each), sampled from
  /proc/PID/smaps_rollup every 50 ms (Linux only). Max RSS (wait4) is the largest single
  process, which leaves the workers out;
* that peak over the file's size, and the estimate evaluator/running/inmemory.py makes
  (PEAK_PER_INPUT_BYTE times the size and PEAK_PER_PROCESS a process), which must cover it.

These are the figures the two constants come from (docs/data.md). The files are generate.py's,
as streaming.py makes them (benchmarks/data/contacts-N.ndjson, N / 10 patients).

    .venv/bin/python benchmarks/memory.py --sizes 250000 500000 1000000 --jobs 1 2 4
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from streaming import REGELVERK, prepared  # noqa: E402

from evaluator.running import inmemory  # noqa: E402

MIB = 1024 * 1024


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for thread in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{thread}/children", encoding="ascii") as f:
                found += [int(child) for child in f.read().split()]
    except OSError:  # ended meanwhile
        pass
    return found


def _tree(pid: int) -> list[int]:
    todo, seen = [pid], []
    while todo:
        pid = todo.pop()
        seen.append(pid)
        todo += _children(pid)
    return seen


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run(path: Path, jobs: int, budget_mb: int) -> dict:
    """One run: the peak of the summed PSS and the max RSS (wait4), in MiB, and the most
    processes seen at once."""
    process = subprocess.Popen([*REGELVERK, "evaluate", str(path), "--jobs", str(jobs), "--quiet",
                                "--memory-budget", str(budget_mb)], stdout=subprocess.DEVNULL, cwd=ROOT)
    peak_kb, processes = 0, 0
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        tree = _tree(process.pid)
        peak_kb = max(peak_kb, sum(_pss_kb(pid) for pid in tree))
        processes = max(processes, len(tree))
        time.sleep(0.05)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"regelverk evaluate {path} failed with status {process.returncode}")
    return {"peak_mb": peak_kb / 1024, "max_rss_mb": usage.ru_maxrss / 1024, "processes": processes}


def main() -> None:
    if not os.path.exists("/proc/self/smaps_rollup"):
        raise SystemExit("this measures the memory of processes from /proc/PID/smaps_rollup (Linux 4.14 on)")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[250_000, 500_000, 1_000_000])
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    print("peak: the largest sum of the proportional set sizes of the command and its workers")
    print(f"estimate: {inmemory.PEAK_PER_INPUT_BYTE:g} x size + {inmemory.PEAK_PER_PROCESS // MIB} MiB a process")
    for size in args.sizes:
        path = prepared("ndjson", size)
        file_bytes = path.stat().st_size
        for jobs in args.jobs:
            estimate = inmemory.estimated_peak(file_bytes, jobs) / MIB
            got = run(path, jobs, budget_mb=int(estimate * 4) + 1024)  # in memory, whatever the machine
            peak = got["peak_mb"]
            print(f"{size:>10,} contacts, {file_bytes / MIB:7.1f} MiB, --jobs {jobs} ({got['processes']} processes "
                  f"seen): peak {peak:7.0f} MiB = {peak * MIB / file_bytes:4.2f} x size (max RSS "
                  f"{got['max_rss_mb']:,.0f} MiB); estimate {estimate:7.0f} MiB "
                  f"({'covers it' if estimate >= peak else 'UNDER the peak'})", flush=True)


if __name__ == "__main__":
    main()
