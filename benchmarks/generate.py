#!/usr/bin/env python3
"""Generate synthetic care contacts as NDJSON, for the speed benchmark.

The contacts follow the contact record of the evaluation contract (section 1) and cover every
bundled policy: VGR Vårdval Rehab (written, physical, video, phone contacts; group education
contacts), Halland närsjukvård, Stockholm, and contacts on the "Stöd och behandling" (SoB)
platform.

Shape of the data:

* contacts per patient are heavy-tailed (Pareto), and a handful of "heavy" patients get
  thousands of contacts each (at the default size, at least five patients have >= 2000);
* each patient belongs to one region, and has a primary unit (most contacts), a secondary unit
  (some contacts) and, rarely, a third unit of the same region;
* the file is ordered roughly by date, as an export would be: patients are interleaved, the
  contacts of one day come in random order (not by time), and about 2 % of the contacts are
  registered up to a week late, so they appear after later-dated contacts;
* facts are present most of the time; each optional fact is absent (unknown) with probability
  ``--absent`` (default 0.05);
* most contacts have a ``time``; some have none.

Deterministic for a given ``--seed`` and set of options (stdlib ``random.Random``).

    python benchmarks/generate.py --contacts 1000000 --out benchmarks/data/contacts.ndjson
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import time

START = dt.date(2025, 1, 1)
END = dt.date(2026, 12, 31)

# Heavy patients: contacts each at the default size (scaled down for small runs), and region.
HEAVY = [(6000, "vgr"), (4000, "vgr"), (3000, "halland"), (2500, "vgr"), (2000, "stockholm"),
         (2000, "vgr")]

REGION_SHARE = [("vgr", 0.45), ("halland", 0.30), ("stockholm", 0.25)]

# VGR channel mixes (cumulative weights of written, physical, video, phone).
VGR_MIXES = [(25, 65, 82, 100), (40, 72, 87, 100), (75, 83, 92, 100)]
GROUP_PROGRAMS = ["kol", "artros", "vardagsbalans", "stresskola"]
SOB_CARE_SERVICE_ADMIN = "Internetbaserat stöd och behandling 15 min"
SOB_CARE_SERVICES = [SOB_CARE_SERVICE_ADMIN, "Internetbaserat stöd och behandling 30 min",
                     "Mottagningsbesök", "Distanskontakt"]
SOB_CARE_CONTACT_TYPE = {"physical": 1, "video": 23, "phone": 24}
DIAGNOSES = ["F32.1", "F41.1", "F43.2", "F51.0", "M54.5", "M17.1", "J44.9", "C50.9", "Z71.8"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--contacts", type=int, default=1_000_000, help="number of contacts")
    p.add_argument("--patients", type=int, default=100_000, help="number of patients")
    p.add_argument("--units", type=int, default=200, help="number of care units")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--absent", type=float, default=0.05,
                   help="probability that an optional fact is absent (default 0.05)")
    p.add_argument("--out", default="-", help="output file (default: standard output)")
    p.add_argument("--quiet", action="store_true", help="no summary on standard error")
    a = p.parse_args(argv)
    if a.patients < 1 or a.units < 3 or a.contacts < a.patients:
        p.error("need --patients >= 1, --units >= 3 and --contacts >= --patients")
    return a


def contact_counts(rng: random.Random, n_contacts: int, n_patients: int) -> tuple[list[int], int]:
    """Contacts per patient: a few heavy patients, the rest Pareto-distributed (>= 1 each).

    Returns the counts and how many of the first patients are the heavy ones."""
    heavy = [c for c, _ in HEAVY][: max(0, min(len(HEAVY), n_patients // 20))]
    budget = n_contacts // 10  # the heavy patients hold at most a tenth of all contacts
    if heavy and sum(heavy) > budget:
        scale = budget / sum(heavy)
        heavy = [max(1, int(c * scale)) for c in heavy]
    n_heavy = len(heavy)
    rest = n_patients - n_heavy
    remaining = n_contacts - sum(heavy) - rest  # beyond the one contact every patient has
    cap = max(1, (heavy[-1] if heavy else n_contacts) - 1)  # ordinary patients stay below the heavy
    weights = [rng.paretovariate(1.4) - 1.0 for _ in range(rest)]
    total = sum(weights) or 1.0
    counts = [1 + min(cap - 1, int(w / total * remaining)) for w in weights]
    # Hand out what rounding and the cap left over, one contact at a time, to random patients.
    left = n_contacts - sum(heavy) - sum(counts)
    while left > 0:
        i = rng.randrange(rest)
        if counts[i] < cap:
            counts[i] += 1
            left -= 1
    return heavy + counts, n_heavy


class Generator:
    def __init__(self, args: argparse.Namespace) -> None:
        self.rng = random.Random(args.seed)
        self.absent = args.absent
        self.n_units = args.units
        self.days = (END - START).days + 1
        self.date_str = [(START + dt.timedelta(days=d)).isoformat() for d in range(self.days)]
        self.time_str = [f"{h:02d}:{m:02d}" for h in range(24) for m in range(60)]
        self.units = [f"SE2321000131-E{u:06d}" for u in range(args.units)]
        # Units by region, in proportion to the regions' shares (each region gets >= 1 unit).
        self.region_units: dict[str, list[int]] = {}
        first = 0
        for i, (region, share) in enumerate(REGION_SHARE):
            if i == len(REGION_SHARE) - 1:
                n = args.units - first
            else:
                n = max(1, round(args.units * share))
            self.region_units[region] = list(range(first, first + n))
            first += n

    # -- facts ----------------------------------------------------------------------------

    def fact(self, c: dict, name: str, p_true: float) -> None:
        """A yes/no fact, absent (unknown) with probability ``absent``."""
        r = self.rng.random()
        if r >= self.absent:
            c[name] = r < self.absent + (1.0 - self.absent) * p_true

    def choice_fact(self, c: dict, name: str, values: list, cum: list[float]) -> None:
        """A fact with one of ``values``, picked by cumulative weights ``cum``."""
        rng = self.rng
        if rng.random() >= self.absent:
            c[name] = rng.choices(values, cum_weights=cum)[0]

    # -- patients -------------------------------------------------------------------------

    def patient(self, idx: int, region: str | None) -> tuple:
        rng = self.rng
        if region is None:
            r = rng.random()
            acc = 0.0
            for name, share in REGION_SHARE:
                acc += share
                region = name
                if r < acc:
                    break
        units = self.region_units[region]
        primary = rng.choice(units)
        secondary = rng.choice(units)
        third = rng.choice(units)
        if region == "vgr":
            care_choice = "rehab" if rng.random() < 0.92 else "vardcentral"
        elif region == "halland":
            care_choice = "narsjukvard" if rng.random() < 0.95 else "specialistvard"
        else:
            care_choice = None if rng.random() < 0.5 else "vardcentral"
        # Some patients are treated on the SoB platform (internet-based support and treatment).
        sob = rng.random() < 0.08
        # How much of the patient's care is written (VGR): most patients mix channels, some
        # are mostly treated through written contacts and seldom visit the unit.
        r = rng.random()
        mix = VGR_MIXES[0 if r < 0.45 else 1 if r < 0.85 else 2]
        return (f"p{idx:06d}", region, care_choice, primary, secondary, third, sob, mix)

    # -- contacts -------------------------------------------------------------------------

    def contact(self, seq: int, pat: tuple, day: int) -> dict:
        rng = self.rng
        pid, region, care_choice, primary, secondary, third, sob, mix = pat
        r = rng.random()
        unit = primary if r < 0.85 else secondary if r < 0.99 else third
        c: dict = {"id": f"c{seq}", "patient": pid, "unit": self.units[unit], "region": region}
        if care_choice is not None:
            c["care_choice"] = care_choice
        c["date"] = self.date_str[day]
        if rng.random() < 0.9:  # office hours, mostly
            c["time"] = self.time_str[rng.randrange(7 * 60, 19 * 60)]
        if sob and rng.random() < 0.5:
            self.sob_contact(c)
        elif region == "vgr":
            self.vgr_contact(c, care_choice == "rehab", mix)
        elif region == "halland":
            self.halland_contact(c)
        else:
            self.stockholm_contact(c)
        return c

    def vgr_contact(self, c: dict, rehab: bool, mix: tuple) -> None:
        rng = self.rng
        ch = rng.choices(("written", "physical", "video", "phone"), cum_weights=mix)[0]
        c["channel"] = ch
        if ch in ("physical", "video") and rehab and rng.random() < 0.12:
            c["group"] = True
            prog = GROUP_PROGRAMS[rng.randrange(4)]
            c["group_program"] = prog
            if rng.random() >= self.absent:
                c["group_part"] = "theory" if rng.random() < 0.6 else "training"
            if rng.random() >= self.absent:
                lob = rng.random() < (0.5 if prog in ("kol", "artros") else 0.1)
                c["method"] = "lara_och_bemastra" if lob else "annan"
            if prog == "stresskola":
                self.fact(c, "therapist_ism_trained", 0.9)
                self.fact(c, "therapist_experienced", 0.85)
                self.fact(c, "follow_up_as_planned", 0.9)
                self.fact(c, "material_protected", 0.95)
            self.fact(c, "documented", 0.97)
            if rng.random() < 0.8:
                c["duration_minutes"] = rng.choice((45, 60, 90))
            return
        if ch == "written" or rng.random() < 0.5:
            self.fact(c, "dialogue", 0.96)
            self.fact(c, "content_equivalent_to_visit", 0.95)
            self.fact(c, "medical_assessment", 0.96)
            self.fact(c, "documented", 0.97)
            self.fact(c, "regular_staff", 0.97)
        if ch != "written" and rng.random() < 0.7:
            c["duration_minutes"] = rng.randrange(10, 61, 5)

    def halland_contact(self, c: dict) -> None:
        rng = self.rng
        ch = rng.choices(("physical", "video", "phone", "written", "letter"),
                         cum_weights=(35, 50, 75, 90, 100))[0]
        c["channel"] = ch
        if ch != "physical":
            self.fact(c, "replaces_physical_visit", 0.85)
            self.fact(c, "content_equivalent_to_visit", 0.9)
            self.fact(c, "fee_informed", 0.9)
            self.fact(c, "test_result_only", 0.08)
            self.fact(c, "treatment_discussed", 0.85)
            self.fact(c, "booked", 0.8)
            self.choice_fact(c, "identity_verification", ["bankid", "id_document", "none"],
                             [0.8, 0.95, 1.0])
            self.fact(c, "dialogue", 0.95)
        self.fact(c, "documented", 0.97)
        if rng.random() >= self.absent:
            c["duration_minutes"] = rng.randrange(0, 61)
        if rng.random() < 0.3:
            self.fact(c, "patient_fee_charged", 0.7)

    def stockholm_contact(self, c: dict) -> None:
        rng = self.rng
        ch = rng.choices(("physical", "video", "phone", "written", "letter"),
                         cum_weights=(40, 65, 85, 95, 100))[0]
        c["channel"] = ch
        self.fact(c, "channel_meets_medical_need", 0.9)
        self.choice_fact(c, "patient_preference", ["physical", "digital", "none"], [0.3, 0.9, 1.0])
        self.fact(c, "documented", 0.97)
        if rng.random() < 0.5:
            c["duration_minutes"] = rng.randrange(5, 46, 5)

    def sob_contact(self, c: dict) -> None:
        rng = self.rng
        c["platform"] = "sob"
        admin = rng.random() < 0.45
        c["channel"] = ("written" if admin else
                        rng.choices(("written", "video", "phone", "physical"),
                                    cum_weights=(50, 70, 90, 100))[0])
        if rng.random() >= self.absent:
            c["sob_activity"] = "administration" if admin else "care"
        # What the unit registered: mostly right, sometimes not.
        if admin:
            c["contact_type"] = 12 if rng.random() < 0.9 else 24
            c["care_service"] = SOB_CARE_SERVICE_ADMIN if rng.random() < 0.9 else "Distanskontakt"
            c["kva"] = [] if rng.random() < 0.8 else ["ZV044"]
            if rng.random() < 0.5:
                c["diagnoses"] = []
            self.fact(c, "patient_fee_charged", 0.05)
        else:
            right = SOB_CARE_CONTACT_TYPE.get(c["channel"])
            c["contact_type"] = (right if right and rng.random() < 0.9
                                 else rng.choice((1, 12, 23, 24)))
            c["care_service"] = rng.choice(SOB_CARE_SERVICES)
            kva = []
            if rng.random() < 0.8:
                kva.append("ZV051")
            if rng.random() < 0.5:
                kva.append("ZV044")
            if rng.random() < 0.05:
                plan = "established" if rng.random() < 0.6 else "revised"
                c["cancer_care_plan"] = plan
                if rng.random() < 0.8:
                    kva.append("XV019" if plan == "established" else "XV020")
            c["kva"] = kva
            c["diagnoses"] = ([] if rng.random() < 0.1
                              else [DIAGNOSES[rng.randrange(len(DIAGNOSES))]])
            self.fact(c, "patient_fee_charged", 0.85)
            self.fact(c, "dialogue", 0.95)
            self.fact(c, "documented", 0.97)

    # -- the whole file -------------------------------------------------------------------

    def run(self, n_contacts: int, n_patients: int, out) -> dict:
        rng = self.rng
        days = self.days
        counts, n_heavy = contact_counts(rng, n_contacts, n_patients)
        patients = [self.patient(i, HEAVY[i][1] if i < n_heavy else None)
                    for i in range(n_patients)]
        # Which day each contact is registered on: buckets[day] holds patient*8 + lag, where
        # the contact's own date is day - lag (a late registration).
        buckets: list[list[int]] = [[] for _ in range(days + 8)]
        for p, n in enumerate(counts):
            if n >= 200:
                start, span = 0, days
            else:
                span = min(days, max(7, int(n * rng.uniform(4.0, 30.0))))
                start = rng.randrange(days - span + 1)
            base = p * 8
            for _ in range(n):
                d = start + int(rng.random() * span)
                if rng.random() < 0.02:
                    lag = rng.randrange(1, 8)
                    buckets[d + lag].append(base + lag)
                else:
                    buckets[d].append(base)
        encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        seq = 0
        lines: list[str] = []
        write = out.write
        contact = self.contact
        for reg_day, bucket in enumerate(buckets):
            rng.shuffle(bucket)
            for v in bucket:
                seq += 1
                lines.append(encode(contact(seq, patients[v >> 3], reg_day - (v & 7))))
            if len(lines) >= 20000:
                lines.append("")
                write("\n".join(lines))
                lines.clear()
        if lines:
            lines.append("")
            write("\n".join(lines))
        return {"contacts": seq, "patients": n_patients, "units": self.n_units,
                "heaviest": sorted(counts, reverse=True)[:8]}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t0 = time.perf_counter()
    gen = Generator(args)
    if args.out == "-":
        sys.stdout.reconfigure(encoding="utf-8", newline="\n")
        try:
            summary = gen.run(args.contacts, args.patients, sys.stdout)
            sys.stdout.flush()
        except BrokenPipeError:  # e.g. piped into head
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0
    else:
        with open(args.out, "w", encoding="utf-8", newline="\n") as f:
            summary = gen.run(args.contacts, args.patients, f)
    if not args.quiet:
        print(f"generated {summary['contacts']:,} contacts, {summary['patients']:,} patients, "
              f"{summary['units']} units in {time.perf_counter() - t0:.1f} s; "
              f"largest patients: {summary['heaviest']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
