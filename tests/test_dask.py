"""Deciding on Dask: a shuffle on patient, then decide_partition per partition, compared with
the in-process batch decision for decision."""

from __future__ import annotations

import random

import dask
import dask.dataframe as dd
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from evaluator import load_repository
from evaluator.running.dask import decide_partition, evaluate_dataframe


def _contacts() -> list[dict]:
    rng = random.Random(7)
    contacts = []
    for n in range(240):
        p = rng.randrange(12)
        contacts.append({"id": f"c{n}", "patient": f"p{p}", "unit": "u1", "region": rng.choice(["vgr", "halland"]),
                         "care_choice": "rehab", "channel": rng.choice(["written", "video", "physical"]),
                         "date": f"2025-{rng.randint(2, 6):02d}-{rng.randint(1, 28):02d}",
                         "dialogue": rng.choice([True, False, None]), "content_equivalent_to_visit": True,
                         "medical_assessment": True, "documented": True, "regular_staff": True,
                         "kva": rng.choice([None, [], ["GB019"]])})
    contacts[50]["id"] = "c3"  # an id used twice
    contacts[60]["date"] = "2025-02-30"  # an invalid contact
    return contacts


def _parquet_folder(tmp_path, contacts) -> str:
    """Contacts in six Parquet files: every patient's contacts spread over several, in no
    order of date."""
    names = list(dict.fromkeys(k for c in contacts for k in c))
    schema = pa.schema([(k, pa.list_(pa.string()) if k == "kva" else pa.bool_() if isinstance(
        next(c[k] for c in contacts if c.get(k) is not None), bool) else pa.string()) for k in names])
    folder = tmp_path / "contacts"
    folder.mkdir()
    for part in range(6):
        rows = contacts[part * 40:(part + 1) * 40]
        pq.write_table(pa.Table.from_pydict({k: [r.get(k) for r in rows] for k in names}, schema=schema),
                       folder / f"part-{part}.parquet")
    return str(folder)


def test_synchronous_scheduler_gives_the_batch_decisions(tmp_path):
    contacts = _contacts()
    want = load_repository().evaluate(contacts)
    folder = _parquet_folder(tmp_path, contacts)
    frame = dd.read_parquet(folder)
    assert frame.npartitions > 1
    with dask.config.set(scheduler="synchronous"):
        got = evaluate_dataframe(frame).compute()
    assert list(got["_row"]) == list(range(1, len(contacts) + 1))
    assert [orjson.loads(text) for text in got["decision"]] == want
    assert any(d["status"] == "invalid" for d in want) and any(d["findings"] for d in want)


def test_decide_partition_is_a_plain_function_of_a_frame():
    import pandas

    contacts = _contacts()[:40]
    frame = pandas.DataFrame(contacts).assign(_row=range(1, 41))
    got = decide_partition(frame)
    assert list(got.columns) == ["_row", "decision"]
    assert [orjson.loads(t) for t in got["decision"]] == load_repository().evaluate(contacts)


CLUSTER_SCRIPT = """
import subprocess, sys
import dask.dataframe as dd
from distributed import Client, LocalCluster
from evaluator.running.dask import evaluate_dataframe

folder, out, cli_out = sys.argv[1:4]
with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                  dashboard_address=None) as cluster:
    with Client(cluster):
        got = evaluate_dataframe(dd.read_parquet(folder)).compute()
    with open(out, "w") as f:
        f.write("\\n".join(got["decision"]))
    done = subprocess.run([sys.executable, "-m", "evaluator", "evaluate", folder, "--dask",
                           cluster.scheduler_address, "--out", cli_out], capture_output=True, text=True)
    sys.exit(done.returncode and print(done.stderr) or done.returncode)
"""


def test_two_worker_local_cluster_and_the_cli(tmp_path):
    # In a process of its own: distributed leaves threads running in the process that started
    # a cluster, and a process with other threads does not fork (parallel.py), which later
    # tests of forked workers need.
    import subprocess
    import sys

    from evaluator.resources import policies_dir

    contacts = _contacts()
    # The script runs outside any policy repository: the bundled policies, whose provenance
    # (git_clean: are they in the checkout they lie in?) is theirs, not this repository's.
    want = load_repository(policies_dir()).evaluate(contacts)
    folder = _parquet_folder(tmp_path, contacts)
    out, cli_out = tmp_path / "api.ndjson", tmp_path / "cli.ndjson"
    done = subprocess.run([sys.executable, "-c", CLUSTER_SCRIPT, folder, str(out), str(cli_out)],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert [orjson.loads(line) for line in out.read_bytes().splitlines()] == want
    assert [orjson.loads(line) for line in cli_out.read_bytes().splitlines()] == want


def test_parquet_files_that_differ_in_their_columns_are_refused_naming_the_file(tmp_path):
    """Dask reads a folder with the first file's columns: a fact the first file lacked was
    dropped from every file (decided as unknown, exit 0), and a later file that lacked a column,
    or held it as another kind, failed the run with a KeyError or a shuffle error naming no
    file. --dask now refuses such a folder (exit 4) before reaching the scheduler, naming the
    file and the column; files that differ only in a column's width (int32, int64) are taken."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from click.testing import CliRunner

    from evaluator.cli import main

    table = pa.Table.from_pylist(_contacts())
    cases = {
        "first-lacks": ([table.drop_columns(["dialogue"]), table], "has dialogue too"),
        "later-lacks": ([table, table.drop_columns(["dialogue"])], "lacks dialogue"),
        "other-kind": ([table, table.set_column(table.schema.get_field_index("dialogue"), "dialogue",
                                                pa.array([str(v) for v in table["dialogue"].to_pylist()]))],
                       "holds dialogue as text where"),
    }
    for name, (parts, said) in cases.items():
        folder = tmp_path / name
        folder.mkdir()
        for i, part in enumerate(parts):
            pq.write_table(part, folder / f"part-{i}.parquet")
        result = CliRunner().invoke(main, ["evaluate", str(folder), "--dask", "tcp://127.0.0.1:1", "--quiet"])
        assert result.exit_code == 4, (name, result.output)
        assert f"{folder / 'part-1.parquet'} {said}" in result.output and "Traceback" not in result.output, result.output
    # only wider: no refusal
    folder = tmp_path / "wider"
    folder.mkdir()
    pq.write_table(table, folder / "part-0.parquet")
    widths = table.schema
    pq.write_table(table.cast(pa.schema([f.with_type(pa.int32()) if pa.types.is_integer(f.type) else f for f in widths])),
                   folder / "part-1.parquet")
    from evaluator.running.dask import same_columns

    assert same_columns(str(folder)) is None


def test_a_pandas_frame_dask_turned_into_text_is_refused_and_decided_with_the_setting_off():
    """dd.from_pandas turns object columns into text (Dask's dataframe.convert-string, on by
    default): a yes/no column with a missing cell became 'True', a list column "['GB019']",
    and evaluate_dataframe made those contacts invalid where repo.evaluate(frame) decides
    them. It is refused, saying how to make the frame; made with the setting off, the
    decisions are the batch's."""
    import dask
    import dask.dataframe as dd
    import pandas
    import pytest

    contacts = _contacts()
    frame = pandas.DataFrame(contacts)
    want = load_repository().evaluate(frame)
    with dask.config.set({"dataframe.convert-string": True}):
        turned = dd.from_pandas(frame, npartitions=3)
    with pytest.raises(ValueError, match=r"the columns dialogue, .*kva are text in this Dask frame") as refused:
        evaluate_dataframe(turned)
    assert "dask.config.set({'dataframe.convert-string': False})" in str(refused.value)
    # (the synchronous scheduler: the threaded one would leave its threads in this process,
    # where later tests need a process that may fork)
    with dask.config.set({"dataframe.convert-string": False, "scheduler": "synchronous"}):
        kept = dd.from_pandas(frame, npartitions=3)
        got = evaluate_dataframe(kept).compute()
    assert [orjson.loads(line) for line in got["decision"]] == want


def test_a_reader_that_stops_ends_a_dask_run_quietly_as_without_dask(monkeypatch, tmp_path):
    """`regelverk evaluate --dask … | head`: the broken pipe was 'cannot write the output: Broken
    pipe' with exit 5, where without --dask a reader that stops ends the run quietly (exit 1)."""
    import errno

    from click.testing import CliRunner

    from evaluator.cli import main
    from evaluator.running import dask as on_dask

    def broken(*args, **kwargs):
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    monkeypatch.setattr(on_dask, "evaluate_on_cluster", broken)
    result = CliRunner().invoke(main, ["evaluate", str(tmp_path), "--dask", "tcp://127.0.0.1:1", "--quiet"])
    assert result.exit_code == 1 and "cannot write" not in result.output, result.output
    monkeypatch.setattr(on_dask, "evaluate_on_cluster",
                        lambda *a, **k: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space left on device")))
    result = CliRunner().invoke(main, ["evaluate", str(tmp_path), "--dask", "tcp://127.0.0.1:1", "--quiet"])
    assert result.exit_code == 5 and "cannot write the output: No space left on device" in result.output
