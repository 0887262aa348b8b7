"""Every way in gives the same decisions: NDJSON, CSV, Parquet, pandas and polars DataFrames,
streaming (partitioned, and grouped), forked workers (--jobs 2) and Dask, field for field,
over random batches."""

from __future__ import annotations

import csv
import io
from unittest import mock

import dask
import dask.dataframe as dd
import orjson
import polars
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluator import load_repository
from evaluator.running import parallel, streaming
from evaluator.running.dask import evaluate_dataframe
from evaluator.running.formats import read_chunks

REPO = load_repository()
FIELDS = REPO.policy_set.fields
BOOLS = ["group", "dialogue", "content_equivalent_to_visit", "medical_assessment", "documented",
         "regular_staff", "booked", "test_result_only", "treatment_discussed"]
COLUMNS = ["id", "patient", "unit", "region", "care_choice", "date", "time", "channel",
           "duration_minutes", "kva", "platform", "sob_activity", "group_program", "group_part", *BOOLS]


@st.composite
def contact(draw, n: int):
    maybe = st.none() | st.just(None)
    record = {
        "id": f"c{draw(st.integers(0, n + 3))}",  # sometimes used twice
        "patient": draw(st.sampled_from(["p1", "p2", "p3", "p4"])),
        "unit": draw(st.sampled_from(["u1", "u2", None])),
        "region": draw(st.sampled_from(["vgr", "halland", "stockholm", "Vgr"])),
        "care_choice": draw(st.sampled_from(["rehab", None])),
        "date": draw(st.sampled_from(["2025-03-03", "2025-03-04", "2025-03-10", "2025-05-01", "2025-02-30",
                                      "2024-09-01"])),
        "time": draw(st.sampled_from([None, "08:00", "12:30", "25:00"])),
        "channel": draw(st.sampled_from(["written", "video", "phone", "physical", "letter", "fax"])),
        "duration_minutes": draw(st.sampled_from([None, 0, 5, 30])),
        "kva": draw(st.sampled_from([None, [], ["GB019"], ["XV019", "ZV051"]])),
        "platform": draw(st.sampled_from([None, "sob"])),
        "sob_activity": draw(st.sampled_from([None, "administration", "care"])),
        "group_program": draw(st.sampled_from([None, "artros", "kol"])),
        "group_part": draw(st.sampled_from([None, "theory", "training"])),
    }
    for name in BOOLS:
        record[name] = draw(st.sampled_from([True, False, None]) | maybe)
    return record


@st.composite
def batch(draw):
    n = draw(st.integers(1, 40))
    return [draw(contact(n)) for _ in range(n)]


def _arrow(records):
    kinds = {"boolean": pa.bool_(), "integer": pa.int64(), "list": pa.list_(pa.string())}
    schema = pa.schema([(c, kinds.get(FIELDS[c].kind, pa.string())) for c in COLUMNS])
    return pa.Table.from_pydict({c: [r.get(c) for r in records] for c in COLUMNS}, schema=schema)


def _csv(records) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for r in records:
        writer.writerow(["" if r[c] is None else "true" if r[c] is True else "false" if r[c] is False
                         else orjson.dumps(r[c]).decode() if isinstance(r[c], list) else str(r[c]) for c in COLUMNS])
    return out.getvalue().encode()


def _from_chunks(chunks):
    records, errors = [], {}
    for chunk in chunks:
        for k, problems in chunk.errors.items():
            errors[len(records) + k] = problems
        records.extend(chunk.records)
    decisions, _ = REPO.engine.evaluate(records, line_errors=errors)
    return decisions


def _streamed(lines, grouped, jobs=1):
    got: list[bytes] = []
    chunks = read_chunks(io.BytesIO(b"\n".join(lines)), "ndjson", size=7)
    streaming.decide_stream(REPO.engine, chunks, got.extend, grouped=grouped, size=len(lines), jobs=jobs)
    return [orjson.loads(line) for line in got]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch())
def test_every_path_gives_the_same_decisions(records):
    want = REPO.evaluate([dict(r) for r in records])
    lines = [orjson.dumps({k: v for k, v in r.items() if v is not None}) for r in records]
    table = _arrow(records)
    assert REPO.evaluate_lines(lines) == want, "NDJSON"
    assert _from_chunks(read_chunks(io.BytesIO(_csv(records)), "csv", FIELDS)) == want, "CSV"
    parquet = io.BytesIO()
    pq.write_table(table, parquet)
    parquet.seek(0)
    assert _from_chunks(read_chunks(parquet, "parquet", size=5)) == want, "Parquet"
    frame = table.to_pandas()
    assert REPO.evaluate(frame) == want, "pandas"
    assert REPO.evaluate(polars.from_arrow(table)) == want, "polars"
    assert REPO.evaluate(table) == want, "Arrow"
    assert parallel.fork_is_safe()  # so that jobs=2 below does fork
    with mock.patch.object(streaming, "PARTITION", 4), mock.patch.object(parallel, "MIN_RECORDS", 1):
        assert _streamed(lines, grouped=False) == want, "streaming, partitioned"
        assert _streamed(lines, grouped=False, jobs=2) == want, "streaming, partitioned, jobs 2"
        assert REPO.evaluate([dict(r) for r in records], jobs=2) == want, "batch API, jobs 2"
    by_patient = sorted(range(len(records)), key=lambda i: records[i]["patient"])
    grouped_lines = [lines[i] for i in by_patient]
    assert _streamed(grouped_lines, grouped=True) == REPO.evaluate_lines(grouped_lines), "streaming, grouped"
    with dask.config.set({"scheduler": "synchronous", "dataframe.convert-string": False}):
        got = evaluate_dataframe(dd.from_pandas(frame, npartitions=3)).compute()
    assert [orjson.loads(text) for text in got["decision"]] == want, "Dask"
