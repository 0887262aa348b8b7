#!/usr/bin/env python3
"""The floor under issue 11's speed targets: what deciding costs before any rule runs.

    python benchmarks/floor.py                                # 1,000,000 contacts (a minute or two)
    python benchmarks/floor.py --contacts 100000 --patients 10000

The targets of issue 11 (benchmarks/run.py) leave each contact a budget of time: the batch API's
100,000 contacts/s leaves 10 µs, end to end 2.5x (or 1.5x over two processes) the hand-written
baseline leaves 2.5 (or 3) times the baseline's cost per contact. This script measures, on the
same generated data and in one process, the stages every decision goes through whatever its
policies say, each with the engine's own functions:

* parse: the NDJSON lines read into records (ndjson.parse_ndjson);
* check: each record checked and typed against the contact schema (the engine's ContactChecker,
  copying as the batch API does, or typing in place as a parsed file allows);
* group: the valid contacts grouped by patient and each patient's put in contract order;
* state: each contact made a history entry and added to its patient's history;
* decision: a decision dict of the contract's shape, with no policy applied (status, policies,
  every output null, no findings, provenance): the least a decision holds;
* serialise: that decision as its NDJSON line (orjson, provenance spliced in as the engine does).

No rule runs here. What the floor leaves of each budget is what the rules, their findings and
the combining of outputs may cost for the target to be within reach, and the script prints that
beside what they cost now (the engine's whole run less the floor). It prints CPU time per
contact (time.process_time, which includes the kernel's time faulting in fresh pages); a busy
machine moves these figures less than wall time, but still: compare figures of one run.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
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
    text = Path(path).read_bytes()
    lines = split_ndjson(text)
    n = len(lines)
    print(f"floor: {n:,} contacts from {path}", file=sys.stderr)

    # -- the stages ---------------------------------------------------------------------------
    # Chunk by chunk, as the engine decides bucket by bucket: each chunk's records, typed
    # contacts and groups are let go before the next (so later chunks reuse their memory); the
    # NDJSON lines are kept, as the engine keeps them until it writes, and so are the
    # decision dicts where the batch API returns them all.
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
        groups: dict = {}
        for i, typed in enumerate(typed_all):
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

    times = dict.fromkeys(("parse", "check (typed in place)", "check (copying)", "group and order",
                           "history entries", "decision dict", "decision dict (all kept)", "serialise"), 0.0)
    kept_lines: list = []
    kept_dicts: list = []
    gc.collect()
    gc.disable()
    clock = time.process_time
    # the file's way: typed in place, each decision serialised at once and let go, its line
    # copied out of orjson's buffer as the engine does (parallel._Made)
    for start in range(0, n, CHUNK):
        t0 = clock()
        records, errors = parse_ndjson(lines[start:start + CHUNK])
        t1 = clock()
        assert not errors, "the generated data has unreadable lines"
        typed_all = [check(r, False)[0] for r in records]
        t2 = clock()
        del records
        t3 = clock()
        groups = group(typed_all)
        t4 = clock()
        state(groups)
        t5 = clock()
        del groups
        t6 = clock()
        made = decisions(typed_all, fragment)
        t7 = clock()
        kept_lines.extend([memoryview(dumps(d, option=option)).tobytes() for d in made])
        t8 = clock()
        del made, typed_all
        times["parse"] += t1 - t0
        times["check (typed in place)"] += t2 - t1
        times["group and order"] += t4 - t3
        times["history entries"] += t5 - t4
        times["decision dict"] += t7 - t6
        times["serialise"] += t8 - t7
    del kept_lines
    # the batch API's way: a typed copy of each record, every decision dict kept
    for start in range(0, n, CHUNK):
        records = parse_ndjson(lines[start:start + CHUNK])[0]
        t0 = clock()
        copies = [check(r, True)[0] for r in records]
        t1 = clock()
        made = decisions(copies, provenance)
        t2 = clock()
        times["check (copying)"] += t1 - t0
        times["decision dict (all kept)"] += t2 - t1
        kept_dicts += made
        del copies, made, records
    del kept_dicts
    gc.enable()
    t_parse, t_check, t_check_copy = times["parse"], times["check (typed in place)"], times["check (copying)"]
    t_group, t_state, t_decision, t_serialise = (times["group and order"], times["history entries"],
                                                 times["decision dict"], times["serialise"])

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

    us = 1e6 / n
    stages = times
    batch_floor = t_check_copy + t_group + t_state + times["decision dict (all kept)"]
    e2e_floor = t_parse + t_check + t_group + t_state + t_decision + t_serialise
    base_us = t_base * us
    out = [f"floor under issue 11's targets, {n:,} contacts, CPU µs per contact "
           f"(python {sys.version.split()[0]}, {os.cpu_count()} cores)", ""]
    for name, t in stages.items():
        out.append(f"  {name:<24} {t * us:6.2f}")
    out += [
        "",
        f"  baseline (whole, VGR only)       {base_us:6.2f}",
        "",
        f"batch API: floor {batch_floor * us:.2f} (check copying, group, entries, decision dicts); "
        f"the target allows {1e6 / TARGET_BATCH_RATE:.2f}; the engine takes {t_batch * us:.2f}, "
        f"so {(t_batch - batch_floor) * us:.2f} above the floor",
        f"end to end, one process: floor {e2e_floor * us:.2f} = {e2e_floor / t_base:.2f}x the baseline; "
        f"the target {TARGET_E2E_ONE_PROCESS_RATIO}x allows {TARGET_E2E_ONE_PROCESS_RATIO * base_us:.2f}, "
        f"so {(TARGET_E2E_ONE_PROCESS_RATIO * t_base - e2e_floor) * us:.2f} for the rules; "
        f"`regelverk evaluate --jobs 1` takes {t_e2e * us:.2f} ({t_e2e / t_base:.2f}x), "
        f"{(t_e2e - e2e_floor) * us:.2f} above the floor (startup included)",
        f"end to end, two processes: the target {TARGET_E2E_RATIO}x of wall time is at best "
        f"{2 * TARGET_E2E_RATIO}x of CPU split perfectly over two, allowing "
        f"{(2 * TARGET_E2E_RATIO * t_base - e2e_floor) * us:.2f} for the rules before any cost of "
        f"splitting the work",
    ]
    print("\n".join(out))
    if args.json:
        figures = {name: round(t * us, 3) for name, t in stages.items()}
        figures.update({"contacts": n, "baseline_us": round(base_us, 3), "batch_api_us": round(t_batch * us, 3),
                        "batch_floor_us": round(batch_floor * us, 3), "e2e_one_process_us": round(t_e2e * us, 3),
                        "e2e_floor_us": round(e2e_floor * us, 3)})
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
