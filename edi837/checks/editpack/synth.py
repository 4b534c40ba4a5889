"""A tiny builder of SYNTHETIC 837P/837I text for edit-pack tests and examples.

Invented people, payers and providers only.  ``build(kind, claims, ...)``
returns bytes for :meth:`Engine.run_file`.
"""

from __future__ import annotations

from typing import Any

PSYCH_NPI = "1324509870"
BILLING_NPI = "1582739409"
CRNA_NPI = "1043287659"


def _d(v: str) -> str:
    return v.replace("-", "")


def build(kind: str, claims: list[dict[str, Any]], *, payer: str = "SYNHP1", member: str = "SYN0001",
          dob: str = "19800101", isa: str = "000000101", billing_tax: str = "2084P0800X",
          sender: str = "EDI837SYNTH", created: str = "20260101") -> bytes:
    ver = "005010X222A1" if kind == "837P" else "005010X223A2"
    head = [f"ISA*00*          *00*          *ZZ*{sender:<15}*ZZ*SYNTHPAYER     *{created[2:]}*0930*^*00501*{isa}*0*T*:",
            f"GS*HC*{sender}*SYNTHPAYER*{created}*0930*{int(isa)}*X*{ver}"]
    body = [f"ST*837*0001*{ver}", f"BHT*0019*00*B1*{created}*0930*CH",
            "NM1*41*2*SYNTHETIC CLEARINGHOUSE*****46*SUB0001", "PER*IC*DESK*TE*2175550100",
            "NM1*40*2*SYNTHETIC PLAN*****46*SYNPLAN01", "HL*1**20*1", f"PRV*BI*PXC*{billing_tax}",
            f"NM1*85*2*SYNTHETIC PSYCHIATRY*****XX*{BILLING_NPI}", "N3*1 MAIN ST", "N4*SPRINGFIELD*IL*627040123",
            "REF*EI*990012345", "HL*2*1*22*0", "SBR*P*18*GRP1******CI",
            f"NM1*IL*1*DOE*JANE****MI*{member}", "N3*12 EXAMPLE LANE", "N4*SPRINGFIELD*IL*62704",
            f"DMG*D8*{_d(dob)}*F", f"NM1*PR*2*SYNTHETIC PLAN*****PI*{payer}"]
    for c in claims:
        body += _claim(kind, c)
    body.append(f"SE*{len(body) + 1}*0001")
    tail = [f"GE*1*{int(isa)}", f"IEA*1*{isa}"]
    return ("~\n".join(head + body + tail) + "~\n").encode()


def _claim(kind: str, c: dict[str, Any]) -> list[str]:
    lines = c.get("lines", [])
    total = sum(int(l.get("charge", 100)) for l in lines)
    out = []
    if kind == "837P":
        out.append(f"CLM*{c['id']}*{total}***{c.get('pos', '11')}:B:{c.get('freq', '1')}*Y*A*Y*Y")
    else:
        out.append(f"CLM*{c['id']}*{total}***{c.get('fac', '13')}:A:{c.get('freq', '1')}**A*Y*Y")
        stmt = c.get("stmt")
        dates = [l["date"] for l in lines if l.get("date")]
        if not stmt and dates and len(dates) == len(lines) and c.get("stmt", True) is not False:
            stmt = (min(dates), max(dates))  # the guide requires statement dates on every 837I
        if stmt:
            a, b = stmt
            out.append(f"DTP*434*RD8*{_d(a)}-{_d(b)}")
        if c.get("adm"):
            out.append(f"DTP*435*DT*{_d(c['adm'])}1200")
        if c.get("fac", "13") == "11" or c.get("cl1", True):
            out.append("CL1*1*1*01")
    if c.get("g1"):
        out.append(f"REF*G1*{c['g1']}")
    if c.get("f8"):
        out.append(f"REF*F8*{c['f8']}")
    dx = c.get("dx", ["ABK:F332"])
    if dx:
        out.append("HI*" + "*".join(dx))
    given = [i for x in ("dx", "bg", "bh", "procs") for i in c.get(x, [])]
    if kind != "837P" and c.get("fac", "13") == "11" and c.get("adm_dx", True) and \
            not any(i.startswith(("ABJ", "BJ")) for i in given):
        out.append("HI*ABJ:" + (dx[0].split(":")[1] if dx else "F332"))  # admitting diagnosis
    for extra in ("bg", "bh", "procs"):
        for item in c.get(extra, []):
            out.append("HI*" + item)
    if kind == "837P":
        if c.get("npi", PSYCH_NPI):
            out.append(f"NM1*82*1*MORROW*ELLEN****XX*{c.get('npi', PSYCH_NPI)}")
            if c.get("tax", "2084P0800X"):
                out.append(f"PRV*PE*PXC*{c.get('tax', '2084P0800X')}")
    else:
        out.append(f"NM1*71*1*MORROW*ELLEN****XX*{PSYCH_NPI}")
        out.append("PRV*AT*PXC*2084P0800X")
    for i, l in enumerate(lines, 1):
        out.append(f"LX*{i}")
        code = ":".join(["HC", l["code"], *l.get("mods", [])])
        if kind == "837P":
            ptr = ":".join(str(p) for p in l.get("ptr", [1]))
            out.append(f"SV1*{code}*{l.get('charge', 100)}*{l.get('basis', 'UN')}*{l.get('units', 1)}*"
                       f"{l.get('pos', '')}**{ptr}")
        else:
            sv = f"SV2*{l.get('rev', '0901')}*{code if l['code'] else ''}*{l.get('charge', 100)}*" \
                 f"{l.get('basis', 'UN')}*{l.get('units', 1)}"
            if l.get("noncovered") is not None:
                sv += f"**{l['noncovered']}"
            out.append(sv)
        if l.get("date"):
            d = l["date"]
            out.append(f"DTP*472*RD8*{_d(d[0])}-{_d(d[1])}" if isinstance(d, tuple) else f"DTP*472*D8*{_d(d)}")
        if l.get("g1"):
            out.append(f"REF*G1*{l['g1']}")
        if l.get("npi") or l.get("tax"):
            out.append(f"NM1*82*1*OTHER*PAT****XX*{l.get('npi', PSYCH_NPI)}")
            if l.get("tax"):
                out.append(f"PRV*PE*PXC*{l['tax']}")
    return out
