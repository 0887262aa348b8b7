"""POST /evaluate reads CSV and Parquet bodies as `regelverk evaluate` reads those files."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request

import pyarrow as pa
import pyarrow.parquet as pq
from _service import service_in_thread
from conftest import chat


def _post(url: str, body: bytes, content_type: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url + "/evaluate", data=body, method="POST",
                                     headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _plain(decision: dict) -> dict:
    return {k: v for k, v in decision.items() if k != "decision_id"}


CONTACTS = [chat("a1", "2024-03-04"), chat("a2", "2024-03-05"), chat("a3", "2024-03-06", dialogue=False),
            chat("a4", "2024-03-07", documented=None)]


def test_csv_and_parquet_bodies_are_decided_as_the_api_decides_them(repo):
    expected = repo.evaluate([dict(c) for c in CONTACTS])
    columns = ["id", "patient", "unit", "region", "date", "channel", "dialogue", "documented"]
    csv = ",".join(columns) + "\n" + "".join(
        ",".join("" if c.get(k) is None else str(c[k]).lower() if isinstance(c[k], bool) else str(c[k])
                 for k in columns) + "\n" for c in CONTACTS)
    # A cell that does not fit its field makes that row invalid, naming the column.
    csv += "a5,p1,u1,testland,2024-03-08,written,maybe,true\n"
    table = pa.Table.from_pylist([{k: c.get(k) for k in columns} for c in CONTACTS])
    parquet = io.BytesIO()
    pq.write_table(table, parquet)
    with service_in_thread(repo) as (url, _):
        status, body = _post(url, csv.encode(), "text/csv; charset=utf-8")
        assert status == 200, body
        decided = [json.loads(line) for line in body.splitlines()]
        assert [_plain(d) for d in decided[:4]] == expected
        assert decided[4]["status"] == "invalid" and decided[4]["errors"][0]["field"] == "dialogue"
        assert all(d["decision_id"] for d in decided)
        status, body = _post(url, parquet.getvalue(), "application/vnd.apache.parquet")
        assert status == 200, body
        assert [_plain(json.loads(line)) for line in body.splitlines()] == expected
        status, body = _post(url, b"not parquet at all", "application/vnd.apache.parquet")
        assert status == 400 and json.loads(body)["code"] == "unreadable_body"


def test_impact_reads_csv_and_parquet_as_it_reads_ndjson(tmp_path, fixture_policies):
    """`regelverk impact` on the same contacts as NDJSON, CSV and Parquet: the same report."""
    import shutil

    from click.testing import CliRunner

    from evaluator.cli import main

    working = tmp_path / "working"
    shutil.copytree(fixture_policies, working)
    chat_policy = working / "testland/testland-chat/1.0.yaml"
    chat_policy.write_text(chat_policy.read_text(encoding="utf-8").replace("per_week: 1", "per_week: 2"),
                           encoding="utf-8")
    contacts = [chat(f"w{i}", f"2024-03-{4 + i:02d}") for i in range(4)]
    columns = ["id", "patient", "unit", "region", "date", "channel", "dialogue", "documented"]
    (tmp_path / "c.ndjson").write_text("".join(json.dumps(c) + "\n" for c in contacts), encoding="utf-8")
    (tmp_path / "c.csv").write_text(",".join(columns) + "\n" + "".join(
        ",".join(str(c[k]).lower() if isinstance(c[k], bool) else str(c[k]) for k in columns) + "\n"
        for c in contacts), encoding="utf-8")
    pq.write_table(pa.Table.from_pylist([{k: c[k] for k in columns} for c in contacts]), tmp_path / "c.parquet")
    reports = []
    for name in ("c.ndjson", "c.csv", "c.parquet"):
        result = CliRunner().invoke(main, ["impact", str(tmp_path / name), "--base", str(fixture_policies),
                                           "--policies", str(working), "--format", "json", "--jobs", "1"])
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        reports.append({k: report[k] for k in ("contacts", "changed", "groups")})
    assert reports[0]["changed"] > 0
    assert reports[0] == reports[1] == reports[2]
