"""Columnar claim lines (issue 16 item 1): the rows of ``edi837 lines`` read straight from
a claim's segments, without building the claim view (:mod:`edi837.model.claims`).

A claim's shape -- its 2300 loop's segment ids, its child loops' and their child loops'
-- is turned once into a :class:`Plan`: where each column is read from (the segment
indices of CLM, HI, REF, DTP; the child loop of each provider role; for each service
line its LX, SV1/SV2, DTP, REF and rendering provider loop).  Plans are cached by
shape (bounded), so a file of a few distinct shapes compiles a few plans.  Applying a
plan reads the elements it names and gives the same values
:func:`edi837.outputs.tables.claim_rows` gives from the model -- the golden test
(tests/test_lines_columnar.py) holds the two to the same bytes.  A claim the plan
cannot read (a loop without segments) is read through the model.

A claim whose segments the grammar placed all where they belong comes with the
grammar's template of its shape (``ClaimLoopRead.shape``, one object per shape): its
plan is found by that object, without reading the shape from the loops.  The values
a claim takes from its HL loops (billing provider, subscriber, payer, patient) are
read once per loop; a line's SV1 / SV2 columns are memoised by the segment's elements.

The rows are computed from the segments' elements (:func:`plan_rows`), so the text path of
:mod:`.fastlines`, which has no ``Segment`` objects, reads them with the same code.
"""

from __future__ import annotations

from typing import Any

from ..model.build import ClaimLoopRead
from ..model.claims import (CONDITION, DX_CODED, DX_PRINCIPAL, DX_QUALIFIERS, LINE_RENDERING, PROVIDER_LOOPS,
                            parse_date, parse_decimal)
from ..grammar.loop import Loop
from ..reader.segment import Segment

LIST_SEP = "|"
MAX_PLANS = 4096
_MEMO_MAX = 8192

# shape key -> plan (cleared when full)
_PLANS: dict[Any, "Plan | None"] = {}
# (kind, flat, id of the grammar's template) -> (the template, its plan)
_BY_TEMPLATE: dict[tuple[str | None, bool, int], tuple[object, "Plan | None"]] = {}

# element text -> str(parse_decimal(text)) or None; (format, value) -> ISO (from, to)
_DEC: dict[str, str | None] = {}
_PERIOD: dict[tuple[str, str], tuple[str | None, str | None]] = {}


def dec_text(v: str) -> str | None:
    """The column text of an X12 R element: ``str`` of the model's Decimal, None when not a number."""
    try:
        return _DEC[v]
    except KeyError:
        pass
    d = parse_decimal(v)
    t = str(d) if d is not None else None
    if len(_DEC) >= _MEMO_MAX:
        _DEC.clear()
    _DEC[v] = t
    return t


def iso_period(fmt: str, v: str) -> tuple[str | None, str | None]:
    """A D8 / RD8 value as ISO (from, to), as :func:`edi837.model.claims.parse_period` reads it."""
    key = (fmt, v)
    try:
        return _PERIOD[key]
    except KeyError:
        pass
    if fmt == "RD8" or "-" in v:
        a, _, b = v.partition("-")
        d1, d2 = parse_date(a), parse_date(b)
    else:
        d1 = d2 = parse_date(v)
    out = (d1.isoformat() if d1 else None, d2.isoformat() if d2 else None)
    if len(_PERIOD) >= _MEMO_MAX:
        _PERIOD.clear()
    _PERIOD[key] = out
    return out


def _iso(v: str) -> str | None:
    d = parse_date(v)
    return d.isoformat() if d else None


# a provider loop's (NM1, first PRV) segment indices (-1: no PRV)
_Prov = tuple[int, int]


class LinePlan:
    """Where one service line's columns are: indices into the claim's segments."""

    __slots__ = ("lx", "sv", "dtp", "ref", "rendering")

    def __init__(self, lx: int, sv: int | None, dtp: tuple[int, ...], ref: tuple[int, ...],
                 rendering: _Prov | None):
        self.lx = lx
        self.sv = sv  # the first SV1 / SV2
        self.dtp = dtp
        self.ref = ref
        self.rendering = rendering  # the line's rendering provider loop (2420A / 2420C)


class Plan:
    """Where one claim shape's columns are read from: indices into the claim's segments (in
    file order when the claim comes flat, else in loop order: :func:`flat_segments`)."""

    __slots__ = ("clm", "hi", "ref", "dtp", "roles", "lines")

    def __init__(self, clm: int, hi: tuple[int, ...], ref: tuple[int, ...], dtp: tuple[int, ...],
                 roles: dict[str, _Prov], lines: tuple[LinePlan, ...]):
        self.clm = clm
        self.hi = hi
        self.ref = ref
        self.dtp = dtp
        self.roles = roles  # provider role -> its (first) 2310 loop
        self.lines = lines


def _ids(lp: Loop) -> tuple[str, ...]:
    return tuple([s.fields[0] for s in lp.segments])


def shape_key(kind: str | None, lp: Loop) -> Any:
    """The claim's shape: its loops' ids and their segments' ids (what a plan depends on)."""
    return (kind, _ids(lp), tuple([(ch.id, _ids(ch), tuple([(g.id, _ids(g)) for g in ch.children]))
                                   for ch in lp.children]))


def flat_segments(lp: Loop) -> list[Segment]:
    """A claim loop's segments in loop order: its own, then each child loop's (and theirs)."""
    out = list(lp.segments)
    for ch in lp.children:
        out.extend(ch.segments)
        for g in ch.children:
            out.extend(g.segments)
    return out


def compile_plan(kind: str | None, lp: Loop, segs: list[Segment]) -> Plan | None:
    """The plan of ``lp``'s shape, as indices into ``segs`` (the claim's segments); None when
    the claim is to be read through the model."""
    if not lp.segments:
        return None
    at = {id(s): i for i, s in enumerate(segs)}

    def where(lp: Loop, sid: str) -> tuple[int, ...]:
        return tuple(at[id(s)] for s in lp.segments if s.fields[0] == sid)

    def prov(lp: Loop) -> _Prov:
        prv = where(lp, "PRV")
        return (at[id(lp.segments[0])], prv[0] if prv else -1)

    role_of = PROVIDER_LOOPS.get(kind or "837P", {})
    rend_id = LINE_RENDERING.get(kind or "837P", "2420A")
    roles: dict[str, _Prov] = {}
    lines: list[LinePlan] = []
    for ch in lp.children:
        if ch.id == "2400":
            if not ch.segments:
                return None
            sv = next((at[id(s)] for s in ch.segments if s.fields[0] in ("SV1", "SV2")), None)
            rl = next((g for g in ch.children if g.id == rend_id), None)
            if rl is not None and not rl.segments:
                return None
            lines.append(LinePlan(at[id(ch.segments[0])], sv, where(ch, "DTP"), where(ch, "REF"),
                                  prov(rl) if rl is not None else None))
            continue
        role = role_of.get(ch.id or "")
        if role and role not in roles:
            if not ch.segments:
                return None
            roles[role] = prov(ch)
    return Plan(at[id(lp.segments[0])], where(lp, "HI"), where(lp, "REF"), where(lp, "DTP"), roles,
                tuple(lines))


def plan_for(ev: ClaimLoopRead) -> tuple[Plan | None, list[Segment]]:
    """The plan of the claim of ``ev`` and the segments its indices are into.  A flat claim
    (its loops not built, ``ev.flat``) or one with the grammar's template (``ev.shape``: the
    same object for each claim of that shape) finds its plan by the template; else the shape
    is read from the loops."""
    kind, lp, shape = ev.kind, ev.loop, ev.shape
    if shape is not None:
        segs = lp.segments if ev.flat else flat_segments(lp)
        # by the template's identity: it is kept in the entry, so its id is not reused while cached
        key = (kind, ev.flat, id(shape))
        got = _BY_TEMPLATE.get(key)
        if got is not None and got[0] is shape:
            return got[1], segs
        tree = ev.tree() if ev.flat else lp
        plan = compile_plan(kind, tree, segs)
        if len(_BY_TEMPLATE) >= MAX_PLANS:
            _BY_TEMPLATE.clear()
        _BY_TEMPLATE[key] = (shape, plan)
        return plan, segs
    segs = flat_segments(lp)
    key = shape_key(kind, lp)
    try:
        return _PLANS[key], segs
    except KeyError:
        pass
    plan = compile_plan(kind, lp, segs)
    if len(_PLANS) >= MAX_PLANS:
        _PLANS.clear()
    _PLANS[key] = plan
    return plan, segs


def _npi_tax(lp: Loop, prv_loop: Loop | None = None) -> tuple[str, str]:
    """(NPI, taxonomy) of a provider loop, as :func:`edi837.model.claims._provider` reads them."""
    nm1 = lp.segments[0]
    npi = nm1[9] if nm1[8] == "XX" else ""
    for s in (prv_loop or lp).segments:
        if s.fields[0] == "PRV":
            return npi, (s[3] if s[2] == "PXC" else "")
    return npi, ""


def _el(f: list[str], k: int) -> str:
    """Element ``k`` of a segment's elements ``f`` (``Segment.__getitem__``: "" when absent)."""
    return f[k] if k < len(f) else ""


def _comps(v: str, comp: str, rep: str | None) -> list[str]:
    """The components of an element's first repetition (``Segment.components``)."""
    if not v:
        return []
    if rep and rep in v:
        v = v.split(rep, 1)[0]
    return v.split(comp)


def _npi_tax_at(segs: list[list[str]], p: _Prov) -> tuple[str, str]:
    """(NPI, taxonomy) of the provider loop at ``p`` (its NM1 and first PRV) in ``segs`` (elements)."""
    nm1 = segs[p[0]]
    npi = _el(nm1, 9) if _el(nm1, 8) == "XX" else ""
    if p[1] < 0:
        return npi, ""
    prv = segs[p[1]]
    return npi, (_el(prv, 3) if _el(prv, 2) == "PXC" else "")


# (component separator, repetition separator, *SV1 / SV2 elements) -> _service's values
_SV: dict[tuple[Any, ...], tuple[Any, ...]] = {}


def _service(f: list[str], comp: str, rep: str | None) -> tuple[Any, ...]:
    """A line's SV1 / SV2 columns (``f``: the segment's elements), as model.claims._line reads them:
    (procedure qualifier, code, modifiers, charge, unit basis, units, SV105 (837P: the claim's
    CLM05-1 when empty), revenue code, pointers text, pointers (None for SV2))."""
    if len(f) < 8:
        f = f + [""] * (8 - len(f))
    is_sv1 = f[0] == "SV1"
    comps = _comps(f[1] if is_sv1 else f[2], comp, rep)
    pq = comps[0] if comps else ""
    pc = comps[1] if len(comps) > 1 else ""
    mods = LIST_SEP.join([m for m in comps[2:6] if m]) if len(comps) > 2 else ""
    if is_sv1:
        ptrs = tuple(int(p) for p in _comps(f[7], comp, rep) if p.isascii() and p.isdigit()) if f[7] else ()
        return (pq, pc, mods, dec_text(f[2]), f[3], dec_text(f[4]), f[5], "", LIST_SEP.join(map(str, ptrs)), ptrs)
    return (pq, pc, mods, dec_text(f[3]), f[4], dec_text(f[5]), "", f[1], "", None)


# What a claim takes from the HL loops enclosing it (model.claims.Enclosing, _person, _provider),
# read once per loop: the last loop of each level (held, so never a reused id) and its values
_LAST: dict[str, tuple[Loop | None, Any]] = {}


def _billing(billing: Loop | None) -> tuple[str, str] | None:
    """(NPI, taxonomy) of the billing provider (2010AA NM1, 2000A PRV), None without 2010AA."""
    last = _LAST.get("20")
    if last is not None and last[0] is billing:
        return last[1]  # type: ignore[no-any-return]
    bp = None
    if billing is not None:
        aa = billing.child("2010AA")
        if aa is not None:
            bp = _npi_tax(aa, billing)
    _LAST["20"] = (billing, bp)
    return bp


def _person(lp: Loop | None) -> tuple[str, str, str, str | None]:
    """(member id, last name, first name, ISO birth date) as model.claims._person reads them."""
    if lp is None:
        return ("", "", "", None)
    nm1 = lp.segments[0] if lp.segments else None
    dmg = lp.seg("DMG")
    return (nm1[9] if nm1 else "", nm1[3] if nm1 else "", nm1[4] if nm1 else "",
            _iso(dmg[2]) if dmg else None)


def _subscriber(subscriber: Loop | None) -> tuple[Any, ...]:
    """(payer id, payer name, member id, last name, first name, birth date) of a 2000B loop."""
    last = _LAST.get("22")
    if last is not None and last[0] is subscriber:
        return last[1]  # type: ignore[no-any-return]
    if subscriber is None:
        got: tuple[Any, ...] = ("", "", *_person(None))
    else:
        payer = subscriber.child("2010BB")
        got = (payer.segments[0][9] if payer is not None else "", payer.segments[0][3] if payer is not None else "",
               *_person(subscriber.child("2010BA")))
    _LAST["22"] = (subscriber, got)
    return got


def _patient(patient: Loop) -> tuple[str, str, str, str | None]:
    last = _LAST.get("23")
    if last is not None and last[0] is patient:
        return last[1]  # type: ignore[no-any-return]
    got = _person(patient.child("2010CA"))
    _LAST["23"] = (patient, got)
    return got


def claim_line_rows(ev: ClaimLoopRead, columns: list[str]) -> list[dict[str, Any]] | None:
    """The rows of the claim of ``ev`` (``columns``: the column names); None when its shape is
    one the model must read."""
    plan, segs = plan_for(ev)
    if plan is None:
        return None
    tx = ev.transaction
    g = tx.group if tx else None
    i = g.interchange if g else None
    head = (ev.file, i.control_number if i else "", g.control_number if g else "", tx.control_number if tx else "")
    sub_cols = _subscriber(ev.subscriber)
    dl = segs[plan.clm].delims
    return plan_rows(plan, [s.fields for s in segs], dl.component, dl.repetition, ev.kind, head, ev.seq,
                     _billing(ev.billing), sub_cols,
                     _patient(ev.patient) if ev.patient is not None else sub_cols[2:], columns)


#: plan_rows' forms of a row: a dict of the columns, the list of its values, CSV text
DICTS, LISTS, TEXT = 0, 1, 2


def _cells(values: tuple[Any, ...]) -> str:
    """``values`` as csv.writer writes cells that need no quoting: None empty, an int its str."""
    return ",".join(["" if v is None else v if v.__class__ is str else str(v) for v in values])


def plan_rows(plan: Plan, segs: list[list[str]], comp: str, rep: str | None, kind: str | None,
              head: tuple[Any, ...], seq: int, bp: tuple[str, str] | None, sub_cols: tuple[Any, ...],
              pat_cols: tuple[Any, ...], columns: list[str], form: int = DICTS) -> list[Any]:
    """A claim's rows from its segments' elements ``segs`` (in the order ``plan`` indexes) and what
    encloses it: ``head`` (file, ISA13, GS06, ST02), the billing provider's (NPI, taxonomy)
    (:func:`_billing`), the subscriber's and the patient's columns (:func:`_subscriber`,
    :func:`_patient`).  Shared by the claim events of the grammar path (:func:`claim_line_rows`)
    and the text path of :mod:`.fastlines`, which has no ``Segment`` objects.  Each row is a dict
    of ``columns`` (``form`` DICTS), the list of its values in that order (LISTS: the CSV's cells,
    no dict to build and take apart again), or the line of CSV text ``csv.writer`` writes for them
    (TEXT, one string of all the claim's rows: for values none of which has a comma, a double
    quote or a line break, so that none is quoted -- the caller makes sure)."""
    clm = segs[plan.clm]
    n = len(clm)
    # -- the claim's columns
    c5 = _comps(clm[5], comp, rep) if n > 5 else []
    n5 = len(c5)
    facility = c5[0] if n5 else ""
    frequency = c5[2] if n5 > 2 else ""
    is_i = kind == "837I"
    bill_type = facility + frequency if is_i and facility else ""
    a = (*head, kind, seq, clm[1] if n > 1 else "", dec_text(clm[2]) if n > 2 else dec_text(""), facility,
         frequency, bill_type)
    coded: list[tuple[int, str]] = []  # (position, code) of the diagnoses lines may point to
    principal: str | None = None
    conditions: list[str] = []
    pos = 0  # 1-based position among the claim's diagnoses (SV107 pointers)
    for hi in plan.hi:
        s = segs[hi]
        for k in range(1, len(s)):
            v = s[k]
            if not v:
                continue
            if rep and rep in v:
                v = v.split(rep, 1)[0]
            comps = v.split(comp)
            q = comps[0]
            if not q:
                continue
            if q in DX_QUALIFIERS:
                pos += 1
                code = comps[1] if len(comps) > 1 else ""
                if q in DX_CODED:
                    coded.append((pos, code))
                if principal is None and q in DX_PRINCIPAL:
                    principal = code
            elif q == CONDITION:
                conditions.append(comps[1] if len(comps) > 1 else "")
    claim_auth = [_el(segs[k], 2) for k in plan.ref if _el(segs[k], 1) == "G1"] if plan.ref else []
    st_from = st_to = adm = None
    for k in plan.dtp:
        s = segs[k]
        q = _el(s, 1)
        if q == "434":
            st_from, st_to = iso_period(_el(s, 2), _el(s, 3))
        elif q == "435":
            adm = _iso(_el(s, 3)[:8])
    b = (st_from, st_to, adm)
    c = (principal or "", LIST_SEP.join(conditions))
    roles = plan.roles
    att = roles.get("attending")
    opr = roles.get("operating")
    d = (bp[0] if bp is not None else "",
         _npi_tax_at(segs, att)[0] if att is not None else "",
         _npi_tax_at(segs, opr)[0] if opr is not None else "",
         sub_cols[0], sub_cols[1], sub_cols[2], pat_cols[0] or sub_cols[2], *pat_cols[1:])
    # the claim's rendering provider (2310B 837P / 2310D 837I), else the billing provider
    ri = roles.get("rendering")
    r_npi_tax = _npi_tax_at(segs, ri) if ri is not None else None
    bill_tax = bp[1] if bp is not None else ""
    all_codes = LIST_SEP.join([code for _, code in coded])
    claim_auth_text = LIST_SEP.join(claim_auth)
    pos_claim = facility if not is_i else ""
    out: list[Any] = []
    if not plan.lines:
        # claim_rows' empty line: the claim's rendering provider, else the billing one, its own taxonomy
        if r_npi_tax is not None:
            rn, rt = r_npi_tax
        elif bp is not None:
            rn, rt = bp
        else:
            rn = rt = ""
        values = (*a, None, "", "", "", None, "", None, pos_claim, "", None, None, *b, "", all_codes, *c, rn, rt, *d,
                  claim_auth_text)
        out.append(dict(zip(columns, values, strict=True)) if form == DICTS else list(values) if form == LISTS
                   else _cells(values) + "\n")
        return out if form != TEXT else ["".join(out)]
    # the rendering provider with its taxonomy: its own PRV, else the claim's rendering provider's,
    # else the billing provider's (model.claims._with_taxonomy)
    fallback_tax = r_npi_tax[1] if r_npi_tax is not None and r_npi_tax[1] else bill_tax
    if r_npi_tax is not None:
        claim_rend: tuple[str, str] = (r_npi_tax[0], r_npi_tax[1] or fallback_tax)
    elif bp is not None:
        claim_rend = (bp[0], bp[1] or fallback_tax)
    else:
        claim_rend = ("", "")
    by_pos: dict[int, str] | None = None
    # each line's row: a copy of the claim's (the line's columns empty), the line's columns set
    empty, claim_cols, line_cols = _columns(columns)
    if form == TEXT:  # the claim's cells between the lines' (csv.writer: None empty, an int its str)
        ta = f"{','.join(head)},{kind or ''},{seq},{a[6]},{a[7] or ''},{facility},{frequency},{bill_type}"
        tb = f"{st_from or ''},{st_to or ''},{adm or ''}"
        tc = f"{c[0]},{c[1]}"
        td = _cells(d)
    elif form == LISTS:
        base_list = [*a, None, None, None, None, None, None, None, None, None, None, None, *b, None, None, *c,
                     None, None, *d, None]
    else:
        base = empty.copy()
        base.update(zip(claim_cols, (*a, *b, *c, *d), strict=True))
    sv_memo = _SV
    for lpl in plan.lines:
        f = segs[lpl.lx]
        line_number = f[1] if len(f) > 1 else ""
        sd = se = None
        for k in lpl.dtp:
            f = segs[k]
            if sd is None and len(f) > 1 and f[1] == "472":  # (the first that reads as a date)
                sd, se = iso_period(_el(f, 2), _el(f, 3))
        line_auth = [_el(segs[k], 2) for k in lpl.ref if _el(segs[k], 1) == "G1"] if lpl.ref else None
        if lpl.sv is not None:
            sv = segs[lpl.sv]
            key = (comp, rep, *sv)
            got = sv_memo.get(key)
            if got is None:
                got = _service(sv, comp, rep)
                if len(sv_memo) >= _MEMO_MAX:
                    sv_memo.clear()
                sv_memo[key] = got
            pq, pc, mods, charge, basis, units, place, rev, pointers, ptrs = got
            if ptrs is not None:  # SV1
                place = place or facility
                if is_i:
                    codes = all_codes
                elif not ptrs:
                    codes = ""
                else:
                    if by_pos is None:
                        by_pos = dict(coded)
                    codes = LIST_SEP.join([by_pos[p] for p in ptrs if p in by_pos])
            else:
                codes = all_codes
        else:
            pq = pc = mods = basis = rev = pointers = ""
            charge = units = None
            place = pos_claim
            codes = all_codes
        if lpl.rendering is not None:
            rn, rt = _npi_tax_at(segs, lpl.rendering)
            if not rt:
                rt = fallback_tax
        else:
            rn, rt = claim_rend
        auth = LIST_SEP.join(line_auth) if line_auth else claim_auth_text
        if form == TEXT:
            out.append(f"{ta},{line_number},{pq},{pc},{mods},{units or ''},{basis},{charge or ''},{place},{rev},"
                       f"{sd or ''},{se or ''},{tb},{pointers},{codes},{tc},{rn},{rt},{td},{auth}\n")
        elif form == LISTS:
            row_list = base_list.copy()
            row_list[11:22] = (line_number, pq, pc, mods, units, basis, charge, place, rev, sd, se)
            row_list[25:27] = (pointers, codes)
            row_list[29:31] = (rn, rt)
            row_list[41] = auth
            out.append(row_list)
        else:
            row = base.copy()
            row.update(zip(line_cols, (line_number, pq, pc, mods, units, basis, charge, place, rev, sd, se,
                                       pointers, codes, rn, rt, auth), strict=True))
            out.append(row)
    return out if form != TEXT else ["".join(out)]


_COLUMNS: dict[int, tuple[list[str], tuple[dict[str, Any], list[str], list[str]]]] = {}


def _columns(columns: list[str]) -> tuple[dict[str, Any], list[str], list[str]]:
    """A row of ``columns`` (tables.COLUMNS) with every value None, the claim's columns and the
    line's (line_number .. service_date_end, diagnosis_pointers, diagnosis_codes,
    rendering_npi, rendering_taxonomy, prior_auth)."""
    got = _COLUMNS.get(id(columns))
    if got is None or got[0] is not columns:
        if len(columns) != 42:
            raise ValueError(f"the lines table has 42 columns, not {len(columns)}")
        got = _COLUMNS[id(columns)] = (columns, (
            dict.fromkeys(columns), columns[:11] + columns[22:25] + columns[27:29] + columns[31:41],
            columns[11:22] + columns[25:27] + columns[29:31] + columns[41:]))
    return got[1]
