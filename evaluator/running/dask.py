"""Decide contacts on a Dask cluster: shuffle on patient, then decide each partition's patients.

    import dask.dataframe as dd
    from distributed import Client
    from evaluator.running.dask import evaluate_dataframe

    client = Client("tcp://scheduler:8786")             # or a LocalCluster
    contacts = dd.read_parquet("contacts/*.parquet")
    decisions = evaluate_dataframe(contacts)           # lazy: columns _row, decision
    decisions.to_parquet("decisions/")                 # or .compute(), or iterate partitions

A patient's decisions depend on that patient's contacts only, so after a shuffle on `patient`
(every contact of a patient in one partition; a hash shuffle, not `groupby.apply`, which runs
a Python call per patient and was measured 50x slower) each partition is decided on its own
by `decide_partition`, a plain function of a pandas DataFrame that holds no engine: each
worker process loads the policies once, from the same path (or the bundled ones). The
decisions come back numbered by input row (`_row`, from 1) as NDJSON text (`decision`), sorted
into input order. A contact id used twice anywhere in the input is found first (a count of
ids: the later use is invalid and names the input that used it first, as everywhere else).
"""

from __future__ import annotations

import contextlib
import threading

import orjson

from .formats import FormatError, open_writer, output_file, output_kinds, records_from_frame
from .streaming import decide_items

_REPOSITORIES: dict = {}


class SchedulerUnreachable(Exception):
    """No Dask scheduler answers at the address given."""
_LOCK = threading.Lock()


def _repository(policies):
    """The policies at `policies` (None: the bundled ones), loaded once per process."""
    key = str(policies) if policies is not None else None
    with _LOCK:
        repo = _REPOSITORIES.get(key)
        if repo is None:
            from .api import Repository

            repo = _REPOSITORIES[key] = Repository.load(policies)
        return repo


def decide_partition(frame, policies=None, firsts: dict | None = None):
    """Decide the contacts of one pandas DataFrame that holds every contact of its patients:
    one row per contact, a column per field, and `_row`, the contact's number in the whole
    input. Returns a pandas DataFrame with `_row` and `decision` (the decision as NDJSON text),
    by `_row`. `firsts`: contact id -> the number of the first row that uses it,
    for the ids used more than once (evaluate_dataframe finds them); a later use is invalid.
    Usable with any scheduler, or none."""
    import pandas

    repo = _repository(policies)
    # In input order: a shuffle leaves a partition's rows in any order, and the order of input
    # decides between contacts of one patient at the same date and time (contract section 2).
    frame = frame.sort_values("_row", kind="stable")
    rows = [int(n) for n in frame["_row"]]
    records = records_from_frame(frame.drop(columns=["_row"]))
    firsts = firsts or {}
    items = []
    for row, record in zip(rows, records, strict=True):
        first = firsts.get(record.get("id")) if firsts and isinstance(record.get("id"), str) else None
        items.append([row, record, None, first if first is not None and first != row else None])
    with _LOCK:  # the engine's caches are one per process
        lines = decide_items(repo.engine, items)
    return pandas.DataFrame({"_row": pandas.Series(rows, dtype="int64"),
                             "decision": pandas.Series([line[:-1].decode() for line in lines], dtype=object)})


def _numbered(frame, offsets, partition_info=None):
    start = offsets[partition_info["number"]] if partition_info else 0
    return frame.assign(_row=range(start + 1, start + 1 + len(frame)))


def _refuse_converted_columns(contacts, policies) -> None:
    """ValueError for a column Dask turned into text that holds yes/no values, whole numbers or
    lists by the contact's fields. Dask's setting `dataframe.convert-string` (on by default)
    makes every object column of a pandas frame text as it becomes a Dask frame: a yes/no
    column with a missing cell (True, None) becomes 'True', a list column the text of the list, and
    every such contact would be invalid, where the same frame without Dask is decided."""
    import dask
    import pandas

    if dask.config.get("dataframe.convert-string", None) is False:
        return  # (text is then what the frame held, and decided as everywhere else; None: on)
    properties = (_repository(policies).policy_set.contact_schema or {}).get("properties", {})
    turned = []
    for name, dtype in contacts.dtypes.items():
        kinds = properties.get(name, {}).get("type")
        kinds = set(kinds) if isinstance(kinds, list) else {kinds}
        if isinstance(dtype, pandas.StringDtype) and kinds & {"boolean", "integer", "array"}:
            turned.append(str(name))
    if turned:
        raise ValueError(
            f"the columns {', '.join(turned)} are text in this Dask frame, but hold yes/no values, whole numbers or "
            "lists: Dask turns a pandas frame's object columns into text (its setting dataframe.convert-string), and "
            "every contact would be invalid. Make the frame with the setting off: "
            "with dask.config.set({'dataframe.convert-string': False}): contacts = dd.from_pandas(frame)")


def evaluate_dataframe(contacts, policies=None, in_order: bool = True):
    """Decide a Dask DataFrame of contacts (a column per field): a lazy Dask DataFrame with
    `_row` (the input row, from 1) and `decision` (NDJSON text), sorted into input order
    (`in_order` False: left by patient, which saves a second shuffle).
    Numbers the rows (one pass over partition lengths), finds ids used twice (a count of ids),
    shuffles on patient and decides each partition with decide_partition."""
    import pandas

    _refuse_converted_columns(contacts, policies)
    lengths = contacts.map_partitions(len).compute()
    offsets, total = [], 0
    for length in lengths:
        offsets.append(total)
        total += int(length)
    meta = contacts._meta.assign(_row=pandas.Series(dtype="int64"))
    numbered = contacts.map_partitions(_numbered, offsets, meta=meta)
    firsts: dict = {}
    if "id" in contacts.columns:
        # The first row of each id used more than once (a small table, brought here). Not by
        # filtering the rows on those ids: the optimiser may filter before numbering them.
        uses = numbered.groupby("id")["_row"].agg(["min", "count"])
        twice = uses[uses["count"] > 1].compute()
        firsts = {cid: int(first) for cid, first in zip(twice.index, twice["min"], strict=True) if isinstance(cid, str)}
    shuffled = numbered.shuffle(on="patient") if "patient" in contacts.columns else numbered
    out_meta = pandas.DataFrame({"_row": pandas.Series(dtype="int64"), "decision": pandas.Series(dtype=object)})
    decided = shuffled.map_partitions(decide_partition, policies, firsts, meta=out_meta)
    return decided.sort_values("_row") if in_order else decided


def _kind(arrow_type) -> str:
    """A column's kind, as far as deciding goes: two files may hold a column as int32 and int64,
    or as string and large_string, and be read alike; not as text in one and yes/no in another."""
    import pyarrow as pa

    t = arrow_type
    if pa.types.is_dictionary(t):
        t = t.value_type
    for kind, test in (("null", pa.types.is_null), ("yes/no", pa.types.is_boolean), ("whole number", pa.types.is_integer),
                       ("number", pa.types.is_floating), ("number", pa.types.is_decimal),
                       ("text", lambda x: pa.types.is_string(x) or pa.types.is_large_string(x)
                        or str(x) == "string_view"),
                       ("date", lambda x: pa.types.is_date(x) or pa.types.is_timestamp(x)), ("time", pa.types.is_time),
                       ("list", lambda x: pa.types.is_list(x) or pa.types.is_large_list(x))):
        if test(t):
            return kind
    return str(t)


def _parquet_files(source) -> tuple[object, list[str]]:
    """The Parquet files at `source` (a file, a folder, a glob), as Dask reads them: in a
    folder, every file below it but those it skips (names starting _ or ., .crc)."""
    import fsspec

    fs, _, paths = fsspec.core.get_fs_token_paths(source)
    files: list[str] = []
    for path in paths:
        if fs.isdir(path):
            for found in sorted(fs.find(path)):
                parts = found[len(path.rstrip("/")) + 1:].split("/")
                if not any(part.startswith(("_", ".")) for part in parts) and not found.endswith(".crc"):
                    files.append(found)
        else:
            files.append(path)
    return fs, files


def same_columns(source) -> None:
    """FormatError unless every Parquet file at `source` has the same columns, each of one kind
    in all of them. Dask takes the columns of the first file for every file: a column the first
    one lacks was dropped from all (its facts unknown: other decisions), and a later file that
    lacks one, or holds it as another kind, failed the run with no file named."""
    import pyarrow.parquet as pq

    try:
        fs, files = _parquet_files(source)
    except (OSError, ValueError) as exc:
        raise FormatError(f"{source} cannot be read as Parquet: {exc}") from None
    first: tuple[str, dict] | None = None
    for path in files:
        try:
            schema = pq.read_schema(path, filesystem=fs)
        except Exception as exc:  # noqa: BLE001 - pyarrow's reason is the message
            raise FormatError(f"{path} cannot be read as Parquet: {exc}") from None
        kinds = {name: _kind(schema.field(name).type) for name in schema.names}
        if first is None:
            first = (path, kinds)
            continue
        where, want = first
        lacks = sorted(set(want) - set(kinds))
        extra = sorted(set(kinds) - set(want))
        differ = sorted(n for n in set(want) & set(kinds) if "null" not in (want[n], kinds[n]) and want[n] != kinds[n])
        if lacks or extra or differ:
            said = ([f"lacks {', '.join(lacks)}"] if lacks else []) + ([f"has {', '.join(extra)} too"] if extra else [])
            said += [f"holds {n} as {kinds[n]} where {where} holds it as {want[n]}" for n in differ]
            against = f", against {where}" if lacks or extra else ""
            raise FormatError(f"the Parquet files at {source} differ in their columns: {path} {'; '.join(said)}"
                              f"{against}. --dask reads them as one table, so every file must have the same "
                              "columns, each of one kind (a column of nulls where a fact is not known); or decide "
                              "them without --dask")


def evaluate_on_cluster(source, out_path, address: str, policies=None, out_format: str | None = None) -> int:
    """`regelverk evaluate --dask ADDRESS`: the Parquet contacts at `source` (a file, folder or
    glob) decided on the cluster; the decisions written in input order to `out_path` (format
    from its extension or `out_format`; default NDJSON on standard output), one partition at
    a time. Returns how many."""
    import sys

    import dask.dataframe as dd
    from distributed import Client

    from .formats import format_of

    if source in (None, "-"):
        raise FormatError("--dask reads Parquet from a file, folder or glob the workers can reach, not standard input")
    same_columns(source)
    try:
        contacts = dd.read_parquet(source)
    except Exception as exc:  # noqa: BLE001 - whatever the reader says is the message
        raise FormatError(f"{source} cannot be read as Parquet: {exc}") from None
    repo = _repository(policies)
    kinds = output_kinds(repo.policy_set)
    fmt = format_of(out_path, out_format)
    count = 0
    try:
        client = Client(address, timeout="20s")
    except (OSError, TimeoutError) as exc:
        raise SchedulerUnreachable(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    with client:
        decided = evaluate_dataframe(contacts, policies)
        # As without Dask: a file is written under a temporary name and renamed once complete.
        with output_file(out_path) if out_path else contextlib.nullcontext(sys.stdout.buffer) as stream:
            writer = open_writer(fmt, stream, kinds)
            try:
                for part in decided.to_delayed():
                    frame = client.compute(part).result()
                    lines = [text.encode() + b"\n" for text in frame["decision"]]
                    if writer.wants_lines:
                        writer.write_lines(lines)
                    else:
                        writer.write([orjson.loads(line) for line in lines])
                    count += len(lines)
            except BaseException:  # (the writer lets go while its stream is open: see abandon)
                writer.abandon()
                raise
            writer.close()
    return count
