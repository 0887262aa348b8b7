"""NDJSON, CSV and Parquet in and out: the same decisions, read back unchanged; CSV typing."""

from __future__ import annotations

import io
import os
import stat
import threading
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from evaluator import load_repository
from evaluator.cli import main
from evaluator.language.types import BOOLEAN, INTEGER, list_of
from evaluator.running.formats import (
    csv_cell,
    format_of,
    open_writer,
    output_file,
    output_kinds,
    read_chunks,
    read_contacts,
    read_decisions,
)

REPO_ROOT = Path(__file__).resolve().parent.parent

EXAMPLE = REPO_ROOT / "examples" / "contacts.ndjson"


@pytest.fixture(scope="module")
def repo():
    return load_repository()


def _contacts():
    records, _ = read_contacts(EXAMPLE)
    return [r for r in records if r is not None]


def _table(records):
    """An Arrow table with a column for every field any record has (from_pylist would take the
    first record's only)."""
    names = list(dict.fromkeys(k for r in records for k in r))
    return pa.Table.from_pydict({k: [r.get(k) for r in records] for k in names})


def test_written_decisions_read_back_the_same(repo, tmp_path):
    records, errors = read_contacts(EXAMPLE)
    decisions, _ = repo.engine.evaluate(records, line_errors=errors)
    assert any(d["status"] == "invalid" for d in decisions) and any(d["findings"] for d in decisions)
    kinds = output_kinds(repo.policy_set)
    for fmt in ("ndjson", "csv", "parquet"):
        path = tmp_path / f"decisions.{fmt}"
        with open(path, "wb") as out:
            writer = open_writer(fmt, out, kinds)
            writer.write(decisions[:10])
            writer.write(decisions[10:])
            writer.close()
        assert read_decisions(path) == decisions, fmt


def test_fields_added_later_are_carried_in_tabular_files(repo, tmp_path):
    decision = repo.evaluate(_contacts()[:2])[1]
    decision["provenance"] = {"engine": "x"}
    decision["policies"][0]["hash"] = "abc"
    decision["findings"][0]["note"] = 1
    kinds = output_kinds(repo.policy_set)
    for fmt in ("csv", "parquet"):
        path = tmp_path / f"d.{fmt}"
        with open(path, "wb") as out:
            writer = open_writer(fmt, out, kinds)
            writer.write([decision])
            writer.close()
        assert read_decisions(path) == [decision]


def test_parquet_has_a_column_per_output_and_lists_of_structs(repo, tmp_path):
    out = tmp_path / "d.parquet"
    result = CliRunner().invoke(main, ["evaluate", str(EXAMPLE), "--out", str(out)])
    assert result.exit_code == 0, result.output
    schema = pq.read_schema(out)
    assert "outputs.reimbursable" in schema.names and schema.field("outputs.reimbursable").type == pa.bool_()
    assert schema.field("outputs.kva").type == pa.list_(pa.string())
    assert pa.types.is_list(schema.field("findings").type)
    assert pa.types.is_struct(schema.field("findings").type.value_type)
    assert not list(tmp_path.glob(".*partial*"))  # written under a temporary name, renamed


def test_an_out_file_that_cannot_be_made_says_why(repo, tmp_path):
    """--out names the file; where the file beside it that is written first cannot be made,
    the message says that is what failed (the file itself may be writable); an empty --out is
    a usage error, not "Is a directory"."""
    result = CliRunner().invoke(main, ["evaluate", str(EXAMPLE), "--out", "/proc/version"])
    assert result.exit_code == 5
    assert "cannot write /proc/version: it is written as /proc/.version.partial-" in result.stderr
    assert "first, then renamed, and that file cannot be made: No such file or directory" in result.stderr
    result = CliRunner().invoke(main, ["evaluate", str(EXAMPLE), "--out", ""])
    assert result.exit_code == 2 and "--out needs a file name" in result.stderr


def test_cli_gives_the_same_decisions_from_every_format(repo, tmp_path):
    runner = CliRunner()
    want = runner.invoke(main, ["evaluate", str(EXAMPLE)]).stdout_bytes
    table = _table(_contacts())
    pq.write_table(table, tmp_path / "c.parquet")
    good = [orjson.loads(line) for line in want.splitlines() if b'"line"' not in line]
    got = runner.invoke(main, ["evaluate", str(tmp_path / "c.parquet")])
    assert got.exit_code == 0, got.output
    assert [orjson.loads(line) for line in got.stdout_bytes.splitlines()] == good
    csv_path = tmp_path / "c.csv"
    columns = sorted({k for r in _contacts() for k in r})
    with open(csv_path, "w", encoding="utf-8", newline="") as f:
        import csv

        w = csv.writer(f)
        w.writerow(columns)
        for r in _contacts():
            w.writerow(["" if r.get(c) is None else ("true" if r[c] is True else "false" if r[c] is False
                        else orjson.dumps(r[c]).decode() if isinstance(r[c], list) else r[c]) for c in columns])
    got = runner.invoke(main, ["evaluate", str(csv_path), "--output-format", "csv", "--out", str(tmp_path / "d.csv")])
    assert got.exit_code == 0, got.output
    assert read_decisions(tmp_path / "d.csv") == good


def test_csv_cells_are_typed_by_the_field_table():
    assert csv_cell("true", "boolean") is True and csv_cell("FALSE", "boolean") is False
    assert csv_cell("", "boolean") is None  # empty: unknown
    assert csv_cell("ja", "boolean") == "ja"  # kept for the contact check to name
    assert csv_cell("12", "integer") == 12 and csv_cell("1.5", "integer") == "1.5"
    assert csv_cell('["GB019","XV019"]', "list") == ["GB019", "XV019"] and csv_cell("[]", "list") == []
    assert csv_cell("GB019", "list") == "GB019"


def test_a_csv_cell_that_does_not_fit_makes_its_row_invalid_naming_the_column(repo):
    text = ("id,patient,unit,region,date,channel,dialogue,duration_minutes,kva,shoe_size\n"
            "a,p,u,vgr,2025-03-03,written,yes,10,[],42\n"
            "b,p,u,vgr,2025-03-04,written,true,ten,GB019,\n"
            "c,p,u,vgr,2025-03-05\n"
            "d,p,u,vgr,2025-03-06,written,,,\"[\"\"GB019\"\"]\",\n")
    fields = dict(repo.policy_set.fields)
    chunk = next(read_chunks(io.BytesIO(text.encode()), "csv", fields))
    decisions, _ = repo.engine.evaluate(chunk.records, line_errors=chunk.errors)
    assert decisions[0]["status"] == "invalid" and [e["field"] for e in decisions[0]["errors"]] == ["dialogue"]
    assert {e["field"] for e in decisions[1]["errors"]} == {"duration_minutes", "kva"}
    assert decisions[2]["errors"][0]["message"] == "line 4 has 5 cells where the header has 10"
    assert decisions[3]["status"] != "invalid"
    assert chunk.records[3].get("dialogue") is None and chunk.records[3]["kva"] == ["GB019"]
    # a declared fact typed by the field table is typed too
    fields["shoe_size"] = INTEGER
    chunk = next(read_chunks(io.BytesIO(text.encode()), "csv", fields))
    assert chunk.records[0]["shoe_size"] == 42
    assert fields["dialogue"] == BOOLEAN and fields["kva"] == list_of("string")


def test_unreadable_inputs_exit_4_with_a_message(tmp_path):
    bad = tmp_path / "c.parquet"
    bad.write_bytes(b"not parquet")
    result = CliRunner().invoke(main, ["evaluate", str(bad)])
    assert result.exit_code == 4 and "cannot be read as Parquet" in result.output
    empty = tmp_path / "c.csv"
    empty.write_bytes(b"")
    result = CliRunner().invoke(main, ["evaluate", str(empty)])
    assert result.exit_code == 4 and "header" in result.output


def test_format_from_extension_or_option():
    assert format_of("x.parquet") == "parquet" and format_of("x.CSV") == "csv" and format_of("x.jsonl") == "ndjson"
    assert format_of(None) == "ndjson" and format_of("x.txt", "csv") == "csv"


def test_explain_reads_parquet(tmp_path):
    pq.write_table(_table(_contacts()), tmp_path / "c.parquet")
    result = CliRunner().invoke(main, ["explain", str(tmp_path / "c.parquet"), "--contact", "vgr-2"])
    assert result.exit_code == 0, result.output
    assert "one-per-week" in result.output


def test_a_declared_fact_in_csv_is_typed_by_the_repository_that_decides(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    assert runner.invoke(main, ["init", "r", "--region", "ciland"]).exit_code == 0
    (tmp_path / "c.csv").write_text(
        "id,patient,unit,region,date,channel,dialogue,interpreter_used\n"
        "a,p,u,ciland,2026-02-02,video,true,true\n"
        "b,p,u,ciland,2026-02-03,video,true,ja\n"
        "c,p,u,ciland,2026-02-04,video,true,\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path / "r")
    result = runner.invoke(main, ["evaluate", str(tmp_path / "c.csv")])
    assert result.exit_code == 0, result.output
    a, b, c = (orjson.loads(line) for line in result.stdout_bytes.splitlines())
    assert [f["rule"] for f in a["findings"]] == ["interpreter-noted"]  # "true" read as yes
    assert b["status"] == "invalid" and [e["field"] for e in b["errors"]] == ["interpreter_used"]
    assert [(f["result"], f["missing"]) for f in c["findings"]] == [("unknown", ["interpreter_used"])]  # empty


def test_an_http_route_decides_a_body_in_any_format(repo):
    from evaluator.running.formats import (
        MEDIA_TYPES,
        FormatError,
        decide_bytes,
        format_of_media_type,
    )

    assert format_of_media_type("text/csv; charset=utf-8") == "csv"
    assert format_of_media_type(None) == "ndjson" and format_of_media_type("image/png") is None
    assert format_of_media_type("application/vnd.apache.parquet, */*") == "parquet"
    table = io.BytesIO()
    pq.write_table(_table(_contacts()), table)
    parquet = decide_bytes(repo, table.getvalue(), "parquet", "parquet")
    ndjson = decide_bytes(repo, EXAMPLE.read_bytes(), "ndjson", "ndjson")
    good = [orjson.loads(line) for line in ndjson.splitlines() if b'"line"' not in line]
    from evaluator.running.formats import decisions_from_table

    assert decisions_from_table(pq.read_table(io.BytesIO(parquet)), output_kinds(repo.policy_set)) == good
    assert MEDIA_TYPES["parquet"] == "application/vnd.apache.parquet"
    with pytest.raises(FormatError, match="the body cannot be read as Parquet"):
        decide_bytes(repo, b"nope", "parquet")


def test_out_to_a_named_pipe_writes_into_it_and_leaves_it_a_pipe(repo, tmp_path):
    """`--out /dev/null` (or a pipe): what is there and is not a file is written as it is;
    renaming a finished file over it would put a regular file in its place."""
    pipe = tmp_path / "decisions.ndjson"
    os.mkfifo(pipe)
    got: list = []
    reader = threading.Thread(target=lambda: got.append(pipe.read_bytes()), daemon=True)
    reader.start()
    result = CliRunner().invoke(main, ["evaluate", str(EXAMPLE), "--out", str(pipe)])
    reader.join(timeout=20)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(os.lstat(pipe).st_mode)
    assert got and got[0] == CliRunner().invoke(main, ["evaluate", str(EXAMPLE)]).stdout_bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["decisions.ndjson"]  # no temporary file left


def test_out_through_a_link_replaces_the_target_and_keeps_the_link(repo, tmp_path):
    target = tmp_path / "kept" / "decisions.ndjson"
    target.parent.mkdir()
    target.write_text("old\n")
    link = tmp_path / "latest.ndjson"
    link.symlink_to(target)
    result = CliRunner().invoke(main, ["evaluate", str(EXAMPLE), "--out", str(link)])
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and link.resolve() == target.resolve()
    assert target.read_bytes() == CliRunner().invoke(main, ["evaluate", str(EXAMPLE)]).stdout_bytes
    assert not list(tmp_path.glob("**/.*partial*"))


def test_output_file_leaves_what_was_there_when_writing_fails(tmp_path):
    path = tmp_path / "d.ndjson"
    path.write_bytes(b"before\n")
    with pytest.raises(RuntimeError), output_file(str(path)) as out:
        out.write(b"half")
        raise RuntimeError("stopped")
    assert path.read_bytes() == b"before\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.ndjson"]


def test_out_to_dev_fd_writes_the_stream_where_it_stands(repo, tmp_path):
    """`--out /dev/stdout` (here /dev/fd/N) is the stream the shell gave: a file it opened to
    append to keeps what it held, and a descriptor that is not open is exit 5, said plainly."""
    import subprocess
    import sys

    want = CliRunner().invoke(main, ["evaluate", str(EXAMPLE)]).stdout_bytes
    log = tmp_path / "log.ndjson"
    log.write_bytes(b"earlier\n")
    with open(log, "ab") as appended:
        fd = appended.fileno()
        done = subprocess.run([sys.executable, "-m", "evaluator", "evaluate", str(EXAMPLE), "--out", f"/dev/fd/{fd}"],
                              pass_fds=(fd,), capture_output=True)
    assert done.returncode == 0, done.stderr
    assert log.read_bytes() == b"earlier\n" + want
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.ndjson"]
    closed = subprocess.run([sys.executable, "-m", "evaluator", "evaluate", str(EXAMPLE), "--out", "/dev/fd/97"],
                            capture_output=True, text=True)
    assert closed.returncode == 5
    assert closed.stderr.strip() == "regelverk: cannot write /dev/fd/97: Bad file descriptor"


def test_parquet_dates_python_cannot_hold_make_their_rows_invalid_not_the_run(tmp_path):
    """A date32 or timestamp cell beyond the years 1 to 9999 made `to_pylist` raise, and the
    whole run end in a traceback. The cell is now its text, refused at its field; the other
    rows are decided. A timestamp with a time zone at midnight is read as its date."""
    from datetime import UTC, datetime

    base = {"patient": "p1", "unit": "u1", "region": "vgr", "care_choice": "rehab", "channel": "written"}
    rows = [{"id": f"c{k}", **base} for k in range(3)]
    days = pa.array([20151, -800000, 3000000], pa.date32())
    stamps = pa.array([datetime(2025, 3, 5, tzinfo=UTC), None, None], pa.timestamp("us", tz="UTC"))
    for name, column in (("days", days), ("stamps", stamps)):
        table = _table(rows).append_column("date", column)
        path = tmp_path / f"{name}.parquet"
        pq.write_table(table, path)
        result = CliRunner().invoke(main, ["evaluate", str(path)])
        assert result.exit_code == 0, result.output
        decisions = [orjson.loads(line) for line in result.stdout.splitlines()]
        assert [d["contact"] for d in decisions] == ["c0", "c1", "c2"]
        assert decisions[0]["status"] == "decided" and decisions[0]["policies"], decisions[0]
        errors = [d["errors"] for d in decisions[1:]]
        if name == "days":
            assert errors == [[{"field": "date", "message": "'-0221-09-04' is not a date written YYYY-MM-DD"}],
                              [{"field": "date", "message": "'10183-09-21' is not a date written YYYY-MM-DD"}]]
        else:
            assert all(e == [{"field": "date", "message": "is required but missing"}] for e in errors), errors



def _decided_csv(path, header: str, rows: list[str]) -> list[dict]:
    """The decisions `regelverk evaluate` gives a CSV file of `header` and `rows`."""
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["evaluate", str(path)])
    assert result.exit_code == 0, result.output
    return [orjson.loads(line) for line in result.stdout.splitlines()]


def test_a_csv_quote_left_open_takes_no_row_with_it(tmp_path):
    """A quote that opens a cell and is never closed on its line made the csv module read the
    rows after it into that cell: they got no decision. The row with the quote is invalid,
    named at its line, and each line after it is read as its own row and decided."""
    header = "id,patient,unit,region,care_choice,date,channel,dialogue"
    rows = ['c1,p1,"u1\nu2",vgr,rehab,2025-03-04,written,true',  # a cell over two lines, closed: one row
            'c9,p1,"oops,vgr,rehab,2025-03-04,written,true',
            "c2,p1,u1,vgr,rehab,2025-03-05,written,true",
            "c3,p2,u1,vgr,rehab,2025-03-04,written,true",
            "c4,p2,u1,vgr,rehab,2025-03-06,written,true"]
    decisions = _decided_csv(tmp_path / "open.csv", header, rows)
    assert [d["contact"] for d in decisions] == ["c1", None, "c2", "c3", "c4"]
    assert decisions[1]["errors"] == [{"field": None, "line": 4, "message": (
        "line 4 opens a quoted cell that is not closed on its line (the quote runs on to line 7); "
        "the lines after it are read on their own")}]
    assert [d["status"] for d in decisions] == ["decided", "invalid", "decided", "decided", "decided"]


def test_a_csv_decision_file_quotes_a_carriage_return(repo, tmp_path):
    """An id with a bare carriage return (valid JSON) was written unquoted, so a CSV reader split
    its row in two and read_decisions failed: the row is now quoted and reads back the same."""
    contacts = [{**_contacts()[0], "id": "cr\rx"}, {**_contacts()[0], "id": "plain"}]
    decisions = repo.evaluate(contacts)
    path = tmp_path / "d.csv"
    with open(path, "wb") as out:
        writer = open_writer("csv", out, output_kinds(repo.policy_set))
        writer.write(decisions)
        writer.close()
    assert read_decisions(path) == decisions
    assert path.read_bytes().count(b"\n") == 3  # the header and two rows


def test_a_parquet_file_with_two_columns_of_one_name_is_refused_as_a_csv_header_is(repo, tmp_path):
    """Two Parquet columns named `id` were read silently: each row took the last one (here a
    yes/no), so every row was invalid for a reason the file did not show, or decided on the
    wrong value. A CSV header that names a column twice is refused as a whole (exit 4); a
    Parquet file now is too, in the same words, by every command and the HTTP route."""
    rows = [{"id": f"c{k}", "patient": "p1", "unit": "u1", "region": "vgr", "care_choice": "rehab",
             "date": "2025-03-04", "channel": "written"} for k in range(3)]
    table = _table(rows)
    table = pa.Table.from_arrays([*table.columns, pa.array([True, False, True])], names=[*table.column_names, "id"])
    path = tmp_path / "twice.parquet"
    pq.write_table(table, path)
    csv_path = tmp_path / "twice.csv"
    csv_path.write_text("id,patient,id\nc1,p1,c2\n", encoding="utf-8")
    for args in (["evaluate", str(path)], ["evaluate", str(path), "--memory-budget", "0"],
                 ["explain", str(path), "--contact", "c1"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 4, (args, result.output)
        assert f"regelverk: {path}: the Parquet schema names 'id' twice" in result.output
        assert result.stdout == ""
    result = CliRunner().invoke(main, ["evaluate", str(csv_path)])
    assert result.exit_code == 4 and f"regelverk: {csv_path}: the CSV header names 'id' twice" in result.output
    body = io.BytesIO()
    pq.write_table(table, body)
    from evaluator.running.formats import FormatError, decide_bytes

    with pytest.raises(FormatError, match="^the body: the Parquet schema names 'id' twice$"):
        decide_bytes(repo, body.getvalue(), "parquet")


def test_a_parquet_time_past_23_59_makes_its_row_invalid_not_wrapped(tmp_path):
    """pyarrow turns a time32/time64 cell into a Python time modulo a day: 25:00 was read as
    01:00 and decided on, and -5 s as 23:59:55. Such a cell is now shown as it is ('25:00')
    and refused at its field; a time with zero seconds is HH:MM, one with seconds is refused
    saying so; the other rows are decided, in every unit Parquet has."""
    base = {"patient": "p1", "unit": "u1", "region": "vgr", "care_choice": "rehab", "date": "2025-03-04",
            "channel": "written"}
    hour, minute, second = 3600, 60, 1
    seconds = [9 * hour + 15 * minute, 25 * hour, 24 * hour, -5 * second, 23 * hour + 59 * minute + 59 * second,
               23 * hour + 59 * minute]
    form = "(HH:MM, from 00:00 to 23:59, as 09:15)"
    want = [None, f"'25:00' is not a time of day {form}", f"'24:00' is not a time of day {form}",
            f"'-00:00:05' is not a time of day {form}",
            f"'23:59:59' has seconds: a time is hours and minutes only {form}", None]
    for kind, per_second in ((pa.time32("s"), 1), (pa.time32("ms"), 1000), (pa.time64("us"), 10**6),
                             (pa.time64("ns"), 10**9)):
        numbers = pa.array([s * per_second for s in seconds], pa.int32() if kind.bit_width == 32 else pa.int64())
        rows = [{"id": f"c{k}", **base, "patient": f"p{k}"} for k in range(len(seconds))]
        table = _table(rows).append_column("time", numbers.cast(kind))
        path = tmp_path / f"times-{kind.unit}.parquet"
        pq.write_table(table, path)
        result = CliRunner().invoke(main, ["evaluate", str(path)])
        assert result.exit_code == 0, result.output
        decisions = [orjson.loads(line) for line in result.stdout.splitlines()]
        assert [d["contact"] for d in decisions] == [f"c{k}" for k in range(len(seconds))]
        for decision, message in zip(decisions, want, strict=True):
            if message is None:
                assert decision["status"] == "decided" and decision["errors"] == [], (kind, decision)
            else:
                assert decision["status"] == "invalid", (kind, decision)
                assert decision["errors"] == [{"field": "time", "message": message}], kind
        records, _ = read_contacts(path)
        assert [r.get("time") for r in records] == ["09:15", "25:00", "24:00", "-00:00:05", "23:59:59", "23:59"]


def test_parquet_cells_of_the_wrong_kind_are_named_as_a_person_writes_them(tmp_path):
    """A decimal or duration column in a whole-number field, or a binary id, made errors that
    showed Python's repr (`Decimal('5.0')`, `datetime.timedelta(seconds=5)`); they now show
    the value as it is written, and never an identifying field's value."""
    from datetime import timedelta
    from decimal import Decimal

    base = {"unit": "u1", "region": "vgr", "care_choice": "rehab", "date": "2025-03-04", "channel": "written"}
    rows = [{"id": f"c{k}", "patient": f"p{k}", **base} for k in range(3)]
    cases = (("duration_minutes", pa.array([Decimal("5.0"), Decimal("5.5"), None], pa.decimal128(5, 1)),
              ["must be a whole number, not the decimal number 5.0", "must be a whole number, not the decimal number 5.5"]),
             ("duration_minutes", pa.array([timedelta(seconds=5), timedelta(minutes=90), None], pa.duration("s")),
              ["must be a whole number, not a duration of 5 seconds",
               "must be a whole number, not a duration of 1 hour 30 minutes"]),
             ("platform", pa.array([b"u1", b"19121212-1212", None], pa.binary()),
              ["must be text, not binary data (2 bytes)", "must be text, not binary data (13 bytes)"]))
    for field, column, messages in cases:
        table = _table([{k: v for k, v in r.items() if k != field} for r in rows])
        path = tmp_path / f"{field}.parquet"
        pq.write_table(table.append_column(field, column), path)
        result = CliRunner().invoke(main, ["evaluate", str(path)])
        assert result.exit_code == 0, result.output
        decisions = [orjson.loads(line) for line in result.stdout.splitlines()]
        assert [d["errors"] for d in decisions[:2]] == [[{"field": field, "message": m}] for m in messages]
        assert decisions[2]["status"] != "invalid"  # (its cell is null: unknown)
        assert "Decimal(" not in result.stdout and "timedelta" not in result.stdout and "1212" not in result.stdout
    table = _table(rows).drop_columns(["patient"]).append_column("patient", pa.array([b"p0", b"p1", b"p2"]))
    pq.write_table(table, tmp_path / "binary_patient.parquet")
    result = CliRunner().invoke(main, ["evaluate", str(tmp_path / "binary_patient.parquet")])
    decisions = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert [d["errors"] for d in decisions] == [[{"field": "patient", "message": "must be text, not binary data"}]] * 3


def test_a_csv_separated_by_semicolons_is_refused_with_a_hint(repo, tmp_path):
    """Excel with Swedish settings saves CSV with semicolons. The header read as one column
    'id;patient;…', so every row was invalid for a missing id, patient, unit, … and nothing
    said why. The file is now refused as a whole (no row could be decided), saying that it
    seems to be separated by semicolons; the delimiter is not guessed."""
    lines = ["id;patient;unit;region;care_choice;date;channel", "c1;p1;u1;vgr;rehab;2025-03-04;written"]
    path = tmp_path / "excel.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    hint = ("the file seems to be separated by semicolons; regelverk reads comma-separated CSV "
            "(save or convert the file with commas between the cells)")
    for args in (["evaluate", str(path)], ["evaluate", str(path), "--memory-budget", "0"],
                 ["explain", str(path), "--contact", "c1"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 4, (args, result.output)
        assert f"regelverk: {path}: the CSV header has a column named 'id;patient;unit;region;care_choice;d... " \
               f"and none named 'id': {hint}" in result.output
        assert result.stdout == ""
    from evaluator.running.formats import FormatError, decide_bytes

    with pytest.raises(FormatError, match="seems to be separated by semicolons"):
        decide_bytes(repo, path.read_bytes(), "csv")
    # a column whose name holds a semicolon, beside an id column, is only a column
    fine = tmp_path / "fine.csv"
    fine.write_text("id,patient,unit,region,care_choice,date,channel,note;x\n"
                    "c1,p1,u1,vgr,rehab,2025-03-04,written,a\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["evaluate", str(fine)])
    assert result.exit_code == 0 and orjson.loads(result.stdout)["status"] == "decided", result.output
    # a comma-separated header whose id column has a space in its name: its rows, not a hint
    spaced = tmp_path / "spaced.csv"
    spaced.write_text("id ,patient,unit,region,date,channel\nc1,p1,u1,vgr,2025-03-04,written\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["evaluate", str(spaced)])
    assert result.exit_code == 0 and orjson.loads(result.stdout)["status"] == "invalid", result.output


def test_white_space_around_a_csv_cell_is_ignored_alike_for_every_typed_kind(repo, tmp_path):
    """` 5` in a whole-number field was taken as 5, while ` true` in a yes/no field (and ` []`
    in a list field) made the row invalid. White space around a typed cell is now no part of
    its value whatever the kind, as around a JSON value; text cells stay as they are."""
    assert csv_cell(" true", "boolean") is True and csv_cell("FALSE\t", "boolean") is False
    assert csv_cell(" 5 ", "integer") == 5 and csv_cell(' ["GB019"] ', "list") == ["GB019"]
    assert csv_cell("  ", "boolean") == "  " and csv_cell("  ", "integer") == "  "  # not empty: refused
    assert csv_cell(" 2025-03-04", None) == " 2025-03-04" and csv_cell(" c1", None) == " c1"
    header = "id,patient,unit,region,care_choice,date,channel,dialogue,content_equivalent_to_visit," \
             "medical_assessment,documented,regular_staff,duration_minutes,kva"
    rows = ["c1,p1,u1,vgr,rehab,2025-03-04,written,true,true,true,true,true,5,[]",
            "c2,p2,u1,vgr,rehab,2025-03-04,written, true ,true,true,true,TRUE , 5, []",
            "c3,p3,u1,vgr,rehab, 2025-03-04,written,true,true,true,true,true,5,[]"]
    one, two, three = _decided_csv(tmp_path / "spaces.csv", header, rows)
    assert one["status"] == two["status"] == "decided" and two["errors"] == []
    assert {k: v for k, v in one.items() if k != "contact"} == {k: v for k, v in two.items() if k != "contact"}
    assert three["status"] == "invalid" and [e["field"] for e in three["errors"]] == ["date"]


def test_an_arrow_table_with_two_columns_of_one_name_is_refused_by_the_python_api(repo):
    """Repository.evaluate took an Arrow table with two `id` columns, each row the later one,
    without a word (pandas refuses such a frame itself); it is now a ValueError naming it."""
    from evaluator.running.formats import FormatError

    table = _table(_contacts()[:3])
    table = pa.Table.from_arrays([*table.columns, table.column("patient")], names=[*table.column_names, "id"])
    with pytest.raises(FormatError, match="^the Arrow table names 'id' twice$"):
        repo.evaluate(table)
    assert issubclass(FormatError, ValueError)


def test_read_contacts_errors_reach_the_decisions_through_evaluate(repo, tmp_path):
    """read_contacts gives (records, errors): repo.evaluate took the records only, and a line
    that was not JSON, or a CSV row short of cells, came back as "a contact must be a JSON
    object, not null" with no line. With errors= the decisions are those of the command."""
    contact = '{"id":"a","patient":"p","unit":"U","region":"testland","date":"2025-03-04","channel":"written"}'
    (tmp_path / "c.ndjson").write_text(contact + "\n{broken\n", encoding="utf-8")
    (tmp_path / "c.csv").write_text("id,patient,unit,region,date,channel\nb,p,U,testland,2025-03-04,written\nc,p,U\n",
                                    encoding="utf-8")
    for name, said in (("c.ndjson", "line 2 is not JSON"), ("c.csv", "line 3 has 3 cells where the header has 6")):
        records, errors = read_contacts(tmp_path / name, fields=repo.policy_set.fields)
        decisions = repo.evaluate(records, errors=errors)
        assert decisions[1]["status"] == "invalid" and decisions[1]["errors"][0]["message"].startswith(said)
        result = CliRunner().invoke(main, ["evaluate", str(tmp_path / name), "--policies", str(repo.policy_set.root)])
        assert [orjson.loads(line) for line in result.stdout.splitlines()] == decisions


def test_a_pandas_period_column_is_read_as_its_text(repo):
    """A period[D] date column reached the contact check as Arrow's number for it ("date: must be
    text, not 20089", a number nowhere in the data); a day's period is its date, a month's is
    refused in words, a missing one is unknown."""
    import pandas as pd

    base = {"patient": ["p", "p", "q"], "unit": ["U"] * 3, "region": ["testland"] * 3, "channel": ["written"] * 3,
            "id": ["a", "b", "c"]}
    days = repo.evaluate(pd.DataFrame({**base, "date": pd.PeriodIndex(["2025-03-04", "2025-03-05", None], freq="D")}))
    plain = repo.evaluate([{k: v[i] for k, v in base.items()} | ({"date": d} if d else {})
                           for i, d in enumerate(["2025-03-04", "2025-03-05", None])])
    assert days == plain and days[2]["errors"] == [{"field": "date", "message": "is required but missing"}]
    months = repo.evaluate(pd.DataFrame({**base, "date": pd.PeriodIndex(["2025-03"] * 3, freq="M")}))
    assert months[0]["errors"] == [{"field": "date", "message": "'2025-03' is not a date written YYYY-MM-DD"}]
