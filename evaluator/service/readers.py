"""A batch's body, read per content type into records: NDJSON here; other formats plug in with register_reader."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import Code
from ..running.formats import MEDIA_ALIASES
from ..running.ndjson import parse_ndjson, split_ndjson


class LimitExceeded(Exception):
    """A limit a request went over: its HTTP status, stable code and message."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    @property
    def closes(self) -> bool:
        """Whether the answer closes the connection: the body was left unread, in part (too
        slow, too large) or whole (compressed), so no next request can be read after it."""
        return self.status in (408, 413, 415)


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int
    max_line_bytes: int


# A reader: (the whole body, the limits, the policy set's field table) -> (records, errors by
# index) as ndjson.parse_ndjson gives them: one record (a dict, or None where unreadable) per
# input item, in input order. The field table types the cells of tabular formats (CSV).
Reader = Callable[[bytes, Limits, dict], tuple[list, dict]]
READERS: dict[str, Reader] = {}


def register_reader(content_type: str, reader: Reader) -> None:
    """Let POST /evaluate take bodies of `content_type` (its media type, lower case)."""
    READERS[content_type.lower()] = reader


def reader_for(content_type: str | None) -> Reader | None:
    """The reader of a Content-Type header's media type (parameters such as charset ignored);
    no Content-Type at all is read as NDJSON, as curl --data-binary sends it."""
    if not content_type:
        return READERS["application/x-ndjson"]
    return READERS.get(content_type.split(";", 1)[0].strip().lower())


def read_ndjson(body: bytes, limits: Limits, fields: dict | None = None) -> tuple[list, dict]:
    lines = split_ndjson(body)
    for number, line in enumerate(lines, start=1):
        if len(line) > limits.max_line_bytes:
            raise LimitExceeded(413, Code.LINE_TOO_LARGE, f"line {number} is {len(line):,} bytes; a line may "
                                f"have at most {limits.max_line_bytes:,} (setting max_line_bytes)")
    return parse_ndjson(lines)


class UnreadableBody(Exception):
    """A body that cannot be read as its format at all (not Parquet, a CSV without a header):
    a 400 with the reason."""


def _tabular(fmt: str) -> Reader:
    def read(body: bytes, limits: Limits, fields: dict | None = None) -> tuple[list, dict]:
        import io

        from ..running.formats import FormatError, read_chunks

        records: list = []
        errors: dict = {}
        try:
            for chunk in read_chunks(io.BytesIO(body), fmt, fields or {}, name="the body"):
                for k, problems in chunk.errors.items():
                    errors[len(records) + k] = problems
                records.extend(chunk.records)
        except FormatError as exc:
            raise UnreadableBody(str(exc)) from None
        return records, errors
    return read


# Every media type of the formats' one table (formats.MEDIA_ALIASES): NDJSON, and CSV (typed by
# the contact's fields and the repository's declared facts) and Parquet as `regelverk evaluate`
# reads them. And NDJSON for what a client sends when told nothing: text/plain; curl -d and
# --data-binary send form-urlencoded, -T octet-stream.
for _type, _fmt in MEDIA_ALIASES.items():
    register_reader(_type, read_ndjson if _fmt == "ndjson" else _tabular(_fmt))
for _type in ("text/plain", "application/x-www-form-urlencoded", "application/octet-stream"):
    register_reader(_type, read_ndjson)
