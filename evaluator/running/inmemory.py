"""Decide an NDJSON file whole in memory when it fits the memory budget, else in bounded memory.

The bounded way (streaming.py) parses every contact in this process, deals the parsed contacts
by patient into partition files (pickled), reads each partition back, and marks ids used twice
in an index on disk: about a third of its time on the benchmark's file. An input that fits in
memory needs none of that. The file is read whole; its lines are found once and dealt into
buckets by patient off the text, without parsing (parallel.py); forked workers, which share the
text, parse and decide a bucket at a time; the decisions are held until every bucket is
decided, then written in input order. The decisions are those of the bounded way,
byte for byte. Input grouped by patient, which the bounded way streams through, is decided this
way too when it fits: faster, though its first decision then comes at the end.

What it holds at its peak is mostly the decisions (about 900 bytes a contact, whatever the
length of its line) and the file's text, so the peak is estimated from the file's size and the
processes: PEAK_PER_INPUT_BYTE times the size and PEAK_PER_PROCESS a process (measured, see
there). The budget, in megabytes (MiB), comes from the `--memory-budget` option, else the
environment (REGELVERK_MEMORY_BUDGET_MB), else the repository's settings (`evaluate:
{memory_budget_mb: N}` in regelverk.yaml), else a quarter of the memory this process may use;
0 means the bounded way always. FileInput makes the choice for a file.
"""

from __future__ import annotations

import os
import re
from array import array
from collections.abc import Callable, Iterator, Sequence

from . import parallel
from .engine import cyclic_gc_paused
from .formats import CHUNK, parquet_rows, read_chunks
from .ndjson import decision_line, forget_traceback, parse_ndjson
from .streaming import (
    Progress,
    Summary,
    decide_stream,
    emit_lines,
    patient_keys,
    scan_grouped,
)

MIB = 1024 * 1024
ENV = "REGELVERK_MEMORY_BUDGET_MB"
SECTION, KEY = "evaluate", "memory_budget_mb"

# The peak memory of deciding a file in memory: PEAK_PER_INPUT_BYTE times the file's size, and
# PEAK_PER_PROCESS for this process and each worker. Measured with benchmarks/memory.py as the
# largest sum of the proportional set sizes of the process and its workers, for generate.py's
# 250,000, 500,000 and 1,000,000 contacts (about 276 bytes a line) with 1, 2 and 4 processes:
# 5.27 to 6.21 times the size with one process (the smaller files pay a larger share of the
# fixed cost), 52 to 85 MiB more for each further process. Rounded up, the estimate is 14 % to
# 20 % over the peak at a million contacts, and over it in every case (docs/data.md has the
# figures). The decisions are most of the peak, about 900 bytes a contact however long its
# line: a file of shorter lines takes more per byte than this, one of longer lines less.
PEAK_PER_INPUT_BYTE = 5.5
PEAK_PER_PROCESS = 128 * MIB

# The default budget: this share of the memory the process may use (usable_memory).
DEFAULT_SHARE = 4

# `"id": "…"` with no escape in the value, for a quick look for ids used twice (see
# _ids_look_unique).
_ID_BYTES = re.compile(rb'"id"[ \t\r]*:[ \t\r]*"([^"\\\n]*)"')
_FEED = re.compile(rb"\n")
_BOM = b"\xef\xbb\xbf"


class BudgetError(ValueError):
    """A memory budget that cannot be used: says where it came from and what it must be."""


def usable_memory() -> int | None:
    """The bytes of memory this process may use: the machine's, or less where a container's
    limit (cgroup v2 or v1) or this process's limits (ulimit -v, -d) say so; None where the
    system does not tell."""
    limits = []
    try:
        limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        pass
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(limit_file, encoding="ascii") as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit():  # (not "max", v2's "no limit"; v1 says so with a huge number)
            limits.append(int(text))
        break
    try:
        import resource

        for which in (resource.RLIMIT_AS, resource.RLIMIT_DATA):
            soft, _ = resource.getrlimit(which)
            if soft != resource.RLIM_INFINITY:
                limits.append(soft)
    except (ImportError, AttributeError, ValueError, OSError):  # not on this system
        pass
    return min((limit for limit in limits if limit > 0), default=None)


def default_budget_mb() -> int:
    """A quarter of the memory this process may use, in MiB; 0 (the bounded way always) where
    that is not known."""
    memory = usable_memory()
    return memory // DEFAULT_SHARE // MIB if memory else 0


def _whole_megabytes(value, source: str) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BudgetError(f"{source} cannot be {value!r}: it is a whole number of megabytes, 0 or more "
                          "(0: always decide in bounded memory)")
    return value


def memory_budget_mb(settings=None, given: int | None = None, environ=None) -> int:
    """The memory budget in MiB: `given` (the command line), else the environment's
    REGELVERK_MEMORY_BUDGET_MB, else `settings`' evaluate: memory_budget_mb, else
    default_budget_mb(); a given budget is at most the memory this process may use
    (usable_memory). Raises BudgetError for a value that is not a whole number, 0 or more."""
    environ = os.environ if environ is None else environ
    section = settings.section(SECTION) if settings is not None else {}
    if given is not None:
        budget = _whole_megabytes(given, "--memory-budget")
    elif environ.get(ENV, "") != "":
        budget = _whole_megabytes(environ[ENV], f"the environment's {ENV}")
    elif KEY in section:
        budget = _whole_megabytes(section[KEY], f"regelverk.yaml {SECTION}: {KEY}")
    else:
        return default_budget_mb()
    # At most the memory this process may use, where that is known: past it, memory runs out
    # before the estimate says it will, and not always as a MemoryError the in-memory way can
    # step back from (a library's allocation may end the process).
    memory = usable_memory()
    return min(budget, memory // MIB) if memory else budget


def estimated_peak(input_bytes: int, jobs: int) -> int:
    """The memory, in bytes, deciding an NDJSON file of `input_bytes` in memory in `jobs`
    processes is estimated to take at its peak, all processes together."""
    return int(input_bytes * PEAK_PER_INPUT_BYTE) + max(1, jobs) * PEAK_PER_PROCESS


def fits(input_bytes: int, budget_mb: int, jobs: int) -> bool:
    """Whether a file of `input_bytes` is decided in memory in `jobs` processes under a budget of
    `budget_mb` MiB."""
    return budget_mb > 0 and estimated_peak(input_bytes, jobs) <= budget_mb * MIB


class FileLines(Sequence):
    """The lines of an NDJSON file read whole, as formats.ndjson_lines reads them: split at line
    feeds only, a carriage return before a line feed and a UTF-8 byte-order mark at the start
    dropped. The text is held as one bytes object and where each line starts and ends; a line
    is cut out of it when it is asked for. Forked processes share the text, and read their
    lines from it without copying it. (Read, not mapped: a mapped file that is cut short while
    it is read kills the process with SIGBUS.)"""

    def __init__(self, path: str):
        with open(path, "rb") as f:
            self.text = f.read()
        self.starts, self.ends = _line_bounds(self.text)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, i: int) -> bytes:
        return self.text[self.starts[i]:self.ends[i]]

    def __iter__(self) -> Iterator[bytes]:
        text = self.text
        for start, end in zip(self.starts, self.ends, strict=True):
            yield text[start:end]

    def pick(self, indexes) -> Iterator[bytes]:
        """The lines at `indexes`, in their order, each cut out as it is asked for (what a
        bucket reads: no call per line, and no list of a bucket's lines held beside the
        records parsed from them)."""
        text, starts, ends = self.text, self.starts, self.ends
        return (text[starts[i]:ends[i]] for i in indexes)


def _line_bounds(text) -> tuple[array, array]:
    """Where each line of `text` starts and ends (see FileLines), as two arrays of offsets."""
    size = len(text)
    if size == 0:
        return array("q"), array("q")
    feeds = array("q", (found.start() for found in _FEED.finditer(text)))
    first = len(_BOM) if text[:len(_BOM)] == _BOM else 0
    starts = array("q", [first])
    starts.extend(feed + 1 for feed in feeds)
    ends = array("q", feeds)
    if text[size - 1:] == b"\n":  # no line after the last line feed
        starts.pop()
    else:  # a last line without one keeps what it ends with
        ends.append(size)
    if text.find(b"\r") >= 0:
        cr = ord("\r")
        for k, feed in enumerate(feeds):
            if feed > starts[k] and text[feed - 1] == cr:
                ends[k] = feed - 1
    return starts, ends


def _ids_look_unique(text) -> bool:
    """False when the text shows an id used twice, read off the text without parsing: such a
    batch is decided the bounded way, which finds which use is the later one. True says only
    that none was seen (an id written with an escape is not read here): the buckets' own check
    of the ids catches the rest (parallel.py)."""
    ids = _ID_BYTES.findall(text)
    return len(set(ids)) == len(ids)


def decide_in_memory(engine, lines: FileLines, write: Callable[[list[bytes]], None], *, jobs: int = 1,
                     progress: Progress | None = None) -> Summary | None:
    """Decide every line of `lines`, calling write(lines) with the decisions as NDJSON lines,
    in input order, a block at a time once all are decided. None, with nothing written, where
    the input is better decided the bounded way: an id used twice (which use is the later one
    depends on the whole input), a worker that failed, memory that ran out all the same (a
    budget set too high; the bounded way needs far less)."""
    progress = progress or Progress()
    summary = Summary(in_memory=True)
    progress.phase("reading")
    progress.read(len(lines))
    progress.phase("deciding")
    with cyclic_gc_paused():
        try:
            decided = _decided(engine, lines, jobs, progress)
        except MemoryError as exc:
            forget_traceback(exc)  # (its frames hold what was decided so far)
            return None
        if decided is None:
            return None
        progress.phase("writing")
        summary.contacts = len(decided)
        for start in range(0, len(decided), CHUNK):
            emit_lines(decided[start:start + CHUNK], write, progress, summary)
    return summary


def _decided(engine, lines: FileLines, jobs: int, progress: Progress) -> list[bytes] | None:
    """Every line's decision line, in input order; None where the buckets decline."""
    if len(lines) < parallel.MIN_RECORDS:  # small: in one go, as parallel.py would
        records, errors = parse_ndjson(list(lines))
        decided, _ = engine.evaluate(records, line_errors=errors, emit=decision_line, own=True)
        progress.decided(len(decided))
        return decided
    # An id seen twice in the text sends the batch the bounded way; with workers, that is
    # looked for while they decide (it is most of the time before they could start).
    return parallel.evaluate_lines_in_processes(engine, lines, jobs, lines.text, done=progress.decided,
                                                precheck=lambda: _ids_look_unique(lines.text))


class FileInput:
    """A file of contacts (`path`, in `fmt`) made ready to be decided, one of two ways: an
    NDJSON file whose estimated peak fits `budget_mb` with `jobs` processes is read whole, to
    be decided in memory; any other is scanned (whether it is grouped by patient, and how
    many contacts it holds), to be decided in bounded memory (streaming.py). Made ready here,
    so that an input that cannot be read at all fails before any output; raises OSError, or
    FormatError for an input that is not its format. `fields`: the field table that types CSV
    cells; `name`: the input in messages."""

    def __init__(self, path: str, fmt: str, *, budget_mb: int, jobs: int, fields: dict | None = None,
                 name: str = "the input"):
        self.path, self.fmt, self.jobs, self.fields, self.name = path, fmt, jobs, fields, name
        self.lines: FileLines | None = None
        self.grouped: bool | None = None
        self.size: int | None = None  # how many contacts, where known before deciding
        if fmt == "ndjson" and fits(os.path.getsize(path), budget_mb, jobs):
            self.lines = FileLines(path)
            self.size = len(self.lines)
        else:
            self._scan()

    def _scan(self) -> None:
        rows = parquet_rows(self.path) if self.fmt == "parquet" else None
        self.grouped, count = scan_grouped(patient_keys(self.path, self.fmt, self.name))
        self.size = rows or count

    def decide(self, engine, write: Callable[[list[bytes]], None], *, folder: str | None = None,
               progress: Progress | None = None) -> Summary:
        """Decide every contact, calling write(lines) with the decisions as NDJSON lines in input
        order. In memory if the file was read whole, unless that way declines (decide_in_memory):
        then, as for any other file, in bounded memory, with temporary files in `folder`."""
        if self.lines is not None:
            summary = decide_in_memory(engine, self.lines, write, jobs=self.jobs, progress=progress)
            self.lines = None  # (its memory free for the bounded way, should that decide)
            if summary is not None:
                return summary
            self._scan()
        chunks = read_chunks(self.path, self.fmt, self.fields, name=self.name)
        return decide_stream(engine, chunks, write, grouped=self.grouped, size=self.size, jobs=self.jobs,
                             folder=folder, progress=progress)
