"""Runtime state of deciding a patient's contacts: entries, the context rules run on, history buckets."""

from __future__ import annotations

from dataclasses import dataclass, field


class Entry:
    """A contact in a patient's history: its facts, its place and, once decided, its outputs."""

    __slots__ = ("id", "contact", "date", "ordinal", "index", "outputs")

    def __init__(self, contact: dict, index: int, ordinal: int | None = None):
        """`ordinal`: the date's (date.toordinal), where the caller has it already."""
        self.id = contact["id"]
        self.contact = contact
        self.date = d = contact["date"]
        self.ordinal = d.toordinal() if ordinal is None else ordinal
        self.index = index
        self.outputs: dict = {}


@dataclass
class Trace:
    """What a traced run saw: facts that were missing, history contacts that were used."""

    missing: list[str] = field(default_factory=list)
    evidence: list[Entry] = field(default_factory=list)
    # The evidence as a set, so that a count using many contacts is not quadratic (an Entry
    # hashes and compares by identity).
    _used: set = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._used = set(self.evidence)

    def miss(self, what: str) -> None:
        if what not in self.missing:
            self.missing.append(what)

    def use(self, entry: Entry) -> None:
        if entry not in self._used:
            self._used.add(entry)
            self.evidence.append(entry)


class Context:
    """The contact being decided, the patient's earlier contacts, and scratch space. One
    context serves all of a patient's contacts in turn: `at` moves it to the next one."""

    __slots__ = ("cur", "contact", "history", "ordinals", "row", "trace", "scratch", "memo", "indexes", "keyed",
                 "key_functions")

    def __init__(self, cur: Entry | None, history: list[Entry], ordinals: list[int], trace: Trace | None = None,
                 memo: dict | None = None, key_functions: dict | None = None):
        self.cur = cur
        self.contact = cur.contact if cur is not None else None
        self.history = history
        self.ordinals = ordinals
        self.row: Entry | None = None
        self.trace = trace
        self.scratch: dict = {}
        # Per patient, kept across that patient's contacts: where `since latest` anchors were
        # found, so each contact scans only the history added since the previous one.
        self.memo = memo
        # Per patient: field combination -> values -> Bucket of earlier contacts, for the
        # combinations a count has asked for (see index); None: no buckets (the history is
        # scanned whole). `keyed`: (buckets, key function) of each, for the engine to add each
        # decided contact to; `key_functions`: field combination -> key function.
        self.key_functions = key_functions
        self.indexes: dict | None = {} if key_functions is not None else None
        self.keyed: list = []

    def index(self, fields: tuple) -> dict:
        """The buckets of the patient's history by `fields` (on a context that keeps buckets),
        built from the history when a count first asks for them and kept up to date from then
        on (the engine adds each decided contact to every index in `keyed`): a patient whose
        contacts no count looks at costs no buckets."""
        buckets = self.indexes.get(fields)
        if buckets is not None:
            return buckets
        key_of = self.key_functions[fields]
        buckets = {}
        for entry in self.history:
            file_entry(buckets, key_of, entry)
        self.indexes[fields] = buckets
        self.keyed.append((buckets, key_of))
        return buckets

    def at(self, cur: Entry) -> Context:
        """The context for deciding `cur`, the patient's next contact. Scratch values are
        written by each count before it reads them, so nothing of the previous contact leaks."""
        self.cur = cur
        self.contact = cur.contact
        return self


class Bucket:
    """The earlier contacts of one patient that share the values of some required fields."""

    __slots__ = ("entries", "ordinals", "indices")

    def __init__(self):
        self.entries: list[Entry] = []
        self.ordinals: list[int] = []
        self.indices: list[int] = []


def file_entry(buckets: dict, key_of, entry: Entry) -> None:
    """Add a decided contact to the bucket of its key (key_of(entry)) in `buckets`."""
    key = key_of(entry)
    bucket = buckets.get(key)
    if bucket is None:
        bucket = buckets[key] = Bucket()
    # (no method call: this runs for every contact and every index of its patient)
    bucket.entries.append(entry)
    bucket.ordinals.append(entry.ordinal)
    bucket.indices.append(entry.index)
