"""Contacts in and decisions out as NDJSON, CSV and Parquet, in chunks, keyed by format name.

Readers yield chunks of contacts as the engine takes them: `Chunk(records, errors, numbers)`,
records the parsed contacts (None for one that could not be read), errors by position in the
chunk for those, numbers each record's place in the whole input (1, 2, …). Writers take
decisions (dicts, or NDJSON lines) in input order. The HTTP service and `regelverk impact`
call `read_chunks`, `read_contacts` and `open_writer` with a format name from FORMATS.

CSV and Parquet hold one contact per row, one column per field. A CSV cell is text, typed by
the field table of the loaded policies (PolicySet.fields, so a repository's declared facts are
typed too): `true`/`false` (any case) for yes/no facts, digits for whole numbers, a list as a JSON array
(`["A1","B2"]`, `[]` the empty list), an empty cell unknown. A cell that does not fit
its type is kept as the text it is, so the contact check names the column, as it does for
NDJSON. Decisions written as CSV or Parquet have one column per contract field and one per
output (`outputs.reimbursable`, …); the nested fields (policies, findings, errors) are lists
of structs in Parquet and JSON text in CSV. pyarrow reads and writes Parquet (docs/data.md).
"""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import math
import os
import re
import stat
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import BinaryIO

import orjson

from ..loading.privacy import echo
from .ndjson import parse_ndjson

FORMATS = ("ndjson", "csv", "parquet")
_EXTENSIONS = {".ndjson": "ndjson", ".jsonl": "ndjson", ".json": "ndjson", ".csv": "csv",
               ".parquet": "parquet", ".pq": "parquet"}
CHUNK = 10_000


class FormatError(ValueError):
    """An input or output that cannot be read or written as a whole (not one bad line: that is
    an invalid decision). Its message names the file and what is wrong."""


def format_of(path: str | os.PathLike | None, given: str | None = None, default: str = "ndjson") -> str:
    """The format named (`given`), else the one the file's extension says, else `default`."""
    if given:
        if given not in FORMATS:
            raise FormatError(f"unknown format {given!r}: one of {', '.join(FORMATS)}")
        return given
    if path in (None, "-"):
        return default
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] in (".gz",):
        suffixes.pop()
    return _EXTENSIONS.get(suffixes[-1], default) if suffixes else default


@dataclass
class Chunk:
    """Contacts as the engine takes them: records (None where unreadable), the errors of those
    by position in the chunk, and each record's number in the whole input (from 1)."""

    records: list
    errors: dict = field(default_factory=dict)
    numbers: list = field(default_factory=list)


def pyarrow_modules():
    """pyarrow and pyarrow.parquet, imported when a columnar format is first used."""
    import pyarrow
    import pyarrow.parquet

    return pyarrow, pyarrow.parquet


# -- values from columnar and DataFrame sources -----------------------------------------------

def plain_value(value):
    """A value from Arrow, pandas, polars or numpy as the contact check takes it: NaN and
    pandas' NA are missing (None), numpy scalars and arrays their Python values, dates and
    times their ISO text (a timestamp at midnight is its date)."""
    if value is None:
        return None
    kind = type(value)
    if kind is str or kind is bool or kind is int:
        return value
    if kind.__name__ in ("NAType", "NaTType"):  # pandas' missing values (NaT is a datetime)
        return None
    if kind is float:
        return None if math.isnan(value) else value
    if isinstance(value, (list, tuple)):
        return [plain_value(v) for v in value]
    if isinstance(value, dict):
        return {k: plain_value(v) for k, v in value.items()}
    if isinstance(value, datetime):
        if value.time() == time(0):  # (midnight where it was written, in its own time zone if it has one)
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return time_text((value.hour * 3600 + value.minute * 60 + value.second) * 10**6 + value.microsecond, 10**6)
    if hasattr(value, "tolist"):  # a numpy array or scalar
        return plain_value(value.tolist())
    return value


def time_text(ticks: int, per_second: int) -> str:
    """A time of day, `ticks` of 1/per_second seconds after midnight, as text: HH:MM when its
    seconds are zero (the contract's form), else HH:MM:SS with any fraction. Written as it is
    when it is no time of day (24:00 or later, or before midnight: "25:00", "-00:00:05"),
    so that the contact check refuses it at its field, showing it as it was."""
    sign = "-" if ticks < 0 else ""
    seconds, fraction = divmod(abs(ticks), per_second)
    minutes, second = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    text = f"{sign}{hours:02d}:{minute:02d}"
    if second or fraction:
        text += f":{second:02d}"
        if fraction:
            text += "." + f"{fraction:0{len(str(per_second)) - 1}d}".rstrip("0")
    return text


_TICKS_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


def _time_cells(column, pa) -> list:
    """A time32 or time64 column's cells as time_text, from the numbers Arrow holds: pyarrow's
    own conversion takes them modulo a day, so 25:00 came out as 01:00, silently."""
    kind = column.type
    per_second = _TICKS_PER_SECOND[kind.unit]
    numbers = column.cast(pa.int32() if kind.bit_width == 32 else pa.int64())
    return [None if ticks is None else time_text(ticks, per_second) for ticks in numbers.to_pylist()]


def records_from_arrow(table) -> list[dict]:
    """Contacts from an Arrow table or record batch: one dict per row, a null cell left out
    (unknown), values made plain (plain_value)."""
    pa, _ = pyarrow_modules()
    columns = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        kind = column.type
        if pa.types.is_dictionary(kind):
            column = column.cast(kind.value_type)
            kind = column.type
        if pa.types.is_time(kind):
            columns.append((name, _time_cells(column, pa)))
            continue
        try:
            values = column.to_pylist()
        except (OverflowError, ValueError):  # a date or time Python cannot hold (beyond the year 9999)
            values = _cells_one_by_one(column, pa)
        simple = pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_boolean(kind) \
            or pa.types.is_integer(kind)
        columns.append((name, values if simple else [plain_value(v) for v in values]))
    rows = [{} for _ in range(table.num_rows)]
    for name, values in columns:
        for row, value in zip(rows, values, strict=True):
            if value is not None:
                row[name] = value
    return rows


def _cells_one_by_one(column, pa) -> list:
    """A column's cells as Python values, one at a time: a cell Python cannot hold (a date
    32-bit days or a timestamp put beyond the years 1 to 9999) as its text, which the contact
    check then refuses at its field, while the other rows are decided."""
    try:
        shown = column.cast(pa.string()).to_pylist()
    except (pa.ArrowException, ValueError):
        shown = ["(a value out of range)"] * len(column)
    cells = []
    for i, text in enumerate(shown):
        try:
            cells.append(column[i].as_py())
        except (OverflowError, ValueError):
            cells.append(text)
    return cells


def one_column_each(names: list, what: str) -> None:
    """FormatError where `names` (a CSV header's, a Parquet file's or a table's columns) holds
    one name twice: each row would take one of the two columns, unsaid. `what` names them."""
    repeated = sorted({c for c in names if names.count(c) > 1})
    if repeated:
        raise FormatError(f"{what} names {repeated[0]!r} twice")


def frame_kind(value) -> str | None:
    """"pandas", "polars" or "arrow" for a DataFrame or Arrow table or batch, else None; found
    by the type's module, so that neither library is imported to ask."""
    kind = type(value)
    module, name = kind.__module__.split(".")[0], kind.__name__
    if module == "pandas" and name == "DataFrame":
        return "pandas"
    if module == "polars" and name == "DataFrame":
        return "polars"
    if module == "pyarrow" and name in ("Table", "RecordBatch"):
        return "arrow"
    return None


def records_from_frame(frame) -> list[dict]:
    """Contacts from a pandas or polars DataFrame or an Arrow table: a row each, missing cells
    (None, NaN, NA, NaT, null) left out as unknown, numpy values made plain."""
    kind = frame_kind(frame)
    if kind == "arrow":
        # (a row would take the later of two columns of one name, unsaid: refused, as in a
        # CSV header or a Parquet file; pandas refuses them itself, polars cannot have them)
        one_column_each(frame.column_names, "the Arrow table")
        return records_from_arrow(frame)
    if kind == "polars":
        return records_from_arrow(frame.to_arrow())
    if kind == "pandas":
        pa, _ = pyarrow_modules()
        frame = _periods_as_text(frame)
        try:
            return records_from_arrow(pa.Table.from_pandas(frame, preserve_index=False))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            # A column of mixed kinds (text and numbers, say): taken value by value, so the
            # contact check names the cells that are wrong.
            names = [str(c) for c in frame.columns]
            rows = []
            for values in frame.itertuples(index=False, name=None):
                row = {}
                for column, value in zip(names, values, strict=True):
                    value = plain_value(value)
                    if value is not None:
                        row[column] = value
                rows.append(row)
            return rows
    raise TypeError(f"not a DataFrame or Arrow table: {type(frame).__name__}")


def _periods_as_text(frame):
    """A pandas frame with each Period column as its text (a day's: 2025-01-01, which a date
    field takes; a month's: 2025-01, which it refuses in words). Arrow holds a period as its
    number, which the contact check would have shown (20089), a number nowhere in the data."""
    import pandas

    periods = [c for c, dtype in frame.dtypes.items() if isinstance(dtype, pandas.PeriodDtype)]
    if not periods:
        return frame
    frame = frame.copy(deep=False)
    for column in periods:
        frame[column] = pandas.Series([None if value is pandas.NaT else str(value) for value in frame[column]],
                                      index=frame.index, dtype=object)
    return frame


def decisions_frame(decisions: list[dict], kinds: dict, kind: str = "pandas"):
    """Decisions as a table with the columns of a decision file (decision_columns): a pandas
    or polars DataFrame, or an Arrow table (`kind`: pandas, polars, arrow)."""
    table = decisions_table(decisions, kinds)
    if kind == "arrow":
        return table
    if kind == "pandas":
        import pandas

        # Arrow-backed columns: a null output stays missing (<NA>), not NaN or a float.
        return table.to_pandas(types_mapper=pandas.ArrowDtype)
    if kind == "polars":
        import polars

        return polars.from_arrow(table)
    raise ValueError(f"as_frame is one of pandas, polars, arrow, not {kind!r}")


# -- readers ------------------------------------------------------------------------------------

def read_chunks(source, fmt: str = "ndjson", fields: dict | None = None, size: int = CHUNK,
                name: str = "the input") -> Iterator[Chunk]:
    """The contacts of `source` (a path, or a binary file open for reading; Parquet needs a
    path or a seekable file) in chunks of about `size`. `fields`: the field table that types
    CSV cells (PolicySet.fields). Raises FormatError when the input cannot be read at all
    (not Parquet, no CSV header); a bad line or row is an invalid contact of its own."""
    if fmt == "ndjson":
        return _ndjson_chunks(source, size)
    if fmt == "csv":
        return _csv_chunks(source, fields or {}, size, name)
    if fmt == "parquet":
        return _parquet_chunks(source, size, name)
    raise FormatError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")


def read_contacts(path, input_format: str | None = None, fields: dict | None = None) -> tuple[list, dict]:
    """All contacts of a file in one batch, as Repository.evaluate and the engine take them:
    (records, errors by index) with None records for lines that could not be read. The format
    comes from `input_format` or the file's extension. For `regelverk impact` and tests; a
    large file is better decided chunk by chunk (streaming.decide_stream). `fields`: the field
    table that types CSV cells (PolicySet.fields of the policies that will decide; default:
    those of the policies the current folder means)."""
    if fields is None:
        from ..loading.repository import load_policies

        fields = load_policies(None).fields
    return gather(read_chunks(path, format_of(path, input_format), fields, name=str(path)))


def gather(chunks: Iterable[Chunk]) -> tuple[list, dict]:
    """Chunks read whole into one batch: (records, errors by index in the batch)."""
    records: list = []
    errors: dict = {}
    for chunk in chunks:
        for k, problems in chunk.errors.items():
            errors[len(records) + k] = problems
        records.extend(chunk.records)
    return records, errors


def standard_input() -> BinaryIO:
    """This process's standard input as bytes; OSError (EBADF) where it was started with it
    closed (`<&-`), where Python has no sys.stdin at all."""
    if sys.stdin is None:
        raise OSError(errno.EBADF, "it is closed")
    return sys.stdin.buffer


def _opened(source, mode: str = "rb"):
    if isinstance(source, (str, os.PathLike)):
        return open(source, mode), True  # noqa: SIM115 - closed by the reader
    return source, False


def ndjson_lines(stream: BinaryIO) -> Iterator[bytes]:
    """The lines of an NDJSON stream as bytes, split at line feeds only, a carriage return
    before the line feed and a UTF-8 byte-order mark at the start dropped."""
    first = True
    for line in stream:
        if first:
            first = False
            if line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
        if line.endswith(b"\n"):
            line = line[:-2] if line.endswith(b"\r\n") else line[:-1]
        yield line


def _ndjson_chunks(source, size: int) -> Iterator[Chunk]:

    stream, close = _opened(source)
    try:
        lines: list = []
        number = 0
        for line in ndjson_lines(stream):
            lines.append(line)
            if len(lines) >= size:
                numbers = list(range(number + 1, number + len(lines) + 1))
                records, errors = parse_ndjson(lines, numbers=numbers)
                yield Chunk(records, errors, numbers)
                number += len(lines)
                lines = []
        if lines:
            numbers = list(range(number + 1, number + len(lines) + 1))
            records, errors = parse_ndjson(lines, numbers=numbers)
            yield Chunk(records, errors, numbers)
    finally:
        if close:
            stream.close()


def csv_cell(text: str, kind: str | None):
    """One CSV cell as the field's type takes it (see the module's notes); text that does not
    fit is given back as it is, for the contact check to name. None: the cell is empty.

    White space around a yes/no, whole-number or list cell is no part of its value (` true`,
    `5 `), as around a JSON value; a text cell (a date and a time too) is the text as it is,
    spaces included, as a JSON string is."""
    if text == "":
        return None
    if kind == "boolean":
        lowered = text.strip().lower()
        return True if lowered == "true" else False if lowered == "false" else text
    if kind == "integer":
        stripped = text.strip()
        if stripped.lstrip("-").isdigit() and stripped.isascii():
            return int(stripped)
        return text
    if kind == "list":
        stripped = text.strip()
        if stripped.startswith("["):
            try:
                value = orjson.loads(stripped)
            except ValueError:
                return text
            return value if isinstance(value, list) else text
        return text
    return text


def _csv_chunks(source, fields: dict, size: int, name: str) -> Iterator[Chunk]:
    stream, close = _opened(source)
    try:
        text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
        lines = _TakenLines(text)
        reader = csv.reader(lines, strict=False)
        try:
            header = next(reader, None)
        except csv.Error as exc:
            raise FormatError(f"{name}: the CSV header cannot be read: {exc}") from None
        if not header or not any(header):
            raise FormatError(f"{name}: a CSV file needs a header row naming the columns")
        if _not_utf8(header):
            raise FormatError(f"{name}: the CSV header is not UTF-8 text")
        joined = next((c for c in header if ";" in c and "id" in (n.strip() for n in c.split(";"))), None)
        if joined is not None and "id" not in header:
            # Excel with Swedish settings writes CSV with semicolons: the header reads as one
            # column, so no row has an id and none could be decided. Said, not guessed.
            raise FormatError(f"{name}: the CSV header has a column named {echo(joined)} and none named 'id': "
                              "the file seems to be separated by semicolons; regelverk reads comma-separated "
                              "CSV (save or convert the file with commas between the cells)")
        blank = [n for n, column in enumerate(header, start=1) if not column]
        if blank:
            raise FormatError(f"{name}: column {blank[0]} of the CSV header has no name")
        one_column_each(header, f"{name}: the CSV header")
        kinds = [getattr(fields.get(column), "kind", None) for column in header]
        width = len(header)
        records: list = []
        errors: dict = {}
        numbers: list = []
        number = 0

        def add(row, line: int, problem: str | None = None) -> None:
            nonlocal number
            number += 1
            numbers.append(number)
            if problem is None:
                if isinstance(row, Exception):
                    problem = f"line {line} is not CSV: {row}"
                elif not row:
                    problem = f"line {line} is empty"
                elif len(row) != width:
                    problem = f"line {line} has {len(row)} cells where the header has {width}"
                elif _not_utf8(row):
                    problem = f"line {line} is not UTF-8 text"
            if problem is not None:
                errors[len(records)] = [{"field": None, "line": line, "message": problem}]
                records.append(None)
                return
            record = {}
            for column, kind, cell in zip(header, kinds, row, strict=True):
                value = csv_cell(cell, kind)
                if value is not None:
                    record[column] = value
            records.append(record)

        while True:
            lines.taken.clear()
            first = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                row = exc  # one malformed row (a NUL byte, say): an invalid contact of its own
            if not isinstance(row, Exception) and len(row) != width and len(lines.taken) > 1:
                # A quote that opens a cell and is not closed on its line takes the lines after
                # it into that cell: the row is the first line alone, and each line it took is
                # read as the row it was meant to be, so each gets its decision.
                taken = lines.taken[1:]
                add(None, first, f"line {first} opens a quoted cell that is not closed on its line "
                                 f"(the quote runs on to line {first + len(taken)}); the lines after it are read on their own")
                for k, text_line in enumerate(taken, start=first + 1):
                    try:
                        alone = next(csv.reader([text_line], strict=False), [])
                    except csv.Error as exc:
                        alone = exc
                    add(alone, k)
            else:
                add(row, reader.line_num)
            if len(records) >= size:
                yield Chunk(records, errors, numbers)
                records, errors, numbers = [], {}, []
        if records:
            yield Chunk(records, errors, numbers)
    finally:
        if close:
            stream.close()


class _TakenLines:
    """The lines of a text as csv.reader takes them, those of the row being read kept in
    `taken` (cleared before each row)."""

    def __init__(self, text):
        self.text = text
        self.taken: list[str] = []

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = next(self.text)
        self.taken.append(line)
        return line


def _not_utf8(cells: list) -> bool:
    """Whether a row read with surrogateescape held bytes that are not UTF-8."""
    return any(not cell.isascii() and any("\udc80" <= ch <= "\udcff" for ch in cell) for cell in cells)


def open_parquet(source, name: str):
    """A Parquet file (a path, or a binary file open for reading) opened for its rows: OSError
    where the file cannot be opened at all (no permission, say: said as for any format);
    FormatError where it is not Parquet, or where two of its columns have one name, which a
    CSV header may not have either (the rows would take one of the two, unsaid)."""
    pa, pq = pyarrow_modules()
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb"):
            pass  # (an OSError in Python's words, not pyarrow's)
    try:
        parquet = pq.ParquetFile(source)
    except (pa.ArrowException, OSError) as exc:
        raise FormatError(f"{name} cannot be read as Parquet: {exc}") from None
    one_column_each(parquet.schema_arrow.names, f"{name}: the Parquet schema")
    return parquet


def _parquet_chunks(source, size: int, name: str) -> Iterator[Chunk]:
    pa, _ = pyarrow_modules()
    parquet = open_parquet(source, name)
    number = 0
    try:
        for batch in parquet.iter_batches(batch_size=size):
            records = records_from_arrow(batch)
            numbers = list(range(number + 1, number + len(records) + 1))
            number += len(records)
            yield Chunk(records, {}, numbers)
    except pa.ArrowException as exc:
        raise FormatError(f"{name} cannot be read as Parquet after row {number}: {exc}") from None


def parquet_rows(source) -> int | None:
    """The number of rows a Parquet file says it holds (from its footer), None if unreadable."""
    pa, pq = pyarrow_modules()
    try:
        return pq.ParquetFile(source).metadata.num_rows
    except (pa.ArrowException, OSError):
        return None


# -- decisions as rows -------------------------------------------------------------------------

_TOP = ("contact", "status", "policies", "outputs", "findings", "errors")
_POLICY_KEYS = ("id", "version")
_FINDING_KEYS = ("policy", "version", "rule", "severity", "message", "source", "evidence", "result", "missing")
_ERROR_KEYS = ("field", "message", "line")


def decision_columns(outputs: Iterable[str]) -> list[str]:
    """The columns of a tabular decision file, in order."""
    return ["contact", "status", "policies", *(f"outputs.{name}" for name in outputs), "findings", "errors", "extra"]


def _extra(entry: dict, known: tuple) -> str | None:
    """What an entry holds beyond the keys a column types, as JSON text (None: nothing): a field
    added to decisions later is carried, not dropped."""
    rest = {k: v for k, v in entry.items() if k not in known}
    return orjson.dumps(rest).decode() if rest else None


def _with_extra(entry: dict, known: tuple) -> dict:
    row = {k: entry.get(k) for k in known}
    row["extra"] = _extra(entry, known)
    return row


def decision_row(decision: dict, outputs: list[str]) -> dict:
    """A decision as one row of nested Python values (for Arrow)."""
    row = {"contact": decision.get("contact"), "status": decision.get("status"),
           "policies": [_with_extra(p, _POLICY_KEYS) for p in decision.get("policies") or ()]}
    given = decision.get("outputs") or {}
    for name in outputs:
        row[f"outputs.{name}"] = given.get(name)
    row["findings"] = [_with_extra(f, _FINDING_KEYS) for f in decision.get("findings") or ()]
    row["errors"] = [_with_extra(e, _ERROR_KEYS) for e in decision.get("errors") or ()]
    extra = {k: v for k, v in decision.items() if k not in _TOP}
    extra.update({f"outputs.{k}": v for k, v in given.items() if k not in outputs})
    row["extra"] = orjson.dumps(extra).decode() if extra else None
    return row


def decision_from_row(row: dict, outputs: list[str]) -> dict:
    """The decision a row of decision_row (read back from Parquet or CSV) holds."""
    def entries(values, known):
        got = []
        for value in values or ():
            entry = {k: value.get(k) for k in known if k in value}
            if "missing" in entry and entry["missing"] is None:
                del entry["missing"]
            if "line" in entry and entry["line"] is None:
                del entry["line"]
            if value.get("extra"):
                entry.update(orjson.loads(value["extra"]))
            got.append(entry)
        return got

    decision = {"contact": row.get("contact"), "status": row.get("status"),
                "policies": entries(row.get("policies"), _POLICY_KEYS),
                "outputs": {name: row.get(f"outputs.{name}") for name in outputs},
                "findings": entries(row.get("findings"), _FINDING_KEYS),
                "errors": entries(row.get("errors"), _ERROR_KEYS)}
    if row.get("extra"):
        for key, value in orjson.loads(row["extra"]).items():
            if key.startswith("outputs."):
                decision["outputs"][key[len("outputs."):]] = value
            else:
                decision[key] = value
    return decision


def decision_schema(output_kinds: dict):
    """The Arrow schema of decision rows; `output_kinds`: output name -> boolean, integer,
    string or list."""
    pa, _ = pyarrow_modules()
    text = pa.string()
    texts = pa.list_(text)
    by_kind = {"boolean": pa.bool_(), "integer": pa.int64(), "string": text, "list": texts}
    policy = pa.struct([("id", text), ("version", text), ("extra", text)])
    finding = pa.struct([("policy", text), ("version", text), ("rule", text), ("severity", text),
                         ("message", pa.struct([("sv", text), ("en", text)])), ("source", text),
                         ("evidence", texts), ("result", text), ("missing", texts), ("extra", text)])
    error = pa.struct([("field", text), ("message", text), ("line", pa.int64()), ("extra", text)])
    return pa.schema([("contact", text), ("status", text), ("policies", pa.list_(policy)),
                      *((f"outputs.{name}", by_kind.get(kind, text)) for name, kind in output_kinds.items()),
                      ("findings", pa.list_(finding)), ("errors", pa.list_(error)), ("extra", text)])


def output_kinds(policy_set) -> dict:
    """Each output's kind (boolean, integer, string, list), from the loaded outputs.yaml."""
    return {name: spec.type.kind for name, spec in policy_set.outputs.items()}


def decisions_table(decisions: list[dict], kinds: dict):
    """Decisions as an Arrow table with decision_schema's columns."""
    pa, _ = pyarrow_modules()
    names = list(kinds)
    return pa.Table.from_pylist([decision_row(d, names) for d in decisions], schema=decision_schema(kinds))


def decisions_from_table(table, kinds: dict) -> list[dict]:
    names = list(kinds)
    return [decision_from_row(row, names) for row in table.to_pylist()]


def _csv_text(value, kind: str) -> str:
    if value is None:
        return ""
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "list":
        return orjson.dumps(value).decode()
    return str(value)


def decision_csv_row(decision: dict, kinds: dict) -> list[str]:
    row = decision_row(decision, list(kinds))
    cells = [row["contact"] or "", row["status"] or ""]
    cells.append(orjson.dumps(decision.get("policies") or []).decode())
    cells.extend(_csv_text(row[f"outputs.{name}"], kind) for name, kind in kinds.items())
    cells.append(orjson.dumps(decision.get("findings") or []).decode())
    cells.append(orjson.dumps(decision.get("errors") or []).decode())
    cells.append(row["extra"] or "")
    return cells


def decision_from_csv(cells: dict, kinds: dict) -> dict:
    """A decision from one row of a decision CSV (a dict by column)."""
    def output(text, kind):
        if text == "":
            return None
        if kind == "boolean":
            return text == "true"
        if kind == "integer":
            return int(text)
        if kind == "list":
            return orjson.loads(text)
        return text

    decision = {"contact": cells["contact"] or None, "status": cells["status"],
                "policies": orjson.loads(cells["policies"]),
                "outputs": {name: output(cells[f"outputs.{name}"], kind) for name, kind in kinds.items()},
                "findings": orjson.loads(cells["findings"]), "errors": orjson.loads(cells["errors"])}
    if cells.get("extra"):
        for key, value in orjson.loads(cells["extra"]).items():
            if key.startswith("outputs."):
                decision["outputs"][key[len("outputs."):]] = value
            else:
                decision[key] = value
    return decision


def read_decisions(path, fmt: str | None = None, kinds: dict | None = None) -> list[dict]:
    """The decisions a decision file holds (NDJSON, CSV or Parquet), as dicts: what was written,
    read back. `kinds`: output kinds (default: from a Parquet file's columns, or the bundled
    outputs)."""
    fmt = format_of(path, fmt)
    if fmt == "ndjson":
        with open(path, "rb") as f:
            return [orjson.loads(line) for line in ndjson_lines(f) if line]
    if kinds is None:
        from ..loading.repository import load_policies

        kinds = output_kinds(load_policies(None))
    if fmt == "parquet":
        _, pq = pyarrow_modules()
        return decisions_from_table(pq.read_table(path), kinds)
    with open(path, encoding="utf-8", newline="") as f:
        return [decision_from_csv(row, kinds) for row in csv.DictReader(f)]


# -- writers ------------------------------------------------------------------------------------

class DecisionWriter:
    """Writes decisions in input order. `wants_lines`: whether write_lines (NDJSON lines as
    bytes, with their line feed) is the cheaper way in; write (dicts) always works."""

    wants_lines = False

    def write(self, decisions: list[dict]) -> None:
        raise NotImplementedError

    def write_lines(self, lines: list[bytes]) -> None:
        self.write([orjson.loads(line) for line in lines])

    def close(self) -> None:
        """Finish the file (a Parquet footer); the stream itself is the caller's."""

    def abandon(self) -> None:
        """Let go of the file unfinished (a run that failed or was stopped), while the stream is
        still open: nothing is left to write to it later, when the stream is closed (a Parquet
        writer would write its footer as it is collected, and print that it could not)."""


class NdjsonWriter(DecisionWriter):
    wants_lines = True

    def __init__(self, out: BinaryIO):
        self.out = out

    def write(self, decisions: list[dict]) -> None:
        option = orjson.OPT_APPEND_NEWLINE
        self.out.write(b"".join(orjson.dumps(d, option=option) for d in decisions))

    def write_lines(self, lines: list[bytes]) -> None:
        self.out.write(b"".join(lines))


class CsvWriter(DecisionWriter):
    def __init__(self, out: BinaryIO, kinds: dict):
        self.kinds = kinds
        self.text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        self.writer = csv.writer(self.text, lineterminator="\n")
        # (the csv module quotes a cell holding "\n" but not one holding a bare "\r", which a
        # reader takes for a line end: a row with one is written with every cell quoted)
        self.quoting = csv.writer(self.text, lineterminator="\n", quoting=csv.QUOTE_ALL)
        self.writer.writerow(decision_columns(kinds))

    def write(self, decisions: list[dict]) -> None:
        plain, quoting = self.writer.writerow, self.quoting.writerow
        for d in decisions:
            row = decision_csv_row(d, self.kinds)
            (quoting if any(type(cell) is str and "\r" in cell for cell in row) else plain)(row)

    def close(self) -> None:
        self.text.flush()
        self.text.detach()  # the stream stays open: it is the caller's

    def abandon(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


class ParquetWriter(DecisionWriter):
    def __init__(self, out: BinaryIO, kinds: dict):
        _, pq = pyarrow_modules()
        self.kinds = kinds
        self.schema = decision_schema(kinds)
        self.writer = pq.ParquetWriter(out, self.schema)

    def write(self, decisions: list[dict]) -> None:
        if decisions:
            self.writer.write_table(decisions_table(decisions, self.kinds))

    def close(self) -> None:
        self.writer.close()

    def abandon(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


# A name for one of this process's open streams (/dev/stdout, /dev/fd/3, /proc/self/fd/3).
_STREAM_NAME = re.compile(r"/dev/(?:fd/(\d+)|std(out|err))|/proc/(?:self|thread-self)/fd/(\d+)")


@contextlib.contextmanager
def output_file(path: str) -> Iterator[BinaryIO]:
    """A stream to write the file at `path` whole or not at all: a regular file (or a new one)
    is written under a temporary name beside it and renamed over it when the block ends
    without an error, so a failed run leaves no half file; a link is followed (its target is
    replaced, the link stays). A name for one of this process's streams (/dev/stdout,
    /dev/fd/3) is that stream, written where it stands (appended to, if the shell opened it
    so); anything else at `path` that is not a regular file (a device such as /dev/null, a
    named pipe) is opened and written as it is. Either way a failure part-way leaves what was
    written: a rename would put a file in the stream's or the device's place."""
    named = _STREAM_NAME.fullmatch(os.path.abspath(path))
    if named is not None:
        fd = int(named.group(1) or named.group(3) or (1 if named.group(2) == "out" else 2))
        with os.fdopen(os.dup(fd), "wb") as stream:
            yield stream
        return
    try:
        regular = stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        regular = True  # (to be made)
    if not regular:
        with open(path, "wb") as stream:
            yield stream
        return
    final = os.path.realpath(path)
    if os.path.exists(final) and not os.access(final, os.W_OK):
        # A file one may not write is not replaced by the rename either (exit 5, as for any
        # output that cannot be written; it was click's usage error, exit 2).
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
    partial = os.path.join(os.path.dirname(final), f".{os.path.basename(final)}.partial-{os.getpid()}")
    try:
        try:
            opened = open(partial, "wb")
        except OSError as exc:
            # Said so: the file itself may well be writable, its folder not.
            raise OSError(exc.errno, f"it is written as {partial} first, then renamed, and that file cannot "
                                     f"be made: {exc.strerror}") from None
        with opened as stream:
            yield stream
        os.replace(partial, final)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(partial)


def open_writer(fmt: str, out: BinaryIO, kinds: dict) -> DecisionWriter:
    """A writer of decisions in `fmt` to the binary stream `out`; `kinds` from output_kinds."""
    if fmt == "ndjson":
        return NdjsonWriter(out)
    if fmt == "csv":
        return CsvWriter(out, kinds)
    if fmt == "parquet":
        return ParquetWriter(out, kinds)
    raise FormatError(f"unknown format {fmt!r}: one of {', '.join(FORMATS)}")


# -- for an HTTP route -------------------------------------------------------------------------

MEDIA_TYPES = {"ndjson": "application/x-ndjson", "csv": "text/csv", "parquet": "application/vnd.apache.parquet"}
# Every media type a body or an Accept header may name for each format: the one table the HTTP
# service's readers are registered from too.
MEDIA_ALIASES = {"application/x-ndjson": "ndjson", "application/ndjson": "ndjson", "application/jsonl": "ndjson",
                 "application/json-lines": "ndjson", "application/jsonlines": "ndjson",
                 "application/json-seq": "ndjson", "text/csv": "csv", "application/vnd.apache.parquet": "parquet",
                 "application/x-parquet": "parquet", "application/parquet": "parquet"}


def format_of_media_type(value: str | None, default: str = "ndjson") -> str | None:
    """The format a Content-Type or Accept header names (its first type that is one of ours;
    none, or */*: `default`); None when it names only types none of the formats is."""
    if not value:
        return default
    for part in value.split(","):
        media = part.split(";")[0].strip().lower()
        if media in ("*/*", "application/*", ""):
            return default
        if media in MEDIA_ALIASES:
            return MEDIA_ALIASES[media]
    return None


def decide_bytes(repo, body: bytes, in_fmt: str = "ndjson", out_fmt: str = "ndjson") -> bytes:
    """A request body of contacts (in `in_fmt`) decided, as the body of the answer (in
    `out_fmt`, whose media type is MEDIA_TYPES[out_fmt]): for an HTTP batch route, whose bodies
    are limited in size. Raises FormatError, whose message says what is wrong, for a body that
    cannot be read at all (not Parquet, a CSV without a header): a 400."""
    records, errors = gather(read_chunks(io.BytesIO(body), in_fmt, repo.policy_set.fields, name="the body"))
    decisions, _ = repo.engine.evaluate(records, line_errors=errors, own=True)
    out = io.BytesIO()
    writer = open_writer(out_fmt, out, output_kinds(repo.policy_set))
    writer.write(decisions)
    writer.close()
    return out.getvalue()
