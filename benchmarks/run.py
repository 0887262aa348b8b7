#!/usr/bin/env python3
"""The speed benchmark: the evaluator against a hand-written baseline, in one run.

    python benchmarks/run.py                                   # 1,000,000 contacts (minutes)
    python benchmarks/run.py --contacts 100000 --patients 10000
    python benchmarks/run.py --contacts 50000 --patients 5000 --json out.json

It generates the data file if it is missing (``benchmarks/data/``, git-ignored) and measures:

* end to end: ``regelverk evaluate FILE > /dev/null`` as a subprocess (wall time, max RSS);
* the hand-written baseline (``benchmarks/baseline.py``) on the same file, the same way, and the
  ratio evaluator / baseline;
* the in-process batch API: ``repo.evaluate(contacts)`` on the already parsed contacts, in one
  process and with ``jobs`` = the usable processors (forked workers, decisions checked equal);
* the single-contact API: ``repo.evaluate_one(contact, history)`` with a 20-contact history,
  median and p99 over many samples drawn from generated patients;
* the quadratic check: the batch API on the heaviest patient's contacts alone against the same
  number of contacts of ordinary patients, and the heaviest patient's cost per contact early in
  its second year against its last quarter (the cost of a decision must follow what its windows
  hold, not the whole history);
* agreement: the batch API's ``reimbursable`` against the baseline's, where the baseline decides.

The targets are checked and printed as text, not asserted.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import importlib.util
import json
import math
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"

# The targets of issue 11 (the engine's second design).
TARGET_E2E_RATIO = 1.5  # default jobs
TARGET_E2E_ONE_PROCESS_RATIO = 2.5  # --jobs 1
TARGET_BATCH_RATE = 100_000
TARGET_SINGLE_MEDIAN_US = 50.0


# ---------------------------------------------------------------------------------------------
# helpers


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    mem_gb = None
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "memory_gb": mem_gb,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
    }


def maxrss_mb(ru) -> float:
    # ru_maxrss is in kilobytes on Linux, in bytes on macOS.
    kb = ru.ru_maxrss / 1024 if sys.platform == "darwin" else ru.ru_maxrss
    return round(kb / 1024, 1)


def run_child(cmd: list[str], stdout, timeout: float, cwd: Path, env: dict) -> dict:
    """Run one subprocess; wall time, exit code and this child's own max RSS (wait4)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE, cwd=cwd, env=env)
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        p.kill()

    timer = threading.Timer(timeout, kill)
    timer.start()
    # stderr is read on a thread so that a chatty child cannot block on a full pipe.
    err: list[bytes] = []
    reader = threading.Thread(target=lambda: err.append(p.stderr.read()), daemon=True)
    reader.start()
    try:
        _, status, ru = os.wait4(p.pid, 0)
    finally:
        timer.cancel()
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    reader.join(5)
    stderr = err[0].decode("utf-8", "replace") if err else ""
    return {
        "wall_s": round(wall, 3),
        "cpu_s": round(ru.ru_utime + ru.ru_stime, 3),
        "max_rss_mb": maxrss_mb(ru),
        "exit_code": p.returncode,
        "timed_out": timed_out.is_set(),
        "stderr_tail": stderr[-2000:],
    }


def child_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def evaluate_command(file: Path) -> list[str]:
    """``regelverk evaluate FILE``, with the interpreter this script runs on."""
    script = Path(sys.executable).with_name("regelverk")
    if script.exists():
        return [str(script), "evaluate", str(file)]
    try:
        has_main = importlib.util.find_spec("evaluator.__main__") is not None
    except ImportError:
        has_main = False
    if has_main:
        return [sys.executable, "-m", "evaluator", "evaluate", str(file)]
    # The console script is not installed: call its entry point (pyproject: evaluator.cli:main).
    return [sys.executable, "-c", "import sys; from evaluator.cli import main; sys.exit(main())",
            "evaluate", str(file)]


def contract_order_key(item):
    i, c = item
    return (c["date"], c.get("time", ""), i)


def reimbursable_of(decision):
    """The ``reimbursable`` output of a decision, whatever shape the API returns it in."""
    if isinstance(decision, dict):
        return decision["outputs"]["reimbursable"]
    outputs = getattr(decision, "outputs", None)
    if outputs is None and hasattr(decision, "to_dict"):
        return decision.to_dict()["outputs"]["reimbursable"]
    if isinstance(outputs, dict):
        return outputs["reimbursable"]
    return outputs.reimbursable


def status_of(decision):
    if isinstance(decision, dict):
        return decision.get("status")
    s = getattr(decision, "status", None)
    if s is None and hasattr(decision, "to_dict"):
        s = decision.to_dict().get("status")
    return getattr(s, "value", s)


def rate(n: int, seconds: float) -> float:
    return round(n / seconds, 1) if seconds > 0 else float("inf")


def best_of(repeat: int, fn) -> float:
    best = math.inf
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


# ---------------------------------------------------------------------------------------------
# the measurements


def add_data_arguments(p: argparse.ArgumentParser) -> None:
    """The options that say which generated data file (or given file) a benchmark runs on."""
    p.add_argument("--contacts", type=int, default=1_000_000)
    p.add_argument("--patients", type=int, default=100_000)
    p.add_argument("--units", type=int, default=200)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--data", help="use this NDJSON file instead of a generated one")


def ensure_data(args) -> Path:
    if args.data:
        return Path(args.data)
    path = DATA / f"contacts-{args.contacts}-{args.patients}-{args.units}-s{args.seed}.ndjson"
    if not path.exists():
        DATA.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        log(f"generating {path} ...")
        subprocess.run([sys.executable, str(HERE / "generate.py"), "--contacts", str(args.contacts),
                        "--patients", str(args.patients), "--units", str(args.units),
                        "--seed", str(args.seed), "--out", str(tmp)], check=True)
        tmp.replace(path)
    return path


def measure_baseline(file: Path, n: int, args) -> dict:
    log("baseline (hand-written, subprocess) ...")
    with open(os.devnull, "wb") as devnull:
        r = run_child([sys.executable, str(HERE / "baseline.py"), str(file)], devnull,
                      args.timeout, ROOT, child_env())
    r["contacts_per_s"] = rate(n, r["wall_s"]) if r["exit_code"] == 0 else None
    return r


def baseline_outputs(file: Path) -> list:
    out = subprocess.run([sys.executable, str(HERE / "baseline.py"), str(file)],
                         stdout=subprocess.PIPE, check=True).stdout
    return [json.loads(line)["reimbursable"] for line in out.splitlines()]


def measure_e2e(file: Path, n: int, args, extra: tuple = ()) -> dict:
    cmd = evaluate_command(file) + list(extra)
    log(f"end to end: {' '.join(cmd)} > /dev/null ...")
    with open(os.devnull, "wb") as devnull:
        r = run_child(cmd, devnull, args.timeout, ROOT, child_env())
    r["command"] = " ".join(Path(c).name if i == 0 else c for i, c in enumerate(cmd))
    r["contacts_per_s"] = rate(n, r["wall_s"]) if r["exit_code"] == 0 else None
    return r


def marginal_cost(repo, items: list, repeat: int) -> dict:
    """Cost per contact of the heaviest patient early in its second year against its last
    quarter. The 12-month windows are full in both, the history is much longer in the last
    quarter: about the same cost means a decision costs what its windows hold; a clearly higher
    cost late means it grows with the whole history."""
    first = _dt.date.fromisoformat(items[0]["date"])
    last = _dt.date.fromisoformat(items[-1]["date"])
    if (last - first).days < 600:
        return {"marginal": "the heaviest patient spans less than 600 days; not measured"}
    cuts = [(first + _dt.timedelta(days=d)).isoformat() for d in (366, 366 + 91)]
    cuts += [(last - _dt.timedelta(days=91)).isoformat(), "9999-12-31"]
    prefixes = [[c for c in items if c["date"] < cut] for cut in cuts]
    # The figure is a difference of timings tens of milliseconds long: the four prefixes are
    # timed in turn, round after round, each keeping its best, so that a slow spell of a
    # shared machine falls on all four rather than on one of them.
    times = [math.inf] * len(prefixes)
    for _ in range(max(repeat, 21)):
        for k, p in enumerate(prefixes):
            times[k] = min(times[k], best_of(1, lambda p=p: repo.evaluate(p)))
    n = [len(p) for p in prefixes]
    early_n, late_n = n[1] - n[0], n[3] - n[2]
    if early_n <= 0 or late_n <= 0:
        return {"marginal": "too few contacts in the quarters; not measured"}
    early_us = (times[1] - times[0]) / early_n * 1e6
    late_us = (times[3] - times[2]) / late_n * 1e6
    return {
        "marginal_early_quarter": f"{cuts[0]}..{cuts[1]}",
        "marginal_early_contacts": early_n,
        "marginal_early_history": n[0],
        "marginal_early_us_per_contact": round(early_us, 1),
        "marginal_late_quarter": f"{cuts[2]}..{items[-1]['date']}",
        "marginal_late_contacts": late_n,
        "marginal_late_history": n[2],
        "marginal_late_us_per_contact": round(late_us, 1),
        "marginal_late_vs_early": round(late_us / early_us, 2) if early_us > 0 else None,
        # A difference of two timings: with few contacts per quarter it is noisy.
        "marginal_reliable": min(early_n, late_n) >= 400,
    }


def measure_in_process(file: Path, args, base: list | None) -> dict:
    res: dict = {}
    log("parsing the data file for the in-process measurements ...")
    with open(file, encoding="utf-8") as f:
        contacts = [json.loads(line) for line in f]
    n = len(contacts)

    t0 = time.perf_counter()
    from evaluator import load_repository  # noqa: E402  (the engine, imported late on purpose)

    repo = load_repository()
    res["load_repository_s"] = round(time.perf_counter() - t0, 3)

    # -- batch API --------------------------------------------------------------------------
    log(f"batch API: repo.evaluate({n:,} contacts) ...")
    gc.collect()
    rss_before = maxrss_mb(resource.getrusage(resource.RUSAGE_SELF))
    t0 = time.perf_counter()
    decisions = repo.evaluate(contacts)
    if not isinstance(decisions, list):
        decisions = list(decisions)
    t = time.perf_counter() - t0
    rss_after = maxrss_mb(resource.getrusage(resource.RUSAGE_SELF))
    res["batch"] = {
        "contacts": n,
        "seconds": round(t, 3),
        "contacts_per_s": rate(n, t),
        "process_max_rss_mb_before": rss_before,
        "process_max_rss_mb_after": rss_after,
        "decisions": len(decisions),
        "status": dict(Counter(status_of(d) for d in decisions)),
    }

    # -- batch API in processes ------------------------------------------------------------
    from evaluator.running.parallel import default_jobs  # noqa: E402

    jobs = default_jobs()
    if jobs > 1:
        log(f"batch API in processes: repo.evaluate({n:,} contacts, jobs={jobs}) ...")
        gc.collect()
        t0 = time.perf_counter()
        forked = repo.evaluate(contacts, jobs=jobs)
        t = time.perf_counter() - t0
        res["batch_processes"] = {"jobs": jobs, "seconds": round(t, 3), "contacts_per_s": rate(n, t),
                                  "equal_to_one_process": forked == decisions}
        del forked

    # -- agreement with the baseline --------------------------------------------------------
    if base is not None:
        if len(base) != n or len(decisions) != n:
            res["agreement"] = {"error": f"lengths differ: input {n}, baseline {len(base)}, "
                                         f"evaluator {len(decisions)}"}
        else:
            compared = 0
            mismatch = Counter()
            examples = []
            for c, d, b in zip(contacts, decisions, base, strict=True):
                if (c.get("region") == "vgr" and c.get("care_choice") == "rehab"
                        and c.get("channel") == "written"):
                    compared += 1
                    e = reimbursable_of(d)
                    if e != b:
                        kind = "sob" if c.get("platform") == "sob" else "other"
                        mismatch[f"{kind}: baseline {b} evaluator {e}"] += 1
                        if len(examples) < 5:
                            examples.append(c["id"])
            res["agreement"] = {"vgr_rehab_written_compared": compared,
                                "mismatches": sum(mismatch.values()),
                                "by_kind": dict(mismatch), "examples": examples}
    del decisions

    # -- patients, in contract order ----------------------------------------------------------
    by_patient: dict[str, list] = defaultdict(list)
    for i, c in enumerate(contacts):
        by_patient[c["patient"]].append((i, c))
    for items in by_patient.values():
        items.sort(key=contract_order_key)
    res["patients"] = len(by_patient)
    rng = random.Random(args.seed)

    # -- quadratic check ----------------------------------------------------------------------
    heaviest_pid, heavy_items = max(by_patient.items(), key=lambda kv: len(kv[1]))
    heavy = [c for _, c in heavy_items]
    h = len(heavy)
    ordinary_pids = [p for p, items in by_patient.items() if 2 <= len(items) <= 50]
    rng.shuffle(ordinary_pids)
    ordinary: list = []
    for p in ordinary_pids:
        if len(ordinary) >= h:
            break
        ordinary.extend(c for _, c in by_patient[p])
    ordinary = ordinary[:h]
    log(f"quadratic check: heaviest patient ({h:,} contacts) vs {len(ordinary):,} contacts "
        f"of ordinary patients ...")
    t_heavy = best_of(args.repeat, lambda: repo.evaluate(heavy))
    t_ord = best_of(args.repeat, lambda: repo.evaluate(ordinary))
    heavy_written = sum(1 for c in heavy if c.get("channel") == "written")
    res["quadratic"] = {
        "heaviest_patient": heaviest_pid,
        "heaviest_region": heavy[0].get("region"),
        "heaviest_contacts": h,
        "heaviest_written": heavy_written,
        "heaviest_contacts_per_s": rate(h, t_heavy),
        "ordinary_contacts": len(ordinary),
        "ordinary_patients": len({c["patient"] for c in ordinary}),
        "ordinary_contacts_per_s": rate(len(ordinary), t_ord),
        "heaviest_vs_ordinary": round(t_ord / t_heavy, 3) if t_heavy else None,
    }
    res["quadratic"].update(marginal_cost(repo, heavy, args.repeat))

    # -- the single-contact API -----------------------------------------------------------
    hist = args.history
    eligible = [p for p, items in by_patient.items() if len(items) >= hist + 1]
    if not eligible:
        res["single"] = {"error": f"no patient has >= {hist + 1} contacts"}
        return res
    eligible.sort()
    samples = []
    for _ in range(args.samples + args.warmup):
        items = by_patient[rng.choice(eligible)]
        k = rng.randrange(hist, len(items))
        samples.append((items[k][1], [c for _, c in items[k - hist:k]]))
    log(f"single-contact API: {args.samples:,} samples of evaluate_one(contact, "
        f"{hist}-contact history) from {len(eligible):,} patients ...")
    evaluate_one = repo.evaluate_one
    for contact, history in samples[: args.warmup]:
        evaluate_one(contact, history)
    lat = []
    lat_written = []
    lat_history = []  # contacts some version they can fall under counts earlier contacts for
    perf = time.perf_counter_ns
    engine = repo.engine
    for contact, history in samples[args.warmup:]:
        t0 = perf()
        evaluate_one(contact, history)
        dt_us = (perf() - t0) / 1000
        lat.append(dt_us)
        if (contact.get("region") == "vgr" and contact.get("care_choice") == "rehab"
                and contact.get("channel") == "written"):
            lat_written.append(dt_us)
        # (the generated contacts are valid, so the raw contact serves for the dispatch table)
        day = _dt.date.fromisoformat(contact["date"])
        if any(engine.program.of(v).reads_history for v in engine.candidates(contact, day)):
            lat_history.append(dt_us)
    lat.sort()
    lat_history.sort()

    def pct(xs, q):
        return round(xs[min(len(xs) - 1, int(q * len(xs)))], 1)

    res["single"] = {
        "samples": len(lat),
        "history": hist,
        "median_us": round(statistics.median(lat), 1),
        "p99_us": pct(lat, 0.99),
        "mean_us": round(statistics.fmean(lat), 1),
        "max_us": round(lat[-1], 1),
        "vgr_rehab_written_samples": len(lat_written),
        "vgr_rehab_written_median_us": (round(statistics.median(lat_written), 1)
                                        if lat_written else None),
        # evaluate_one decides a contact alone where none of its versions counts history
        "history_samples": len(lat_history),
        "history_median_us": round(statistics.median(lat_history), 1) if lat_history else None,
        "history_p99_us": pct(lat_history, 0.99) if lat_history else None,
    }
    return res


# ---------------------------------------------------------------------------------------------
# the report


def verdict(ok: bool | None) -> str:
    return "n/a " if ok is None else ("PASS" if ok else "FAIL")


def report(r: dict) -> str:
    m = r["machine"]
    out = []
    w = out.append
    w(f"regelverk speed benchmark  {r['when']}")
    w(f"machine   {m['cpu']}, {m['cores']} cores ({m['cores_usable']} usable), "
      f"{m['memory_gb']} GB; {m['implementation']} {m['python']}; {m['platform']}")
    d = r["data"]
    patients = f"{d['patients']:,} patients, " if d["patients"] else ""
    w(f"data      {d['file']}  ({d['contacts']:,} contacts, {patients}{d['size_mb']} MB)")
    w("")
    b = r.get("baseline")
    e = r.get("e2e")
    if b:
        w(f"baseline (hand-written, VGR written contacts only)  {b['wall_s']:8.2f} s  "
          f"{b['contacts_per_s'] or 0:>12,.0f} contacts/s  max RSS {b['max_rss_mb']:,.0f} MB"
          + ("" if b["exit_code"] == 0 else f"  EXIT {b['exit_code']}"))
    if e:
        if e["exit_code"] == 0:
            w(f"end to end: {e['command'].split(' /')[0]:<39}{e['wall_s']:8.2f} s  "
              f"{e['contacts_per_s']:>12,.0f} contacts/s  max RSS {e['max_rss_mb']:,.0f} MB")
        else:
            why = "timed out" if e["timed_out"] else f"exit code {e['exit_code']}"
            w(f"end to end: FAILED ({why}) after {e['wall_s']:.1f} s; stderr: "
              f"{e['stderr_tail'][-600:]!r}")
    e1 = r.get("e2e_one_process")
    if e1 and e1["exit_code"] == 0:
        w("end to end, one process (--jobs 1)".ljust(51) + f"{e1['wall_s']:8.2f} s  "
          f"{e1['contacts_per_s']:>12,.0f} contacts/s  max RSS {e1['max_rss_mb']:,.0f} MB")
    if b and e and e["exit_code"] == 0 and b["exit_code"] == 0:
        w(f"ratio evaluator / baseline (end to end, {m['cores_usable']} usable processors): {r['ratio_e2e']:.2f}x"
          + (f"; in one process: {e1['wall_s'] / b['wall_s']:.2f}x" if e1 and e1["exit_code"] == 0 else ""))
    ip = r.get("in_process")
    if ip and "batch" in ip:
        bt = ip["batch"]
        w(f"load_repository()                                     {ip['load_repository_s']:8.3f} s")
        w(f"batch API repo.evaluate(list of {bt['contacts']:,} dicts)".ljust(54)
          + f"{bt['seconds']:8.2f} s  {bt['contacts_per_s']:>12,.0f} contacts/s  "
          f"process max RSS {bt['process_max_rss_mb_before']:,.0f} -> "
          f"{bt['process_max_rss_mb_after']:,.0f} MB")
        w(f"  statuses: {bt['status']}")
    if ip and "batch_processes" in ip:
        bp = ip["batch_processes"]
        w(f"batch API in processes, repo.evaluate(..., jobs={bp['jobs']})".ljust(54)
          + f"{bp['seconds']:8.2f} s  {bp['contacts_per_s']:>12,.0f} contacts/s  "
          f"(decisions equal to one process's: {'yes' if bp['equal_to_one_process'] else 'NO'})")
    if ip and "single" in ip:
        s = ip["single"]
        if "error" in s:
            w(f"single-contact API: {s['error']}")
        else:
            w(f"single-contact API evaluate_one(contact, {s['history']}-contact history), "
              f"{s['samples']:,} samples:")
            w(f"  median {s['median_us']:,.1f} µs   p99 {s['p99_us']:,.1f} µs   "
              f"mean {s['mean_us']:,.1f} µs   max {s['max_us']:,.1f} µs"
              + (f"   (VGR written contacts: median {s['vgr_rehab_written_median_us']:,.1f} µs,"
                 f" n={s['vgr_rehab_written_samples']})" if s["vgr_rehab_written_samples"] else ""))
            if s["history_samples"]:
                w(f"  {s['history_samples']:,} samples fall under a version that counts earlier "
                  f"contacts (the others are decided without their history): median "
                  f"{s['history_median_us']:,.1f} µs, p99 {s['history_p99_us']:,.1f} µs")
    if ip and "quadratic" in ip:
        q = ip["quadratic"]
        w(f"quadratic check (batch API, best of {r['options']['repeat']}):")
        w(f"  heaviest patient {q['heaviest_patient']} ({q['heaviest_region']}), "
          f"{q['heaviest_contacts']:,} contacts ({q['heaviest_written']:,} written): "
          f"{q['heaviest_contacts_per_s']:>10,.0f} contacts/s")
        w(f"  {q['ordinary_contacts']:,} contacts of {q['ordinary_patients']:,} ordinary patients:"
          .ljust(66) + f"{q['ordinary_contacts_per_s']:>10,.0f} contacts/s")
        w(f"  heaviest / ordinary speed: {q['heaviest_vs_ordinary']:.2f}")
        if "marginal_late_vs_early" in q:
            w("  cost per contact of the heaviest patient, 12-month windows full in both:")
            w(f"    early in year 2 ({q['marginal_early_quarter']}, {q['marginal_early_contacts']:,} "
              f"contacts after {q['marginal_early_history']:,}): "
              f"{q['marginal_early_us_per_contact']:,.1f} µs")
            w(f"    last quarter    ({q['marginal_late_quarter']}, {q['marginal_late_contacts']:,} "
              f"contacts after {q['marginal_late_history']:,}): "
              f"{q['marginal_late_us_per_contact']:,.1f} µs")
            w(f"    late / early: {q['marginal_late_vs_early']} (about 1: follows the windows; "
              f"about {q['marginal_late_history'] / max(1, q['marginal_early_history']):.1f}: "
              f"follows the whole history)"
              + ("" if q["marginal_reliable"] else
                 "; few contacts per quarter, so noisy: use a larger --contacts"))
        elif "marginal" in q:
            w(f"  {q['marginal']}")
    ag = ip.get("agreement") if ip else None
    if ag:
        if "error" in ag:
            w(f"agreement with the baseline: {ag['error']}")
        else:
            w(f"agreement with the baseline on {ag['vgr_rehab_written_compared']:,} VGR rehab "
              f"written contacts: {ag['mismatches']:,} differ"
              + (f" {ag['by_kind']}, e.g. {ag['examples']}" if ag["mismatches"] else ""))
    w("")
    w("targets")
    for t in r["targets"]:
        w(f"  {verdict(t['ok'])}  {t['name']}: {t['value']}")
    if r.get("errors"):
        w("")
        w("errors")
        for err in r["errors"]:
            w(f"  {err}")
    return "\n".join(out)


def targets(r: dict) -> list[dict]:
    ts = []
    ratio = r.get("ratio_e2e")
    ts.append({"name": f"end to end <= {TARGET_E2E_RATIO}x baseline (default jobs)",
               "ok": None if ratio is None else ratio <= TARGET_E2E_RATIO,
               "value": "not measured" if ratio is None else f"{ratio:.2f}x"})
    e1, b = r.get("e2e_one_process"), r.get("baseline")
    one = (e1["wall_s"] / b["wall_s"] if e1 and b and e1["exit_code"] == 0 and b["exit_code"] == 0
           and b["wall_s"] else None)
    ts.append({"name": f"end to end in one process (--jobs 1) <= {TARGET_E2E_ONE_PROCESS_RATIO}x baseline",
               "ok": None if one is None else one <= TARGET_E2E_ONE_PROCESS_RATIO,
               "value": "not measured" if one is None else f"{one:.2f}x"})
    ip = r.get("in_process") or {}
    br = ip.get("batch", {}).get("contacts_per_s")
    bp = ip.get("batch_processes", {}).get("contacts_per_s")
    ts.append({"name": f"batch API >= {TARGET_BATCH_RATE:,} contacts/s",
               "ok": None if br is None else br >= TARGET_BATCH_RATE,
               "value": "not measured" if br is None else f"{br:,.0f} contacts/s in one process"
               + ("" if bp is None else f"; {bp:,.0f} in {ip['batch_processes']['jobs']} processes")})
    med = ip.get("single", {}).get("median_us")
    ts.append({"name": f"single-contact median <= {TARGET_SINGLE_MEDIAN_US:.0f} µs",
               "ok": None if med is None else med <= TARGET_SINGLE_MEDIAN_US,
               "value": "not measured" if med is None else f"{med:,.1f} µs"})
    return ts


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_arguments(p)
    p.add_argument("--samples", type=int, default=2000, help="single-contact samples")
    p.add_argument("--warmup", type=int, default=100, help="single-contact warm-up calls")
    p.add_argument("--history", type=int, default=20, help="history length, single-contact")
    p.add_argument("--repeat", type=int, default=3, help="repeats (best of) in the quadratic check")
    p.add_argument("--timeout", type=float, default=1200, help="seconds per subprocess")
    p.add_argument("--skip-e2e", action="store_true", help="skip the end-to-end run")
    p.add_argument("--skip-baseline", action="store_true", help="skip the baseline")
    p.add_argument("--skip-in-process", action="store_true",
                   help="skip the batch, single-contact and quadratic measurements")
    p.add_argument("--json", metavar="FILE",
                   help="also write the figures as JSON to FILE ('-': JSON on standard output "
                        "instead of the text report)")
    args = p.parse_args(argv)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # the project's evaluator, also when not installed

    file = ensure_data(args)
    with open(file, "rb") as f:
        n = sum(1 for _ in f)
    r: dict = {
        "when": _dt.datetime.now().isoformat(timespec="seconds"),
        "machine": machine(),
        "options": {k: v for k, v in vars(args).items() if k != "json"},
        "data": {"file": str(file.relative_to(ROOT) if file.is_relative_to(ROOT) else file),
                 "contacts": n, "patients": None,
                 "size_mb": round(file.stat().st_size / 1e6, 1)},
        "errors": [],
    }
    base_out = None
    if not args.skip_baseline:
        r["baseline"] = measure_baseline(file, n, args)
        if r["baseline"]["exit_code"] != 0:
            r["errors"].append(f"baseline failed: {r['baseline']['stderr_tail'][-500:]}")
    if not args.skip_e2e:
        r["e2e"] = measure_e2e(file, n, args)
        if r["e2e"]["exit_code"] != 0:
            r["errors"].append("end to end failed: " + r["e2e"]["stderr_tail"][-500:])
        # The default splits a large batch over every usable processor; also in one process.
        r["e2e_one_process"] = measure_e2e(file, n, args, ("--jobs", "1"))
    b, e = r.get("baseline"), r.get("e2e")
    r["ratio_e2e"] = (round(e["wall_s"] / b["wall_s"], 3)
                      if b and e and b["exit_code"] == 0 and e["exit_code"] == 0 else None)
    if not args.skip_in_process:
        if not args.skip_baseline and r["baseline"]["exit_code"] == 0:
            base_out = baseline_outputs(file)
        try:
            r["in_process"] = measure_in_process(file, args, base_out)
        except Exception as exc:  # report what failed, keep the figures measured so far
            import traceback

            r["errors"].append("in-process: " + "".join(
                traceback.format_exception_only(type(exc), exc)).strip())
            log(traceback.format_exc())
            r.setdefault("in_process", {})
        r["data"]["patients"] = r["in_process"].get("patients")
    r["targets"] = targets(r)

    if args.json == "-":
        json.dump(r, sys.stdout, indent=2, ensure_ascii=False)
        print()
    else:
        print(report(r))
        if args.json:
            with open(args.json, "w", encoding="utf-8") as f:
                json.dump(r, f, indent=2, ensure_ascii=False)
                f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
