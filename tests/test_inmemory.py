"""Deciding an NDJSON file whole in memory when it fits the memory budget, in bounded memory
beyond it: the same bytes out either way, and the budget picks the way."""

from __future__ import annotations

import io
import random

import orjson
import pytest
from click.testing import CliRunner
from test_streaming import _contacts, _lines

from evaluator import load_repository
from evaluator.cli import main
from evaluator.loading.settings import Settings
from evaluator.running import inmemory, parallel, streaming
from evaluator.running.formats import ndjson_lines
from evaluator.running.inmemory import BudgetError, FileInput, FileLines, memory_budget_mb

BIG = 100_000  # MiB: any of these inputs fits


@pytest.fixture(scope="module")
def repo():
    return load_repository()


@pytest.fixture
def small_buckets(monkeypatch):
    """Batches split into buckets of about 50 lines, as a large one is into 10,000."""
    monkeypatch.setattr(parallel, "MIN_RECORDS", 1)
    monkeypatch.setattr(parallel, "CHUNK", 50)


def _batch(seed: int = 1) -> bytes:
    """A batch as the bounded path meets them: patients out of order, a byte-order mark, lines
    ended by CRLF, an empty line, lines that are not JSON, not an object, not UTF-8, a contact
    with an impossible date, a patient written with an escape, an unknown key."""
    contacts = _contacts(40, 10, seed=seed)
    random.Random(seed).shuffle(contacts)
    lines = _lines(contacts)
    lines[3] = lines[3].replace(b'"patient":"p', b'"patient":"\\u0070')
    lines[5] = lines[5][:-1] + b',"note":{"patient":"someone else"}}'
    lines.insert(7, b"{not json")
    lines.insert(20, b"[1, 2]")
    lines.insert(30, b'{"id": "u8", "patient": "p\xff"}')
    lines.insert(40, b"")
    lines.insert(50, orjson.dumps({**contacts[10], "id": "bad-date", "date": "2025-02-30"}))
    text = b"".join(line + (b"\r\n" if k % 3 == 0 else b"\n") for k, line in enumerate(lines))
    return b"\xef\xbb\xbf" + text


def _with_id_used_twice(text: bytes, escaped: bool = False) -> bytes:
    """The batch with a later contact taking the id of the first one (written with an escape
    for the id's first letter: the same id, which the quick look at the text does not see)."""
    lines = text.splitlines(keepends=True)
    first = orjson.loads(lines[0][3:])
    again = orjson.loads(lines[200])
    again["id"] = first["id"]
    line = orjson.dumps(again)
    if escaped:
        line = line.replace(b'"id":"' + first["id"].encode(), b'"id":"\\u00' + b"%02x" % ord(first["id"][0])
                            + first["id"][1:].encode())
    lines[200] = line + b"\n"
    return b"".join(lines)


def _decide(repo, path, budget_mb, jobs=1, fmt="ndjson", progress=None):
    got: list[bytes] = []
    source = FileInput(str(path), fmt, budget_mb=budget_mb, jobs=jobs, fields=repo.policy_set.fields)
    summary = source.decide(repo.engine, got.extend, progress=progress)
    return b"".join(got), summary


def test_file_lines_are_the_lines_the_bounded_path_reads(tmp_path):
    path = tmp_path / "c.ndjson"
    for text in (b"", b"\n", b"a", b"a\nb", b"a\r\nb\r", b"a\r\n\r\n\r\nb\n", b"\xef\xbb\xbf", b"\xef\xbb\xbfa\r\n",
                 b"\r", b"x\n\n", b"\r\n", b"a\rb\n", b'{"id": "\r"}\r\n'):
        path.write_bytes(text)
        lines = FileLines(str(path))
        want = list(ndjson_lines(io.BytesIO(text)))
        assert list(lines) == want, text
        assert [lines[i] for i in range(len(lines))] == want, text
        assert list(lines.pick(range(len(lines) - 1, -1, -1))) == want[::-1], text  # (a bucket's read)


@pytest.mark.parametrize("jobs", [1, 2])
def test_in_memory_and_bounded_give_the_same_decisions(repo, small_buckets, tmp_path, jobs):
    path = tmp_path / "c.ndjson"
    path.write_bytes(_batch())
    bounded, by_partitions = _decide(repo, path, 0, jobs)
    in_memory, whole = _decide(repo, path, BIG, jobs)
    assert whole.in_memory and not by_partitions.in_memory and by_partitions.partitions >= 1
    assert in_memory == bounded
    assert (whole.contacts, whole.invalid) == (by_partitions.contacts, by_partitions.invalid) == (405, 5)
    want = [orjson.dumps(d) + b"\n" for d in repo.evaluate_lines(list(ndjson_lines(io.BytesIO(_batch()))))]
    assert in_memory == b"".join(want)


@pytest.mark.parametrize("out_fmt", ["ndjson", "csv", "parquet"])
def test_the_command_writes_the_same_bytes_either_way(small_buckets, tmp_path, out_fmt):
    path = tmp_path / "c.ndjson"
    path.write_bytes(_batch(seed=3))
    runner = CliRunner()
    written = {}
    for budget in ("0", str(BIG)):
        out = tmp_path / f"d-{budget}.{out_fmt}"
        result = runner.invoke(main, ["evaluate", str(path), "--jobs", "2", "--memory-budget", budget, "--out", str(out),
                                      "--fail-on-invalid"])
        assert result.exit_code == 1, result.output  # invalid lines, written all the same
        assert result.stderr == "regelverk: 5 of 405 contacts are invalid\n"
        written[budget] = out.read_bytes()
    assert written["0"] == written[str(BIG)]
    assert not list(tmp_path.glob(".*partial*"))


def test_standard_input_is_decided_in_memory_as_a_file_is(small_buckets, tmp_path):
    text = _batch(seed=4)
    runner = CliRunner()
    from_stdin = runner.invoke(main, ["evaluate", "--jobs", "2", "--memory-budget", str(BIG)], input=text)
    bounded = runner.invoke(main, ["evaluate", "--jobs", "2", "--memory-budget", "0"], input=text)
    assert from_stdin.exit_code == bounded.exit_code == 0
    assert from_stdin.stdout_bytes == bounded.stdout_bytes
    assert len(from_stdin.stdout_bytes.splitlines()) == 405


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("escaped", [False, True])
def test_an_id_used_twice_sends_the_input_the_bounded_way(repo, small_buckets, tmp_path, escaped, jobs):
    # Which use of an id is the later one depends on the whole input, which no bucket sees:
    # the in-memory way declines as it starts (an id seen twice in the text: before deciding in
    # one process, while the workers start deciding in several) or after deciding (an id
    # written with an escape, which only parsing shows), and the bounded way decides.
    path = tmp_path / "c.ndjson"
    path.write_bytes(_with_id_used_twice(_batch(), escaped))
    assert inmemory._ids_look_unique(path.read_bytes()) is escaped  # what each case is for
    bounded, _ = _decide(repo, path, 0, jobs=jobs)
    got, summary = _decide(repo, path, BIG, jobs=jobs)
    assert not summary.in_memory and summary.partitions >= 1
    assert got == bounded
    assert b"is already used by input 1" in got
    if not escaped and jobs == 1:  # in one process the text's check comes first: nothing is decided
        class Decided(streaming.Progress):
            count = 0

            def decided(self, count):
                self.count += count
        seen = Decided()
        assert inmemory.decide_in_memory(repo.engine, FileLines(str(path)), [].extend, progress=seen) is None
        assert seen.count == 0


def test_a_small_input_with_an_id_used_twice_is_decided_in_memory(repo, tmp_path):
    path = tmp_path / "c.ndjson"
    path.write_bytes(_with_id_used_twice(_batch()))  # under parallel.MIN_RECORDS: one go
    bounded, _ = _decide(repo, path, 0)
    got, summary = _decide(repo, path, BIG)
    assert summary.in_memory and got == bounded and b"is already used by input 1" in got


def test_the_budget_picks_the_way(repo, small_buckets, tmp_path):
    path = tmp_path / "c.ndjson"
    path.write_bytes(_batch())
    size = path.stat().st_size
    need = -(-inmemory.estimated_peak(size, 2) // inmemory.MIB)  # MiB, rounded up
    assert _decide(repo, path, need, jobs=2)[1].in_memory
    for budget in (need - 1, 1, 0):
        summary = _decide(repo, path, budget, jobs=2)[1]
        assert not summary.in_memory and summary.partitions >= 1, budget
    assert inmemory.estimated_peak(size, 4) > inmemory.estimated_peak(size, 2)  # each process counts
    # Grouped input streams through in bounded memory; it fits, it is decided in memory too.
    grouped = tmp_path / "g.ndjson"
    grouped.write_bytes(b"\n".join(_lines(_contacts(30, 5))) + b"\n")
    assert _decide(repo, grouped, 0)[1].grouped
    summary = _decide(repo, grouped, BIG)[1]
    assert summary.in_memory and not summary.grouped
    # Only NDJSON is decided in memory.
    csv = tmp_path / "c.csv"
    csv.write_text("id,patient,unit,region,date,channel\na,p1,u,vgr,2025-03-03,written\n")
    assert not _decide(repo, csv, BIG, fmt="csv")[1].in_memory


def test_the_default_budget_takes_the_benchmarks_million_contacts_on_an_8_gb_machine():
    # 1,000,000 generated contacts are 276,459,847 bytes of NDJSON; a quarter of 8 GiB is the
    # default budget there, with one process per processor on two of them.
    assert inmemory.fits(276_459_847, 8 * 1024 // inmemory.DEFAULT_SHARE, 2)
    assert not inmemory.fits(276_459_847, 4 * 1024 // inmemory.DEFAULT_SHARE, 2)


def test_progress_counts_every_contact_decided_and_written(repo, small_buckets, tmp_path):
    seen: dict = {}

    class Recorder(streaming.Progress):
        phase_now = None

        def phase(self, name):
            self.phase_now = name

        def decided(self, count):
            seen[self.phase_now] = seen.get(self.phase_now, 0) + count

    path = tmp_path / "c.ndjson"
    path.write_bytes(_batch())
    summary = _decide(repo, path, BIG, jobs=2, progress=Recorder())[1]
    assert summary.in_memory and seen == {"deciding": 405, "writing": 405}


def test_the_budget_comes_from_the_option_the_environment_the_settings_or_the_default(monkeypatch):
    settings = Settings(None, {"evaluate": {"memory_budget_mb": 300}})
    assert memory_budget_mb(settings, None, {}) == 300
    assert memory_budget_mb(settings, None, {"REGELVERK_MEMORY_BUDGET_MB": "200"}) == 200
    assert memory_budget_mb(settings, 0, {"REGELVERK_MEMORY_BUDGET_MB": "200"}) == 0
    assert memory_budget_mb(Settings(None, {}), None, {"REGELVERK_MEMORY_BUDGET_MB": ""}) == \
        inmemory.default_budget_mb()
    monkeypatch.setattr(inmemory, "usable_memory", lambda: 8 * 1024 ** 3)
    assert inmemory.default_budget_mb() == 2048
    with pytest.raises(BudgetError, match=r"the environment's REGELVERK_MEMORY_BUDGET_MB cannot be '2GB': "
                                          r"it is a whole number of megabytes, 0 or more"):
        memory_budget_mb(settings, None, {"REGELVERK_MEMORY_BUDGET_MB": "2GB"})
    with pytest.raises(BudgetError, match=r"regelverk.yaml evaluate: memory_budget_mb cannot be -1"):
        memory_budget_mb(Settings(None, {"evaluate": {"memory_budget_mb": -1}}), None, {})
    # a budget beyond the memory the process may use is that memory, wherever it was set
    assert memory_budget_mb(settings, 100_000, {}) == 8192
    assert memory_budget_mb(settings, None, {"REGELVERK_MEMORY_BUDGET_MB": "9000"}) == 8192
    assert memory_budget_mb(Settings(None, {"evaluate": {"memory_budget_mb": 10 ** 9}}), None, {}) == 8192
    assert memory_budget_mb(settings, 8000, {}) == 8000
    monkeypatch.setattr(inmemory, "usable_memory", lambda: None)  # (not told: as given)
    assert memory_budget_mb(settings, 100_000, {}) == 100_000


def test_a_budget_that_cannot_be_used_is_a_clear_error(tmp_path, fixture_policies, monkeypatch):
    example = tmp_path / "c.ndjson"
    example.write_bytes(b"\n".join(_lines(_contacts(2, 2))) + b"\n")
    runner = CliRunner()
    result = runner.invoke(main, ["evaluate", str(example), "--memory-budget", "-1"])
    assert result.exit_code == 2 and "Invalid value for '--memory-budget'" in result.output
    monkeypatch.setenv("REGELVERK_MEMORY_BUDGET_MB", "lots")
    result = runner.invoke(main, ["evaluate", str(example)])
    assert result.exit_code == 2 and result.exception is not None and not result.stdout_bytes
    assert "REGELVERK_MEMORY_BUDGET_MB cannot be 'lots'" in result.output
    monkeypatch.delenv("REGELVERK_MEMORY_BUDGET_MB")
    repository = tmp_path / "repo"
    import shutil

    shutil.copytree(fixture_policies, repository / "policies")
    for setting, words in (("memory_budget_mb: -1", "memory_budget_mb: -1 is less than the minimum of 0"),
                           ("memory_budget_mb: 2GB", "memory_budget_mb must be a whole number, not text"),
                           ("memory_budget: 100", "'memory_budget' is not one of its keys (did you mean "
                                                  "'memory_budget_mb'?)")):
        (repository / "regelverk.yaml").write_text(f"regelverk: 1\nevaluate:\n  {setting}\n")
        result = runner.invoke(main, ["evaluate", str(example), "--policies", str(repository / "policies")])
        assert result.exit_code == 3, (setting, result.output)
        assert "regelverk.yaml:3:" in result.output and words in result.output, result.output
        assert "Traceback" not in result.output
    (repository / "regelverk.yaml").write_text("regelverk: 1\nevaluate:\n  memory_budget_mb: 0\n")
    result = runner.invoke(main, ["evaluate", str(example), "--policies", str(repository / "policies")])
    assert result.exit_code == 0 and len(result.stdout_bytes.splitlines()) == 4


def test_memory_that_runs_out_all_the_same_sends_the_input_the_bounded_way(repo, small_buckets, tmp_path,
                                                                           monkeypatch):
    # A budget set higher than the memory there is: a MemoryError while deciding (here made to
    # happen after some buckets are decided) leaves nothing written, and the bounded way decides.
    path = tmp_path / "c.ndjson"
    path.write_bytes(_batch())
    bounded, _ = _decide(repo, path, 0, jobs=1)
    real = parallel._decide_buckets

    def running_out(*args, **kwargs):
        for n, done in enumerate(real(*args, **kwargs)):
            if n == 3:
                raise MemoryError
            yield done

    monkeypatch.setattr(parallel, "_decide_buckets", running_out)
    got, summary = _decide(repo, path, BIG, jobs=1)
    assert not summary.in_memory and summary.partitions >= 1
    assert got == bounded


def test_the_default_budget_keeps_within_the_process_limits(tmp_path):
    # ulimit -v: a quarter of it, not of the machine's memory (a process past it gets a
    # MemoryError, or worse, in a library that does not expect one).
    import resource
    import subprocess
    import sys

    limit = 3 * 1024 ** 3

    def limited():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    done = subprocess.run([sys.executable, "-c", "from evaluator.running import inmemory; "
                           "print(inmemory.default_budget_mb())"], capture_output=True, text=True,
                          preexec_fn=limited, timeout=60)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == min(limit, inmemory.usable_memory()) // inmemory.DEFAULT_SHARE // inmemory.MIB
