"""Load benchmark of `regelverk serve` on loopback, with wrk (Debian package `wrk`).

Prints, in one run:
- single-contact requests/s and p50/p99 latency (POST /evaluate-one, a contact with a
  20-contact history) with 1 and 2 workers at 64 connections, and the errors wrk saw;
- NDJSON batch contacts/s through HTTP (POST /evaluate, one request) against
  `regelverk evaluate` on the same file;
- the targets of issue 13 and whether each is met.

    .venv/bin/python benchmarks/service.py                       # 100,000 contacts, 15 s per wrk run
    .venv/bin/python benchmarks/service.py --contacts 20000 --duration 5
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable


def one_request_body() -> bytes:
    """A VGR rehab written contact with 20 earlier contacts of the same patient (a mix of
    written, phone and physical, over ten months), as POST /evaluate-one takes it."""
    base = {"patient": "bench-p1", "unit": "SE2321000131-E000001", "region": "vgr", "care_choice": "rehab",
            "dialogue": True, "content_equivalent_to_visit": True, "medical_assessment": True,
            "documented": True, "regular_staff": True}
    channels = ["written", "written", "phone", "written", "physical"]
    history = [{**base, "id": f"h{k}", "date": f"2025-{2 + k // 3:02d}-{1 + (k % 3) * 9:02d}",
                "channel": channels[k % len(channels)]} for k in range(20)]
    contact = {**base, "id": "c21", "date": "2025-11-20", "channel": "written"}
    return json.dumps({"contact": contact, "history": history}).encode()


def start_service(policies: str | None, workers: int, env: dict) -> tuple[subprocess.Popen, int]:
    command = [PYTHON, "-m", "evaluator", "serve", "--port", "0", "--workers", str(workers)]
    if policies:
        command += ["--policies", policies]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                               env={**os.environ, **env})
    for line in process.stderr:
        found = re.search(r"serving on http://[^:]+:(\d+) ", line)
        if found:
            port = int(found.group(1))
            break
    else:
        raise SystemExit("the service did not start")
    # the logs go nowhere from here (a thread would be needed to read them): drop them
    subprocess.Popen(["cat"], stdin=process.stderr, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/health/ready")
            if conn.getresponse().status == 200:
                break
        except OSError:
            time.sleep(0.1)
    return process, port


def stop_service(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) so far of the service process and its workers; None where
    /proc cannot say (not Linux)."""
    try:
        pids = [pid]
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as listing:
                pids += [int(p) for p in listing.read().split()]
        total = 0
        for p in pids:
            with open(f"/proc/{p}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        return total / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return None


def load_average() -> str:
    try:
        return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "load average unknown"


def wrk(port: int, body: bytes, connections: int, duration: int, threads: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                          f"wrk.body = {json.dumps(body.decode())}\n", encoding="utf-8")
        done = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency",
                               "-s", str(script), f"http://127.0.0.1:{port}/evaluate-one"],
                              capture_output=True, text=True, check=True)
    out = done.stdout

    def millis(label: str) -> float:
        value, unit = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    errors = 0
    if found := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(found.group(1))
    if found := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(x) for x in found.groups())
    return {"requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50_ms": millis("50%"), "p99_ms": millis("99%"), "errors": errors,
            "requests": int(re.search(r"(\d+) requests in", out).group(1))}


def batch_over_http(port: int, data: Path) -> tuple[float, int]:
    """Seconds to POST the file and read every decision line back; the number of lines."""
    size = data.stat().st_size
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
    with open(data, "rb") as handle:
        conn.request("POST", "/evaluate", body=handle, headers={"Content-Type": "application/x-ndjson",
                                                                 "Content-Length": str(size)})
        answer = conn.getresponse()
        lines = 0
        while chunk := answer.read(1 << 20):
            lines += chunk.count(b"\n")
    assert answer.status == 200, answer.status
    return time.perf_counter() - start, lines


def cli_evaluate(policies: str | None, data: Path) -> float:
    command = [PYTHON, "-m", "evaluator", "evaluate", str(data)]
    if policies:
        command += ["--policies", policies]
    start = time.perf_counter()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--contacts", type=int, default=100_000)
    p.add_argument("--patients", type=int, default=10_000)
    p.add_argument("--duration", type=int, default=15, help="seconds per wrk run")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--wrk-threads", type=int, default=1)
    p.add_argument("--policies", default=None, help="policy folder (default: the bundled policies)")
    p.add_argument("--logs", action="store_true", help="keep the decision and access logs on (to /dev/null)")
    args = p.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    policies = args.policies or str(HERE.parent / "policies")
    env = {} if args.logs else {"REGELVERK_DECISION_LOG": "off", "REGELVERK_ACCESS_LOG": "off"}
    env["REGELVERK_MAX_BODY_BYTES"] = str(1 << 30)
    print(f"machine: {os.cpu_count()} processors (shared with other work), {load_average()}; "
          f"Python {sys.version.split()[0]}; logs {'on' if args.logs else 'off'}")

    body = one_request_body()
    single = {}
    for workers in (1, 2):
        process, port = start_service(policies, workers, env)
        try:
            wrk(port, body, args.connections, 2, args.wrk_threads)  # warm up
            before = cpu_seconds(process.pid)
            single[workers] = r = wrk(port, body, args.connections, args.duration, args.wrk_threads)
            after = cpu_seconds(process.pid)
        finally:
            stop_service(process)
        # the service's CPU time per request: what the code costs, less swayed than req/s by
        # what else the machine runs (but not free of it: shared caches, a core's own load)
        cpu = (f", service CPU {(after - before) / r['requests'] * 1e6:,.0f} µs/request"
               if before is not None and after is not None else "")
        print(f"/evaluate-one, {workers} worker(s), {args.connections} connections: {r['requests_per_s']:,.0f} req/s, "
              f"p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, {r['errors']} errors of {r['requests']:,}{cpu}; "
              f"{load_average()}")

    data_dir = HERE / "data"
    data_dir.mkdir(exist_ok=True)
    data = data_dir / f"contacts-{args.contacts}-{args.patients}-200-s1.ndjson"
    if not data.exists():
        subprocess.run([PYTHON, str(HERE / "generate.py"), "--contacts", str(args.contacts), "--patients",
                        str(args.patients), "--seed", "1", "--out", str(data), "--quiet"], check=True)
    cli = cli_evaluate(policies, data)
    process, port = start_service(policies, 1, env)
    try:
        batch_over_http(port, data)  # warm up
        seconds, lines = batch_over_http(port, data)
    finally:
        stop_service(process)
    assert lines == args.contacts, lines
    print(f"batch of {args.contacts:,}: HTTP /evaluate {args.contacts / seconds:,.0f} contacts/s ({seconds:.2f} s); "
          f"regelverk evaluate {args.contacts / cli:,.0f} contacts/s ({cli:.2f} s); {load_average()}")

    scale = single[2]["requests_per_s"] / single[1]["requests_per_s"]
    ratio = cli / seconds
    targets = [
        ("two workers >= 1.7x one worker's requests/s", f"{scale:.2f}x", scale >= 1.7),
        ("p99 < 20 ms at 64 connections, two workers", f"{single[2]['p99_ms']:.2f} ms", single[2]["p99_ms"] < 20),
        ("HTTP batch >= 80 % of regelverk evaluate's contacts/s", f"{ratio:.0%}", ratio >= 0.8),
        ("zero errors", str(single[1]["errors"] + single[2]["errors"]), single[1]["errors"] + single[2]["errors"] == 0),
    ]
    for name, value, met in targets:
        print(f"target: {name}: {value} — {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
