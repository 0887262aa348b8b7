#!/usr/bin/env python3
"""Peak memory of `regelverk evaluate` on 1M and 5M contacts, NDJSON and Parquet; and Dask.

What it measures is the bounded way's memory (partitions, or grouped input streamed), so every
run has --memory-budget 0: an NDJSON file that fits the default budget would otherwise be
decided whole in memory (benchmarks/memory.py measures that way's peak).

Prints, for each size and input format, wall time, contacts/s, the peak RSS of the command
(the largest of the process and its workers, from wait4), and the seconds to the first
output line; then the ratio of the larger size's peak to the smaller's (target: at most 1.3).
With --dask, also contacts/s on a two-worker LocalCluster (loopback) for the largest size,
beside the in-process figure. Data comes from generate.py (converted to Parquet here, in
chunks); files are kept in benchmarks/data/.

    .venv/bin/python benchmarks/streaming.py --sizes 1000000 5000000 --dask
    .venv/bin/python benchmarks/streaming.py --sizes 100000 500000          # minutes, not tens
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
ROOT = HERE.parent
REGELVERK = [sys.executable, "-m", "evaluator"]


def ndjson_file(contacts: int) -> Path:
    path = DATA / f"contacts-{contacts}.ndjson"
    if not path.exists():
        DATA.mkdir(exist_ok=True)
        subprocess.run([sys.executable, str(HERE / "generate.py"), "--contacts", str(contacts),
                        "--patients", str(max(1, contacts // 10)), "--seed", "1", "--out", str(path),
                        "--quiet"], check=True)
    return path


def prepared(kind: str, contacts: int) -> Path:
    """The input file of `kind` (ndjson, parquet, grouped), made in a process of its own if
    missing: a peak is read from wait4 of a child of this process, and a child forked from a
    process that grew while converting data starts with all of that process's pages."""
    path = {"ndjson": DATA / f"contacts-{contacts}.ndjson", "parquet": DATA / f"contacts-{contacts}.parquet",
            "grouped": DATA / f"contacts-{contacts}-grouped.ndjson"}[kind]
    if not path.exists():
        subprocess.run([sys.executable, __file__, "--prepare", kind, str(contacts)], check=True)
    return path


def grouped_file(contacts: int) -> Path:
    """The NDJSON file with each patient's contacts together (in input order within a patient),
    as an export ordered by patient would be: dealt by patient into 64 files, then each sorted."""
    path = DATA / f"contacts-{contacts}-grouped.ndjson"
    if path.exists():
        return path
    import json
    import tempfile

    with tempfile.TemporaryDirectory(dir=DATA) as folder:
        parts = [open(os.path.join(folder, str(n)), "wb") for n in range(64)]  # noqa: SIM115
        with open(ndjson_file(contacts), "rb") as f:
            for line in f:
                parts[hash(json.loads(line)["patient"]) % 64].write(line)
        for part in parts:
            part.close()
        with open(f"{path}.part", "wb") as out:
            for n in range(64):
                with open(os.path.join(folder, str(n)), "rb") as f:
                    lines = f.readlines()
                lines.sort(key=lambda line: json.loads(line)["patient"])  # stable: input order kept
                out.writelines(lines)
        os.replace(f"{path}.part", path)
    return path


def parquet_file(contacts: int) -> Path:
    """The NDJSON file as Parquet, converted chunk by chunk, typed by the contact fields."""
    path = DATA / f"contacts-{contacts}.parquet"
    if path.exists():
        return path
    sys.path.insert(0, str(ROOT))
    import pyarrow as pa
    import pyarrow.parquet as pq

    from evaluator.loading.repository import load_policies
    from evaluator.running.formats import read_chunks

    fields = load_policies(None).fields
    arrow = {"boolean": pa.bool_(), "integer": pa.int64(), "list": pa.list_(pa.string())}
    schema = pa.schema([(name, arrow.get(t.kind, pa.string())) for name, t in fields.items()])
    with pq.ParquetWriter(f"{path}.part", schema) as writer:
        for chunk in read_chunks(ndjson_file(contacts), "ndjson", fields, size=100_000):
            rows = [r for r in chunk.records if r is not None]
            writer.write_table(pa.Table.from_pydict(
                {name: [r.get(name) for r in rows] for name in schema.names}, schema=schema))
    os.replace(f"{path}.part", path)
    return path


def run(path: Path, jobs: int) -> dict:
    """One `regelverk evaluate` run: wall time, peak RSS (MB) and time to the first line."""
    start = time.perf_counter()
    process = subprocess.Popen([*REGELVERK, "evaluate", str(path), "--jobs", str(jobs), "--quiet",
                                "--memory-budget", "0"], stdout=subprocess.PIPE, cwd=ROOT)
    first = None
    count = 0
    for _ in process.stdout:
        if first is None:
            first = time.perf_counter() - start
        count += 1
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"regelverk evaluate {path} failed with status {status}")
    peak = usage.ru_maxrss / 1024  # from wait4: the largest of the process and its workers
    return {"lines": count, "seconds": wall, "rate": count / wall, "peak_mb": peak, "first_line": first}


def unreadable_file(lines: int) -> Path:
    """Lines that are none of them JSON (a truncated object each), for the memory of bad input."""
    path = DATA / f"unreadable-{lines}.ndjson"
    if not path.exists():
        DATA.mkdir(exist_ok=True)
        with open(path, "wb") as f:
            for n in range(lines):
                f.write(b'{"id": "u%d", "patient": "p%d", "date": "2025-01-0\n' % (n, n % 1000))
    return path


def run_dask(path: Path) -> float:
    """Contacts/s on a two-worker LocalCluster on loopback, reading the Parquet file."""
    sys.path.insert(0, str(ROOT))
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    from evaluator.running.dask import evaluate_dataframe

    with LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                      processes=True) as cluster, Client(cluster):
        start = time.perf_counter()
        contacts = dd.read_parquet(str(path), split_row_groups=True)
        # Not sorted back into input order: that is a second shuffle, of the decisions, which
        # a cluster's job would leave to the Parquet it writes (by _row).
        decided = evaluate_dataframe(contacts, in_order=False)
        count = int(decided.map_partitions(len).sum().compute())
        return count / (time.perf_counter() - start)


def main() -> None:
    if sys.argv[1:2] == ["--prepare"]:  # (in a process of its own, see prepared)
        kind, contacts = sys.argv[2], int(sys.argv[3])
        {"ndjson": ndjson_file, "parquet": parquet_file, "grouped": grouped_file}[kind](contacts)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--formats", nargs="+", default=["ndjson", "parquet"],
                        help="ndjson, parquet, and grouped (NDJSON ordered by patient: streams straight through)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--dask", action="store_true", help="also time a two-worker LocalCluster")
    parser.add_argument("--unreadable", type=int, default=0, metavar="LINES",
                        help="also the peak RSS for this many lines that are not JSON")
    parser.add_argument("--dask-size", type=int, default=None, help="contacts for Dask (default: the largest size)")
    args = parser.parse_args()
    print("Figures from a shared machine; they move between runs.")
    peaks: dict = {}
    rates: dict = {}
    for fmt in args.formats:
        for size in args.sizes:
            path = prepared(fmt, size)
            got = run(path, args.jobs)
            peaks[fmt, size] = got["peak_mb"]
            rates[fmt, size] = got["rate"]
            print(f"{fmt:8} {size:>10,} contacts: {got['seconds']:7.1f} s, {got['rate']:8,.0f}/s, "
                  f"peak RSS {got['peak_mb']:7,.0f} MB, first line after {got['first_line']:.1f} s", flush=True)
        if len(args.sizes) > 1:
            small, large = min(args.sizes), max(args.sizes)
            ratio = peaks[fmt, large] / peaks[fmt, small]
            print(f"{fmt:8} peak RSS {large:,} / {small:,}: {ratio:.2f}x (target at most 1.3x): "
                  f"{'met' if ratio <= 1.3 else 'NOT met'}", flush=True)
    if args.unreadable:
        got = run(unreadable_file(args.unreadable), args.jobs)  # (written line by line: stays small)
        print(f"unreadable {args.unreadable:>8,} lines: {got['seconds']:7.1f} s, peak RSS {got['peak_mb']:7,.0f} MB",
              flush=True)
    if args.dask:
        size = args.dask_size or max(args.sizes)
        rate = run_dask(prepared("parquet", size))
        inproc = rates.get(("parquet", size))
        beside = f" (in process, --jobs {args.jobs}: {inproc:,.0f}/s)" if inproc else ""
        print(f"dask     {size:>10,} contacts on a two-worker LocalCluster: {rate:8,.0f}/s{beside}", flush=True)


if __name__ == "__main__":
    main()
