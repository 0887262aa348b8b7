"""Personal data in what regelverk says: which fields identify a person, and how a value is echoed.

A field identifies a person when the contact schema marks it `x-identifying` (the contract's
`id` and `patient`; a repository's declared facts with `identifying: true`). Its value is never
repeated in an error or a message: an error says what kind of value it was. Any other value is
echoed shortened, and a value that looks like a Swedish personal identity number (personnummer
or samordningsnummer, with or without century and separator) is never echoed, wherever it was.
"""

from __future__ import annotations

import math
import re
from datetime import date, time, timedelta
from decimal import Decimal

# Anywhere in a text, YYMMDD-NNNN, YYYYMMDDNNNN, YYMMDD+NNNN, … : ten or twelve digits, a
# separator optional, no date or check digit asked (looks_personal: never echo such a text).
_PERSONNUMMER_ANYWHERE = re.compile(r"(?<!\d)(?:\d{2})?\d{6}[-+ ]?\d{4}(?!\d)")
ECHO_MOST = 40  # characters of a value an error repeats


def identifying_fields(contact_schema: dict) -> frozenset[str]:
    """The fields of a contact schema that identify a person (x-identifying)."""
    return frozenset(name for name, spec in contact_schema.get("properties", {}).items()
                     if isinstance(spec, dict) and spec.get("x-identifying"))


def looks_personal(text: str) -> bool:
    """Whether a text holds anything shaped like a personnummer: the loose test, for what an
    error may echo (looks_like_personnummer is the strict one, for refusing a patient id)."""
    return bool(_PERSONNUMMER_ANYWHERE.search(text))


def kind_of(value) -> str:
    """The kind of a JSON value in words, without the value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float, Decimal)):
        return "a number"
    if isinstance(value, str):
        return "a text"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, timedelta):
        return "a duration"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "binary data"
    return "a value"


def _duration_words(value: timedelta) -> str:
    """A duration as a person says it: "1 hour 30 minutes", "5 seconds", "minus 2 days"."""
    micros = (value.days * 86400 + value.seconds) * 10**6 + value.microseconds
    sign = "minus " if micros < 0 else ""
    seconds, fraction = divmod(abs(micros), 10**6)
    minutes, second = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    days, hour = divmod(hours, 24)
    parts = [f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in ((days, "day"), (hour, "hour"), (minute, "minute"))
             if n]
    if second or fraction or not parts:
        amount = f"{second}.{fraction:06d}".rstrip("0") if fraction else str(second)
        parts.append(f"{amount} second{'' if amount == '1' else 's'}")
    return sign + " ".join(parts)


def _as_written(value) -> str:
    """A value of no JSON kind (from a Parquet column or a DataFrame) as a person writes it,
    not as Python's repr: the decimal 5.0, a duration in words, a date in ISO form."""
    if isinstance(value, Decimal):
        # (5.0 and 1000 as written, not 1E+3; an exponent past 40 digits as Python writes it)
        plain = value.is_finite() and abs(value.as_tuple().exponent) <= ECHO_MOST
        return f"the decimal number {format(value, 'f') if plain else value}"
    if isinstance(value, timedelta):
        return f"a duration of {_duration_words(value)}"
    if isinstance(value, (date, time)):
        return value.isoformat()
    return str(value)


def echo(value, identifying: bool = False) -> str:
    """A value as an error may repeat it: its kind alone for an identifying field or for what
    looks like a personal identity number; else its JSON-ish text, shortened."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return "an object" if isinstance(value, dict) else "a list"
    if isinstance(value, float) and math.isinf(value):
        return "a number too large to hold"
    if identifying:
        return kind_of(value)
    if isinstance(value, int) and abs(value) >= 10 ** 40:
        return "a number of more than 40 digits"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"binary data ({len(value)} bytes)"  # (never its bytes: they may be anything)
    text = repr(value) if isinstance(value, (str, int, float)) else _as_written(value)
    if looks_personal(text):
        return f"{kind_of(value)} that looks like a personal identity number"
    return text if len(text) <= ECHO_MOST else text[:ECHO_MOST - 3] + "..."


# Contract §1: patient ids are pseudonymous. A personnummer (or samordningsnummer) given as
# one is refused, and never repeated back: not in the error, not in a log.
PERSONNUMMER_MESSAGE = ("looks like a personnummer (a valid date and check digit); send the "
                        "pseudonymous patient id instead (the value is not repeated here)")
_PERSONNUMMER_WHOLE = re.compile(r"(\d{2})?(\d{2})(\d{2})(\d{2})[-+ ]?(\d{4})")


def looks_like_personnummer(text: str) -> bool:
    """Whether `text` is written as a Swedish personnummer or samordningsnummer: YYMMDD-NNNN,
    YYMMDD+NNNN, YYMMDDNNNN, YYYYMMDDNNNN or YYYYMMDD-NNNN, with a real date (the day plus
    60 in a samordningsnummer) and a right Luhn check digit; a space may stand for the dash,
    and white space around it changes nothing (" 19121212-1212\n" is one too). Quick to say
    no for a text that starts with neither a digit nor white space (most pseudonymous ids)."""
    if not (text[:1].isdigit() or text[:1].isspace()):
        return False
    found = _PERSONNUMMER_WHOLE.fullmatch(text.strip())
    if found is None:
        return False
    century, yy, mm, dd, tail = found.groups()
    day = int(dd) - 60 if int(dd) > 60 else int(dd)
    try:  # (without the century, 20YY: a leap year exactly when 19YY was or 18YY would be)
        date(int(century + yy) if century else 2000 + int(yy), int(mm), day)
    except ValueError:
        return False
    digits = yy + mm + dd + tail
    total = 0
    for position, digit in enumerate(digits):
        value = int(digit) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0
