#!/usr/bin/env python3
"""Hand-written baseline: the VGR rehab written-contact decision, without the engine.

A dedicated, single-process script that computes only what policy
``vgr-rehab-written-contact`` 4.0 decides, the way one would write it by hand for that one
guideline. The benchmark compares the evaluator against it.

For a contact with region ``vgr``, care_choice ``rehab`` and channel ``written``, dated
2025-01-30 to 2027-01-30 (the version in force):

* qualification: ``dialogue``, ``content_equivalent_to_visit``, ``medical_assessment``,
  ``documented`` and ``regular_staff`` all true -> reimbursable; any false -> not; otherwise
  (one unknown, none false) -> null;
* three caps, per patient and unit, counting only earlier written contacts that were themselves
  reimbursable: at most 1 per ISO week, at most 10 dated after the contact's date minus 12
  calendar months (month end clamped), at most 5 since the patient's latest physical visit at
  the same unit. A cap reached -> not reimbursable (whatever the qualification facts say).

Every other contact gets ``null``. Order per the contract (section 2): per patient by date, then
time (no time first), then input order.

Reads NDJSON (a file, or standard input); writes one line per input line, in input order:
``{"contact": "<id>", "reimbursable": true|false|null}``.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections import defaultdict, deque

VALID_FROM = "2025-01-30"
VALID_TO = "2027-01-30"
MAX_PER_WEEK = 1
MAX_PER_TWELVE_MONTHS = 10
MAX_SINCE_PHYSICAL = 5
FACTS = ("dialogue", "content_equivalent_to_visit", "medical_assessment", "documented",
         "regular_staff")

PHYSICAL = 0
WRITTEN = 1


class Day:
    """What the caps need to know about a date, computed once per distinct date."""

    __slots__ = ("ordinal", "week", "window_start")

    def __init__(self, s: str) -> None:
        d = dt.date.fromisoformat(s)
        self.ordinal = d.toordinal()
        iso = d.isocalendar()
        self.week = (iso[0], iso[1])
        # date minus 12 calendar months; only 29 February needs clamping.
        day = 28 if (d.month == 2 and d.day == 29) else d.day
        self.window_start = dt.date(d.year - 1, d.month, day).toordinal()


def qualification(c: dict):
    result = True
    for f in FACTS:
        v = c.get(f)
        if v is False:
            return False
        if v is not True:
            result = None
    return result


def main(argv: list[str]) -> int:
    if len(argv) > 1 and argv[1] != "-":
        src = open(argv[1], encoding="utf-8")
    else:
        sys.stdin.reconfigure(encoding="utf-8")
        src = sys.stdin
    ids: list = []
    result: list = []
    # (patient, unit) -> [(date, time, input index, kind, qualification)]
    groups: dict[tuple, list] = defaultdict(list)
    loads = json.loads
    with src:
        for i, line in enumerate(src):
            try:
                c = loads(line)
                cid = c["id"]
                channel = c["channel"]
            except (ValueError, TypeError, KeyError):
                ids.append(None)
                result.append(None)
                continue
            ids.append(cid)
            result.append(None)
            if channel == "physical":
                groups[(c["patient"], c["unit"])].append(
                    (c["date"], c.get("time", ""), i, PHYSICAL, None))
            elif (channel == "written" and c["region"] == "vgr"
                  and c.get("care_choice") == "rehab"):
                groups[(c["patient"], c["unit"])].append(
                    (c["date"], c.get("time", ""), i, WRITTEN, qualification(c)))

    days: dict[str, Day] = {}
    for events in groups.values():
        if len(events) > 1:
            events.sort()
        reimbursed = deque()       # ordinals of reimbursed written contacts in the 12-month window
        week = None                # ISO week of the latest reimbursed contact ...
        in_week = 0                # ... and how many were reimbursed in it
        since_physical = 0         # reimbursed since the latest physical visit
        for date, _time, i, kind, qual in events:
            if kind == PHYSICAL:
                since_physical = 0
                continue
            if not (VALID_FROM <= date <= VALID_TO):
                continue           # no version in force: no decision, and it does not count
            d = days.get(date)
            if d is None:
                d = days[date] = Day(date)
            while reimbursed and reimbursed[0] <= d.window_start:
                reimbursed.popleft()
            if qual is False:
                decision = False
            elif (since_physical >= MAX_SINCE_PHYSICAL
                  or len(reimbursed) >= MAX_PER_TWELVE_MONTHS
                  or (week == d.week and in_week >= MAX_PER_WEEK)):
                decision = False
            else:
                decision = qual
            result[i] = decision
            if decision:
                reimbursed.append(d.ordinal)
                since_physical += 1
                if week == d.week:
                    in_week += 1
                else:
                    week, in_week = d.week, 1

    out = sys.stdout
    dumps = json.dumps
    buf = []
    for cid, r in zip(ids, result, strict=True):
        buf.append(dumps({"contact": cid, "reimbursable": r}))
        if len(buf) >= 50000:
            buf.append("")
            out.write("\n".join(buf))
            buf.clear()
    if buf:
        buf.append("")
        out.write("\n".join(buf))
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
