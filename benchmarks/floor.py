#!/usr/bin/env python3
"""The floor under issue 11's speed targets: what deciding costs before any rule runs.

    python benchmarks/floor.py                                # 1,000,000 contacts (a minute or two)
    python benchmarks/floor.py --contacts 100000 --patients 10000

The targets of issue 11 (benchmarks/run.py) leave each contact a budget of time: the batch API's
100,000 contacts/s leaves 10 µs, end to end 2.5x (or 1.5x over two processes) the hand-written
baseline leaves 2.5 (or 3) times the baseline's cost per contact. This script measures, on the
same generated data and in one process, the stages every decision goes through whatever its
policies say. The parser, the contact check, the history entry and the serialiser are the
engine's own; grouping and the decision dict are written here as Engine.prepare and decide
write them:

* read and split the file: its bytes, split into lines (ndjson.split_ndjson);
* parse: the lines read into records (ndjson.parse_ndjson);
* check: each record checked and typed against the contact schema (the engine's ContactChecker),
  typing in place as a parsed file allows, and copying as the batch API must;
* group and order: the valid contacts grouped by patient, each id's first use noted, each
  patient's contacts put in contract order;
* history entries: each contact made a history entry (state.Entry) of its patient's history;
* decision dict: the least a decided contact's decision of the contract's shape holds (one
  policy applied, every output null, no finding, provenance);
* serialise: that decision as its NDJSON line (orjson, provenance spliced in, the line copied
  out of orjson's buffer as the engine does);
* let go: freeing each chunk's typed contacts, groups and decision dicts;
* write: the lines written (to /dev/null).

No rule runs here. The startup of `regelverk evaluate` (loading and compiling the policies) and
of the baseline is measured once, on an empty file, and set apart. What the floor and the
startup leave of each budget is what the rules, their findings and the combining of outputs may
cost for the target to be within reach; the script prints that beside what deciding adds now
(the engine's whole run less the floor and its startup). It prints CPU time per contact
(time.process_time, which includes the kernel's time faulting in fresh pages); a busy machine
moves these figures less than wall time, but still: compare figures of one run.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from run import (  # noqa: E402
    TARGET_BATCH_RATE,
    TARGET_E2E_ONE_PROCESS_RATIO,
    TARGET_E2E_RATIO,
    add_data_arguments,
    ensure_data,
)

from evaluator.running.api import load_repository  # noqa: E402
from evaluator.running.ndjson import parse_ndjson, split_ndjson  # noqa: E402
from evaluator.running.state import Entry  # noqa: E402

CHUNK = 100_000  # contacts a stage handles at a time


def child_cpu(command: list[str]) -> float:
    """The CPU seconds (user and system) a command takes, its output thrown away."""
    before = os.times()
    subprocess.run(command, stdout=subprocess.DEVNULL, check=True)
    after = os.times()
    return (after.children_user - before.children_user) + (after.children_system - before.children_system)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_arguments(p)
    p.add_argument("--policies", default=str(HERE.parent / "policies"))
    p.add_argument("--json", help="also write the figures to this file")
    args = p.parse_args()
    path = str(ensure_data(args))
    repo = load_repository(args.policies)
    engine = repo.engine
    clock = time.process_time
    t0 = clock()
    text = Path(path).read_bytes()
    lines = split_ndjson(text)
    t_read = clock() - t0
    del text
    n = len(lines)
    print(f"floor: {n:,} contacts from {path}", file=sys.stderr)

    # -- the stages ---------------------------------------------------------------------------
    # Chunk by chunk, as the engine decides bucket by bucket: each chunk's records, typed
    # contacts and groups are let go before the next (so later chunks reuse their memory), and
    # letting them go is timed too; the NDJSON lines are kept, as the engine keeps them until
    # it writes, and so are the decision dicts where the batch API returns them all.
    check = engine.contact_checker.check
    null_outputs = engine.program.null_outputs
    unions = engine.program.unions
    provenance = engine.provenance
    fragment = orjson.Fragment(orjson.dumps(provenance))
    first = next(iter(engine.program.versions.values())).version
    dumps, option = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    # (a few records first: the checker generates its quick check once a layout has come often)
    for r in parse_ndjson(lines[:10_000])[0]:
        check(r, True)

    def group(typed_all):
        """As Engine.prepare groups: by patient, each id's first use noted, then each patient's
        contacts in contract order."""
        groups: dict = {}
        first_line: dict = {}
        for i, typed in enumerate(typed_all):
            first_line[typed["id"]] = i
            at = typed.get("time")
            item = (typed["date"].toordinal(), at is not None, at or "", i, typed)
            group = groups.get(typed["patient"])
            if group is None:
                groups[typed["patient"]] = [item]
            else:
                group.append(item)
        for items in groups.values():
            items.sort()
        return groups

    def state(groups):
        for items in groups.values():
            history = []
            for _, _, _, _, typed in items:
                history.append(Entry(typed, len(history)))

    def decisions(typed_all, prov):
        """The least decision of the contract's shape a decided contact gets: one policy applied,
        every output null, no finding."""
        made = []
        for typed in typed_all:
            outputs = dict(null_outputs)
            for u in unions:
                outputs[u] = []
            made.append({"contact": typed["id"], "status": "decided",
                         "policies": [{"id": first.id, "version": first.version, "content_hash": first.content_hash}],
                         "outputs": outputs, "findings": [], "errors": [],
                         "provenance": prov if prov is fragment else dict(prov)})
        return made

    times = dict.fromkeys(("read and split the file", "parse", "check (typed in place)", "check (copying)",
                           "group and order", "history entries", "decision dict", "decision dict (all kept)",
                           "serialise", "let go", "write"), 0.0)
    times["read and split the file"] = t_read
    kept_lines: list = []
    kept_dicts: list = []
    gc.collect()
    gc.disable()
    # the file's way: typed in place, each decision serialised at once and let go, its line
    # copied out of orjson's buffer as the engine does (ndjson.decision_line); the copying check of
    # the batch API measured on the same records first (a copy each, let go at once)
    for start in range(0, n, CHUNK):
        t0 = clock()
        records, errors = parse_ndjson(lines[start:start + CHUNK])
        t1 = clock()
        assert not errors, "the generated data has unreadable lines"
        copies = [check(r, True)[0] for r in records]
        t2 = clock()
        del copies
        t3 = clock()
        typed_all = [check(r, False)[0] for r in records]
        t4 = clock()
        del records
        groups = group(typed_all)
        t5 = clock()
        state(groups)
        t6 = clock()
        del groups
        t7 = clock()
        made = decisions(typed_all, fragment)
        t8 = clock()
        kept_lines.extend([memoryview(dumps(d, option=option)).tobytes() for d in made])
        t9 = clock()
        del made, typed_all
        t10 = clock()
        times["parse"] += t1 - t0
        times["check (copying)"] += t2 - t1
        times["check (typed in place)"] += t4 - t3
        times["group and order"] += t5 - t4
        times["history entries"] += t6 - t5
        times["decision dict"] += t8 - t7
        times["serialise"] += t9 - t8
        times["let go"] += (t7 - t6) + (t10 - t9)
    t0 = clock()
    with open(os.devnull, "wb") as out:
        for start in range(0, n, CHUNK):
            out.write(b"".join(kept_lines[start:start + CHUNK]))
    del kept_lines
    times["write"] = clock() - t0
    # the batch API's way: every decision dict kept (the copies are what it decides)
    for start in range(0, n, CHUNK):
        copies = [check(r, True)[0] for r in parse_ndjson(lines[start:start + CHUNK])[0]]
        t0 = clock()
        made = decisions(copies, provenance)
        times["decision dict (all kept)"] += clock() - t0
        kept_dicts += made
        del copies, made
    del kept_dicts
    gc.enable()
    t_check_copy = times["check (copying)"]
    t_group, t_state = times["group and order"], times["history entries"]

    # -- the engine and the baseline, whole -----------------------------------------------------
    print("floor: the batch API on the same contacts ...", file=sys.stderr)
    contacts = parse_ndjson(lines)[0]
    gc.collect()
    t0 = time.process_time()
    repo.evaluate(contacts)  # (the engine pauses the collector itself)
    t_batch = time.process_time() - t0
    del contacts
    print("floor: regelverk evaluate --jobs 1 and the baseline, as subprocesses ...", file=sys.stderr)
    t_e2e = child_cpu([sys.executable, "-m", "evaluator", "evaluate", path, "--jobs", "1",
                       "--policies", args.policies])
    t_base = child_cpu([sys.executable, str(HERE / "baseline.py"), path])
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "none.ndjson"
        empty.write_bytes(b"")
        t_startup = child_cpu([sys.executable, "-m", "evaluator", "evaluate", str(empty), "--jobs", "1",
                               "--policies", args.policies])
        t_base_startup = child_cpu([sys.executable, str(HERE / "baseline.py"), str(empty)])

    us = 1e6 / n
    batch_floor = t_check_copy + t_group + t_state + times["decision dict (all kept)"]
    e2e_floor = sum(t for name, t in times.items() if name not in ("check (copying)", "decision dict (all kept)"))
    base_us = t_base * us
    rules_now = t_e2e - t_startup - e2e_floor  # what deciding adds to the floor, startup aside
    out = [f"floor under issue 11's targets, {n:,} contacts, CPU µs per contact "
           f"(python {sys.version.split()[0]}, {os.cpu_count()} cores)", ""]
    for name, t in times.items():
        out.append(f"  {name:<26} {t * us:6.2f}")
    out += [
        "",
        f"  baseline (whole, VGR only)  {base_us:6.2f}",
        f"  startup, once: regelverk evaluate {t_startup:.2f} s, the baseline {t_base_startup:.2f} s "
        "(an empty file)",
        "",
        f"batch API: floor {batch_floor * us:.2f} (check copying, group, entries, decision dicts kept); "
        f"the target allows {1e6 / TARGET_BATCH_RATE:.2f}; the engine takes {t_batch * us:.2f}, "
        f"so {(t_batch - batch_floor) * us:.2f} above the floor",
        f"end to end, one process: floor {e2e_floor * us:.2f} = {e2e_floor / t_base:.2f}x the baseline "
        f"(every stage above but the batch API's two); `regelverk evaluate --jobs 1` takes {t_e2e * us:.2f} "
        f"({t_e2e / t_base:.2f}x), so deciding adds {rules_now * us:.2f} beside the floor and its startup; "
        f"the target {TARGET_E2E_ONE_PROCESS_RATIO}x leaves it "
        f"{(TARGET_E2E_ONE_PROCESS_RATIO * t_base - e2e_floor - t_startup) * us:.2f}",
        f"end to end, two processes: the target {TARGET_E2E_RATIO}x of wall time is at best "
        f"{2 * TARGET_E2E_RATIO}x of CPU split perfectly over two, leaving deciding "
        f"{(2 * TARGET_E2E_RATIO * t_base - e2e_floor - t_startup) * us:.2f} before any cost of splitting the work",
    ]
    print("\n".join(out))
    if args.json:
        figures = {name: round(t * us, 3) for name, t in times.items()}
        figures.update({"contacts": n, "baseline_us": round(base_us, 3), "batch_api_us": round(t_batch * us, 3),
                        "batch_floor_us": round(batch_floor * us, 3), "e2e_one_process_us": round(t_e2e * us, 3),
                        "e2e_floor_us": round(e2e_floor * us, 3), "startup_s": round(t_startup, 3),
                        "deciding_us": round(rules_now * us, 3)})
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
