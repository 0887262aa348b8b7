"""The documented import path of the data formats (docs/data.md); the code is in running/formats.py."""

from .running.formats import (
    FORMATS,
    MEDIA_TYPES,
    DecisionWriter,
    FormatError,
    decide_bytes,
    decisions_frame,
    format_of,
    open_writer,
    output_kinds,
    read_chunks,
    read_contacts,
    read_decisions,
    records_from_frame,
)

__all__ = ["FORMATS", "MEDIA_TYPES", "DecisionWriter", "FormatError", "decide_bytes", "decisions_frame",
           "format_of", "open_writer", "output_kinds", "read_chunks", "read_contacts", "read_decisions",
           "records_from_frame"]
