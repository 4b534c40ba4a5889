#!/usr/bin/env python
"""Stream a large synthetic 837P or 837I file for benchmarks.

    python benchmarks/generate.py --claims 100000 --kind 837P --out /tmp/big.x12 \
        [--lines-per-claim 3] [--claims-per-st 5000] [--seed 0]

or, from Python::

    from generate import generate      # with benchmarks/ on sys.path
    generate("/tmp/big.x12", 100000, "837P", lines_per_claim=3, claims_per_st=5000, seed=0)

The file is written incrementally (one subscriber at a time), so memory stays
flat whatever N is.  One ISA/GS; a new ST every ``claims_per_st`` claims.
All data are SYNTHETIC.  Service dates fall in 2025; the creation date is
2026-01-15, after every service date.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent))

import x12gen as g  # noqa: E402
from x12gen import Claim, Line, Payer, Person, Provider, SubscriberGroup, Writer  # noqa: E402

CREATED = dt.datetime(2026, 1, 15, 6, 0)
FIRST_SERVICE = dt.date(2025, 1, 2)
LAST_SERVICE = dt.date(2025, 12, 31)

LAST_NAMES = ["DOE", "ROE", "SMITH", "JONES", "GARCIA", "NGUYEN", "PATEL", "KOWALSKI", "OKAFOR", "LINDQVIST",
              "MORENO", "TANAKA", "BROWN", "MILLER", "WILSON", "RIVERA"]
FIRST_NAMES = ["JANE", "JOHN", "ALEX", "SAM", "MARY", "RICHARD", "LEE", "AVA", "NOAH", "MAYA", "OMAR", "IRIS",
               "PAT", "ROBIN", "CASEY", "JORDAN"]
PAYERS = [Payer("SYNTHETIC HEALTH PLAN", "SYNHP1", "CI", "GRP00417"),
          Payer("SYNTHETIC MEDICARE CONTRACTOR", "SYNMC9", "MB"),
          Payer("SYNTHETIC MEDICAID PLAN", "SYNMD3", "MC")]

# 837P
PRACTICE = Provider("SYNAPSE PSYCHIATRY ASSOCIATES", g.npi("158273940"), "2084P0800X",
                    address="400 CORTEX AVE STE 2", zip9="627040123", ein="990012345")
RENDERERS = [Provider("MORROW", g.npi("132450987"), "2084P0800X", first="ELLEN"),
             Provider("OKAFOR", g.npi("167203948"), "2084P0800X", first="SAMUEL"),
             Provider("LINDQVIST", g.npi("189234756"), "363LP0808X", first="HANNA")]
CRNA = Provider("VANCE", g.npi("176309452"), "367500000X", first="PETER")
HOSPITAL_FACILITY = Provider("RIVERBEND GENERAL HOSPITAL", g.npi("121098765"), "282N00000X",
                             address="900 RIVERBEND BLVD", zip9="627030789")
# 837I
FACILITY = Provider("LAKESIDE BEHAVIORAL HOSPITAL", g.npi("149620385"), "283Q00000X",
                    address="1 LAKESIDE DR", zip9="627020456", ein="990023456")

PRICES = {"90867": 45000, "90868": 30000, "90869": 35000, "90870": 60000, "00104": 80000,
          "90834": 16000, "99213": 12000}
TMS_DX = ["F332", "F331", "F322", "F321"]
OTHER_DX = ["F411", "F4310", "F319", "F332"]  # billable codes only
REVENUE = {"90867": "0900", "90868": "0919", "90869": "0919", "90870": "0901", "00104": "0370",
           "90834": "0914", "99213": "0510"}


class _Dates:
    """Strictly increasing service dates for one patient, kept inside 2025."""

    def __init__(self, rng: random.Random, needed: int):
        span = (LAST_SERVICE - FIRST_SERVICE).days
        start = rng.randrange(max(1, span - needed))
        self.day = FIRST_SERVICE + dt.timedelta(days=start)

    def next(self) -> dt.date:
        d = self.day
        if d < LAST_SERVICE:
            self.day = d + dt.timedelta(days=1)
        return d


def _claim_plan(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.55:
        return "tms"
    if r < 0.75:
        return "ect"
    return "psych"


def _claims_for(rng: random.Random, kind: str, n_claims: int, lines: int, next_id: Iterator[str]) -> list[Claim]:
    dates = _Dates(rng, n_claims * lines)
    plan = _claim_plan(rng)
    tms_started = False
    out: list[Claim] = []
    for _ in range(n_claims):
        codes: list[str] = []
        for _ in range(lines):
            if plan == "tms":
                if not tms_started:
                    codes.append("90867")
                    tms_started = True
                else:
                    codes.append("90869" if rng.random() < 0.05 else "90868")
            elif plan == "ect":
                codes.append("90870")
            else:
                codes.append(rng.choice(["90834", "99213"]))
        dx = [rng.choice(TMS_DX)] if plan != "psych" else [rng.choice(OTHER_DX)]
        if rng.random() < 0.3:
            dx.append("F411")
        clm_id = next(next_id)
        if kind == "837P":
            pos = "22" if plan == "ect" else "11"
            ls = [Line(c, PRICES[c], dates.next(), pos=pos, pointers=(1,)) for c in codes]
            rendering = rng.choice(RENDERERS[:2] if plan != "psych" else RENDERERS)
            out.append(Claim(clm_id, ls, dx, pos, rendering=rendering,
                             facility=HOSPITAL_FACILITY if plan == "ect" else None))
            if plan == "ect" and rng.random() < 0.5:
                # matching anesthesia claim for the first ECT date, CRNA rendering
                day = ls[0].date
                anes = Line("00104", PRICES["00104"], day, units=str(rng.randint(15, 40)), unit_basis="MJ",
                            modifiers=("QZ",), pos="22")
                out.append(Claim(next(next_id), [anes], dx, "22", rendering=CRNA, facility=HOSPITAL_FACILITY))
        else:
            ls = [Line(c, PRICES[c] * 2, dates.next(), revenue=REVENUE[c]) for c in codes]
            if plan == "ect" and rng.random() < 0.5:
                ls.append(Line("00104", 70000, ls[0].date, revenue="0370"))
            first = min(l.date for l in ls)
            last = max(l.date for l in ls)
            out.append(Claim(clm_id, ls, dx, "13", "1", attending=rng.choice(RENDERERS[:2]),
                             statement=(first, last), cl1=("", "1", "01"), reason_dx=dx[0]))
    return out


def _person(rng: random.Random, n: int, adult: bool = True) -> Person:
    if adult:
        dob = dt.date(rng.randint(1945, 2000), rng.randint(1, 12), rng.randint(1, 28))
    else:
        dob = dt.date(rng.randint(2005, 2008), rng.randint(1, 12), rng.randint(1, 28))
    return Person(rng.choice(LAST_NAMES), rng.choice(FIRST_NAMES), dob, rng.choice("FM"),
                  f"SYN{n:09d}" if adult else "", f"{rng.randint(1, 9999)} SYNTHETIC ST",
                  "SPRINGFIELD", "IL", "62704")


def _groups(rng: random.Random, kind: str, n_claims: int, lines: int, counter: dict) -> Iterator[SubscriberGroup]:
    """Yield subscriber groups until n_claims claims have been produced (lazy)."""
    left = n_claims
    prefix = "P" if kind == "837P" else "I"

    def ids() -> Iterator[str]:
        while True:
            counter["clm"] += 1
            yield f"{prefix}{counter['clm']:09d}"

    next_id = ids()
    while left > 0:
        counter["sub"] += 1
        want = min(left, rng.randint(1, 4))
        claims = _claims_for(rng, kind, want, lines, next_id)
        # the anesthesia companion claims may overshoot: trim to the budget
        claims = claims[:left]
        left -= len(claims)
        counter["claims"] += len(claims)
        sub = _person(rng, counter["sub"])
        dependent = rng.random() < 0.25
        yield SubscriberGroup(sub, rng.choice(PAYERS), claims,
                              patient=_person(rng, counter["sub"], adult=False) if dependent else None)


def generate(path, claims: int, kind: str, lines_per_claim: int = 3, claims_per_st: int = 5000,
             seed: int = 0) -> dict:
    """Write a synthetic 837 of ``claims`` claims to ``path``; return simple stats."""
    kind = kind.upper()
    if kind not in g.VERSION:
        raise ValueError("kind must be 837P or 837I")
    if claims < 1 or lines_per_claim < 1 or claims_per_st < 1:
        raise ValueError("claims, lines_per_claim and claims_per_st must be >= 1")
    if kind == "837P" and lines_per_claim > 50:
        raise ValueError("837P allows at most 50 service lines per claim")
    if lines_per_claim > 999:
        raise ValueError("837I allows at most 999 service lines per claim")
    rng = random.Random(seed)
    counter = {"clm": 0, "sub": 0, "claims": 0}
    n_st = 0
    with open(path, "w", encoding="ascii", newline="", buffering=1 << 20) as fh:
        w = Writer(fh)
        g.write_isa(w, 1, CREATED)
        g.write_gs(w, 1, CREATED, kind)
        left = claims
        while left > 0:
            n = min(left, claims_per_st)
            n_st += 1
            st_ctl = f"{n_st:04d}"
            billing = PRACTICE if kind == "837P" else FACILITY
            g.write_transaction(w, kind, st_ctl, CREATED, f"BENCH{n_st:06d}", billing,
                                _groups(rng, kind, n, lines_per_claim, counter))
            left -= n
        g.write_ge(w, n_st, 1)
        g.write_iea(w, 1, 1)
    return {"claims": counter["claims"], "transactions": n_st, "subscribers": counter["sub"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--claims", type=int, required=True)
    ap.add_argument("--kind", choices=["837P", "837I", "837p", "837i"], required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--lines-per-claim", type=int, default=3)
    ap.add_argument("--claims-per-st", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    stats = generate(a.out, a.claims, a.kind, a.lines_per_claim, a.claims_per_st, a.seed)
    print(f"wrote {a.out}: {stats['claims']} claims, {stats['transactions']} ST, {stats['subscribers']} subscribers",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
