"""A command stopped from outside (SIGTERM: `kill`, a scheduler's time limit; SIGHUP: a closed
terminal) leaves nothing behind: no temporary folder, no half-written `--out` file, no worker
process; it exits 128 + the signal's number and says why. A signal the command was started
ignoring (`nohup`) stays ignored.

Real processes, real signals: each run is stopped once its work is under way (its partial
output file exists, and with two jobs its worker is forked), not after a guessed sleep.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def contacts(tmp_path_factory) -> Path:
    """Enough generated contacts that deciding them takes a few seconds."""
    path = tmp_path_factory.mktemp("termination") / "contacts.ndjson"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "generate.py"), "--contacts", "150000",
                    "--patients", "15000", "--seed", "5", "--out", str(path), "--quiet"], check=True)
    return path


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found.update(int(child) for child in task.read_text().split())
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _start(contacts: Path, out: Path, tmp: Path, options: list[str], preexec=None) -> subprocess.Popen:
    env = dict(os.environ, TMPDIR=str(tmp))
    return subprocess.Popen([sys.executable, "-m", "evaluator", "evaluate", str(contacts), "--quiet",
                             "--policies", str(ROOT / "policies"), "--out", str(out), *options],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, preexec_fn=preexec)


def _under_way(process: subprocess.Popen, out: Path, workers: int) -> set[int]:
    """Wait until the run writes its partial output and has its workers; their pids."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "the run ended before it could be stopped"
        partial = list(out.parent.glob(f".{out.name}.partial-*"))
        children = _children(process.pid)
        if partial and len(children) >= workers:
            return children
        time.sleep(0.02)
    raise AssertionError("the run never got under way")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
@pytest.mark.parametrize("options, workers", [
    (["--jobs", "2"], 1),                       # in memory, a forked worker
    (["--jobs", "1"], 0),                       # in memory, one process
    (["--memory-budget", "0", "--jobs", "2"], 0),  # bounded: partitioned into temporary files
], ids=["in-memory-2-jobs", "in-memory-1-job", "bounded"])
def test_a_stopped_run_leaves_nothing_behind(contacts, tmp_path, sig, options, workers):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    out = tmp_path / "decisions.ndjson"
    process = _start(contacts, out, tmp, options)
    children = _under_way(process, out, workers)
    process.send_signal(sig)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + sig
    assert f"stopped by {sig.name}" in err.decode()
    assert "Traceback" not in err.decode()
    assert list(tmp.iterdir()) == []  # the run's temporary folder and every file in it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tmp"]  # no decisions file, whole or partial
    deadline = time.monotonic() + 10
    while any(_alive(child) for child in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(child) for child in children), "a worker outlived the run"


def test_a_stopped_run_writing_parquet_says_only_that_it_stopped(contacts, tmp_path):
    """The Parquet writer, let go as the run unwound, wrote its footer to the closed file when
    it was collected and printed pyarrow's traceback after the clean message."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    out = tmp_path / "decisions.parquet"
    process = _start(contacts, out, tmp, ["--memory-budget", "0", "--jobs", "2"])
    _under_way(process, out, 0)
    time.sleep(1.0)  # (some decisions written: the writer holds an open file)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143
    assert err.decode().strip().endswith("stopped by SIGTERM; its temporary files are removed and no --out file is "
                                         "written"), err.decode()
    assert "Traceback" not in err.decode() and "Exception ignored" not in err.decode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tmp"] and list(tmp.iterdir()) == []


def test_a_run_started_ignoring_sighup_goes_on(contacts, tmp_path):
    """`nohup regelverk evaluate …`: SIGHUP was ignored when the command started, and stays so."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    out = tmp_path / "decisions.ndjson"
    process = _start(contacts, out, tmp, ["--jobs", "1"],
                     preexec=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    _under_way(process, out, 0)
    process.send_signal(signal.SIGHUP)
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err.decode()
    assert len(out.read_bytes().splitlines()) == 150000
    assert list(tmp.iterdir()) == []


def test_the_handlers_are_put_back_after_a_command_in_process(tmp_path):
    """Called in process (a test's CliRunner, a program embedding the CLI), the command leaves
    this process's own handling of SIGTERM and SIGHUP as it found it."""
    from click.testing import CliRunner

    from evaluator.cli import main

    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP)
    result = CliRunner().invoke(main, ["policies", "--policies", str(ROOT / "policies")])
    assert result.exit_code == 0, result.output
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP)) == before
