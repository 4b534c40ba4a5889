"""WEDI SNIP type 2: implementation-guide (TR3) conformance, and SNIP 1 element syntax.

:class:`GuideChecker` matches every segment of each loop unit (the header
loop at ``transaction``, each HL loop at ``hl``, each 2300 claim tree at
``claim``, the envelope segments as they come) to its SegmentDef the way
pyx12 does (segment id, then the qualifier element of :func:`qualifier`),
and checks segment and loop usage and repeat counts, element usage, code
values and patterns (``S2-*``), and element data types and lengths
(``S1-ELE-*``, ``S1-SEG-*``, declared in :mod:`.snip1_syntax`).  Only the
current unit is held, so memory does not grow with the file.

Cascades are suppressed: a missing required loop gives one finding (its
segments are not reported); a misplaced or unknown segment gives one finding
and no element findings.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Sequence

from ..events import (ClaimRead, GroupEnd, GroupStart, HlRead, InterchangeEnd, ModelEvent, TransactionEnd,
                      TransactionStart)
from ..findings import Finding
from ..grammar.parser import HL_NAME, HL_PARENT
from ..grammar.stream import GUIDES, is_other_version
from ..guide import load_control, load_guide
from . import snip1_syntax as s1
from .registry import RULES, checker, declare

if TYPE_CHECKING:
    from ..reader.segment import Segment

TR3 = "ASC X12N TR3 005010X222A1 / 005010X223A2"

declare("S2-SEG-001", "error", 2, "A segment the implementation guide does not define at all.",
        reads=("every segment",), citation=TR3, ik3="1")
declare("S2-SEG-002", "error", 2, "A segment the guide defines, but not where it stands (out of order, "
        "wrong loop, or a qualifier the loop does not allow).", reads=("every segment",), citation=TR3, ik3="2")
declare("S2-SEG-003", "error", 2, "A segment the guide requires in its loop is missing.",
        reads=("every loop",), citation=TR3, ik3="3")
declare("S2-SEG-004", "error", 2, "A segment appears more times in its loop than the guide allows.",
        reads=("every segment",), citation=TR3, ik3="5")
declare("S2-LOOP-001", "error", 2, "A loop the guide requires is missing.", reads=("every loop",),
        citation=TR3, ik3="3")
declare("S2-LOOP-002", "error", 2, "A loop repeats more times than the guide allows.", reads=("every loop",),
        citation=TR3, ik3="4")
declare("S2-ELE-001", "error", 2, "An element the guide marks required is empty or missing.",
        reads=("every element",), citation=TR3, ik3="8", ik4="1")
declare("S2-ELE-002", "error", 2, "An element the guide marks not used is present.", reads=("every element",),
        citation=TR3, ik3="8", ik4="I10")
declare("S2-ELE-003", "error", 2, "An element holds a code the guide does not list for it.",
        reads=("ID elements",), citation=TR3, ik3="8", ik4="7")
declare("S2-ELE-004", "error", 2, "An element does not match the pattern the guide gives for it "
        "(e.g. a 9-digit billing provider ZIP code).", reads=("elements with a pattern",), citation=TR3,
        ik3="8", ik4="I12")
declare("S2-ELE-005", "warning", 2, "A text element has trailing spaces (they should be suppressed).",
        reads=("AN/ID elements",), citation="ASC X12.6 (trailing spaces should not be sent)", ik3="8", ik4="6")
declare("S2-ELE-006", "error", 2, "A date element whose format a qualifier names (X12 element 1251 after its "
        "1250 format qualifier: DTP03 by DTP02, DMG02 by DMG01, PAT06 by PAT05, HI0n-4 by HI0n-3) is not a "
        "valid date, date and time, or date range of that format (D8 CCYYMMDD, RD8 CCYYMMDD-CCYYMMDD with the "
        "start not after the end, DT CCYYMMDDHHMM).", reads=("DTP03", "DMG02", "PAT06", "HI01-4..HI12-4"),
        citation=TR3 + "; X12 data elements 1250/1251", ik3="8", ik4="8")
declare("S2-ELE-007", "error", 2, "A time element whose format qualifier says TM (HHMM) is not a valid HHMM "
        "time.", reads=("DTP03",), citation=TR3 + "; X12 data elements 1250/1251", ik3="8", ik4="9")
declare("S2-HL-001", "error", 2, "HL01 is not unique or HL02 does not point at an earlier HL of the "
        "right level (a subscriber under a billing provider, a patient under a subscriber).",
        reads=("HL01", "HL02", "HL03"), citation=TR3 + ", HL", ik3="8", ik4="7")

# characters allowed in ID/AN elements: the X12 005010 extended character set
_BAD_CHAR = re.compile(r"""[^A-Z0-9!"&'()*+,\-./:;?= a-z%~@\[\]_{}\\|<>^`#$]""")
_R = re.compile(r"-?[0-9]*(\.[0-9]+)?")
_RX: dict[str, re.Pattern[str]] = {}
_EC_MAX = 20000  # element-check cache entries per file before it is emptied
_EC_TRIAL = 200  # misses after which a definition must show repeats to stay cached
# misses after which a definition with live elements (see _elements_partial) that hardly ever
# repeated whole (no hit) is keyed without them
_EC_TRIAL_LIVE = 40
_Cap = tuple[str, str, str | None, str | None]  # an element check's finding: (rule, message, element, value)


def _rx(p: str | None) -> re.Pattern[str] | None:
    if not p:
        return None
    r = _RX.get(p)
    if r is None:
        try:
            r = _RX[p] = re.compile(p)
        except re.error:
            return None
    return r


class _ESpec:
    __slots__ = ("i", "xid", "name", "usage", "dt", "minl", "maxl", "codes", "rx", "repeat", "comps", "fmt")

    def __init__(self, e: Any, i: int):
        self.i = i
        self.fmt: _ESpec | None = None  # the format qualifier (element 1250) of a date time period (1251)
        self.xid = e.xid
        self.name = e.name
        self.usage = e.usage
        self.dt = e.data_type or ""
        self.minl = e.min_len or 0
        self.maxl = e.max_len or 0
        self.codes = e.valid_codes
        self.rx = _rx(e.regex)
        self.repeat = e.repeat
        self.comps = tuple(_ESpec(c, c.seq) for c in e.composite.elements) if e.composite is not None else None
        if self.comps is not None:
            _pair_formats(e.composite.elements, self.comps)


def _pair_formats(defs: Sequence[Any], specs: Sequence[_ESpec]) -> None:
    """Tie each date time period element (X12 1251) to the format qualifier (X12 1250) just before it
    among its siblings: DTP02/DTP03, DMG01/DMG02, PAT05/PAT06, HI0n-3/HI0n-4 in both guides."""
    for k in range(1, len(defs)):
        if defs[k].data_ele == "1251" and defs[k - 1].data_ele == "1250":
            specs[k].fmt = specs[k - 1]


class _SSpec:
    __slots__ = ("sd", "elems", "nmax", "syntax", "plan", "lives", "vol")

    def __init__(self, sd: Any):
        self.sd = sd
        self.elems = tuple(_ESpec(e, e.seq) for e in sd.elements)
        _pair_formats(sd.elements, self.elems)
        self.nmax = max((e.seq for e in sd.elements), default=0)
        self.syntax = sd.syntax
        # the elements whose values seldom repeat (simple, no code list, no element's format
        # qualifier: ids, names, amounts, dates): checked live, not cached, in _elements_partial
        fmts = {es.fmt.i for es in self.elems if es.fmt is not None}
        live = [es.comps is None and es.codes is None and es.usage != "N" and es.i not in fmts
                for es in self.elems]
        if sum(live) * 2 > len(live):  # (as many checked live as kept: not worth a key)
            live = [False] * len(live)
        # what _elements_calc reads of each element, in one tuple: (position, spec, required?,
        # not used?, simple (no composite)?, position of its format qualifier or 0, live?)
        self.plan = tuple((es.i, es, es.usage == "R", es.usage == "N", es.comps is None,
                           es.fmt.i if es.fmt is not None else 0, lv) for es, lv in zip(self.elems, live))
        self.lives = tuple(ent for ent in self.plan if ent[6])
        self.vol = tuple(ent[0] for ent in self.lives)


_SPECS: dict[int, _SSpec] = {}


def spec(sd: Any) -> _SSpec:
    sp = _SPECS.get(id(sd))
    if sp is None or sp.sd is not sd:
        sp = _SPECS[id(sd)] = _SSpec(sd)
    return sp


class _KeyPlan:
    """Where the structure key of a claim loop built from one grammar template is read (see
    GuideChecker._built_key); its identity is part of the key."""

    __slots__ = ("ld", "t", "quals")

    def __init__(self, ld: Any, t: Any, quals: tuple[tuple[int, tuple[tuple[int, bool], ...]], ...] | None):
        self.ld = ld
        self.t = t
        self.quals = quals


class _GuideIndex:
    """Per-guide lookups, computed once per process."""

    def __init__(self, guide: Any):
        self.guide = guide
        self.by_path: dict[str, Any] = {}
        self.seg_index: dict[int, _LoopInfo] = {}
        self.ids = frozenset(sd.id for sd in guide.all_segment_defs())
        st_loop = guide.loop("ST_LOOP")
        self.st_loop = st_loop
        self.header = guide.loop("HEADER")
        self.st_def = next(sd for sd in st_loop.segments if sd.id == "ST")
        self.se_def = next(sd for sd in st_loop.segments if sd.id == "SE")
        # ST03 is the guide's version and nothing else, in both guides (X223A2's map lists it, X222A1's
        # does not: without this, ST03 005010X222 passed an 837P but not 005010X223 an 837I) ...
        self.st_spec = _SSpec(self.st_def)
        # ... unless it equals GS08: then a wrong version is the group's error (at GS08), said once
        self.st_spec_as_gs08 = _SSpec(self.st_def)
        for sp, codes in ((self.st_spec, frozenset({GUIDES[guide.kind]})), (self.st_spec_as_gs08, None)):
            for es in sp.elems:
                if es.xid == "ST03":
                    es.codes = codes

    def loop(self, path: str) -> Any:
        try:
            return self.by_path[path]
        except KeyError:
            try:
                ld = self.guide.loop(tuple(path.split("/")))
            except KeyError:
                ld = None
            self.by_path[path] = ld
            return ld

    def index(self, ld: Any) -> dict[str, list[Any]]:
        return self.info(ld).index

    def info(self, ld: Any) -> "_LoopInfo":
        li = self.seg_index.get(id(ld))
        if li is None:
            li = self.seg_index[id(ld)] = _LoopInfo(ld)
        return li


class _LoopInfo:
    """What the checks need of one LoopDef, computed once (LoopDef.segments/.loops build tuples)."""

    __slots__ = ("ld", "index", "required", "kids", "required_loops", "qpos", "kid_info")

    def __init__(self, ld: Any):
        self.ld = ld
        segs = ld.segments
        self.index: dict[str, list[Any]] = {}
        for sd in segs:
            self.index.setdefault(sd.id, []).append(sd)
        # the qualifier places (element, composite?) that matching reads, per
        # segment id with several definitions here (with one, it is that one)
        self.qpos: dict[str, tuple[tuple[int, bool], ...]] = {}
        for sid, cands in self.index.items():
            if len(cands) < 2:
                continue
            places = []
            for sd in cands:
                if sd.qual is not None:
                    i = sd.qual[0]
                    comp = bool(sd.elements and len(sd.elements) >= i and sd.elements[i - 1].composite is not None)
                    if (i, comp) not in places:
                        places.append((i, comp))
            if places:
                self.qpos[sid] = tuple(places)
        self.required = tuple(sd for sd in segs if sd.usage == "R")
        loops = ld.loops
        self.kids = {c.id: c for c in loops}
        # the _LoopInfo of each child loop, by id, as the checker's structure keys meet them
        self.kid_info: dict[str, _LoopInfo] = {}
        self.required_loops = tuple(c for c in loops if c.usage == "R" and not c.id.startswith("2000")
                                    and c.id != "2300")


_INDEX: dict[str, _GuideIndex] = {}


def guide_index(kind: str) -> _GuideIndex:
    gi = _INDEX.get(kind)
    if gi is None:
        gi = _INDEX[kind] = _GuideIndex(load_guide(kind))
    return gi


_CONTROL: dict[str, Any] = {}


def control_def(seg_id: str) -> Any:
    if not _CONTROL:
        for sd in load_control().all_segment_defs():
            _CONTROL.setdefault(sd.id, sd)
    return _CONTROL.get(seg_id)


def match(cands: list[Any], seg: Any) -> Any:
    """The SegmentDef among same-id ``cands`` that ``seg`` matches (pyx12 ``is_match``)."""
    for sd in cands:
        q = sd.qual
        if q is None:
            return sd
        i, codes = q
        v = seg[i]
        if sd.elements and len(sd.elements) >= i and sd.elements[i - 1].composite is not None:
            v = seg.component(i, 1)
        if v in codes:
            return sd
    return None


def _ALL_RULES() -> tuple[str, ...]:
    return tuple(r for r in RULES if r.startswith(("S1-ELE", "S1-SEG", "S2-")))


def _names(sid: str, pos: Any) -> str:
    """Element ids of a syntax note, e.g. "NM108, NM109" (for its message only)."""
    return ", ".join(f"{sid}{p:02d}" for p in pos)


@checker("S1-ELE-001", "S1-ELE-002", "S1-ELE-003", "S1-ELE-004", "S1-ELE-005", "S1-SEG-001", "S1-SEG-002",
         "S1-SEG-003", "S1-SEG-004", "S1-SEG-005", "S2-SEG-001", "S2-SEG-002", "S2-SEG-003", "S2-SEG-004",
         "S2-LOOP-001", "S2-LOOP-002", "S2-ELE-001", "S2-ELE-002", "S2-ELE-003", "S2-ELE-004", "S2-ELE-005",
         "S2-HL-001")
class GuideChecker:
    """Segments and loops against the TR3 map; element syntax against the data element dictionary."""

    def __init__(self, ctx: Any):
        snip = getattr(ctx, "snip", None) or {1, 2}
        self.s1 = 1 in snip
        self.s2 = 2 in snip
        self.gi: _GuideIndex | None = None
        self.out: list[Finding] = []
        self.hl_levels: dict[str, str] = {}
        self.billing_open: Any = None  # HL segment of the current 2000A, until a 2000B is seen
        self.billing_seen = False
        self.claims_here = 0  # claims under the current subscriber/patient HL
        self.claims_hl: Any = None
        # element-check results per (segment definition, fields), see _elements
        self._ec: dict[tuple[Any, ...], tuple[_Cap, ...]] = {}
        self._ec_stats: dict[Any, list[int]] = {}
        self._ec_delims: Any = None
        self._cap: list[_Cap] = []
        # what one element's value checks find, per (element spec, value[, format qualifier value]):
        # see _elements_calc (they depend on nothing else); bounded as _ec
        self._vmemo: dict[tuple[Any, ...], tuple[_Cap, ...]] = {}
        # _elements_partial's findings by (definition, fields with the live ones as given or not)
        self._ecp: dict[tuple[Any, ...], tuple[tuple[_Cap, ...], ...]] = {}
        # loop-unit results per structure key, see _unit
        self._units: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
        # the key plans of claim loops by (id of the guide loop, id of the grammar template), see _built_key
        self._plans: dict[tuple[int, int], _KeyPlan] = {}
        self._rec: dict[int, int] | None = None  # while recording: id(segment) -> index in the unit
        self._script: list[tuple[Any, ...]] = []  # (0, i, finding args) or (1, i, spec)

    # -- emit ----------------------------------------------------------------
    def _e(self, rule: str, msg: str, seg: Any, element: str | None = None, value: str | None = None,
           severity: Any = None) -> None:
        if self._rec is not None:
            self._script.append((0, self._rec[id(seg)], rule, msg, element, value, severity))
            return
        r = RULES[rule]
        if (r.snip == 1 and not self.s1) or (r.snip == 2 and not self.s2):
            return
        self.out.append(r.finding(msg, seg, element=element, value=value, severity=severity))

    # -- events ----------------------------------------------------------------
    def on_event(self, ev: ModelEvent) -> list[Finding]:
        self.out = []
        match ev:
            case ClaimRead(claim):
                if self.gi is not None:
                    lp = claim.loop
                    ld = self.gi.loop(lp.path)
                    if ld is not None:
                        self._unit(lp, ld)
                    self._count_claim(lp, ld)
            case HlRead(lp):
                self._hl(lp)
            case TransactionStart(tx):
                self._transaction(tx)
            case TransactionEnd(tx):
                self._transaction_end(tx)
            case GroupStart(grp):
                if grp.gs is not None:
                    self._envelope(grp.gs)
                    # a GS08 naming another transaction set's version (005010X231A1) or one before 5010
                    # (004010X098A1) is said where the group's transactions show what it holds: GRM-003
                    # (not an 837), GRM-007 (a 4010 837), S1-ENV-012 (an 837 under it): one cause, one finding
                    self.out = [f for f in self.out if not (f.rule == "S2-ELE-003" and f.element == "GS08"
                                                            and is_other_version(f.value or ""))]
            case GroupEnd(grp):
                if grp.ge is not None:
                    self._envelope(grp.ge)
            case InterchangeEnd(ic):
                if ic.iea is not None:
                    self._envelope(ic.iea)
        return self.out

    def _envelope(self, seg: Any) -> None:
        sd = control_def(seg.fields[0])
        if sd is not None:
            self._elements(seg, spec(sd))

    def _transaction(self, tx: Any) -> None:
        self.hl_levels = {}
        self.billing_open = None
        self.billing_seen = False
        self.claims_hl = None
        self.claims_here = 0
        try:
            self.gi = guide_index(tx.kind) if tx.kind else None
        except Exception:
            self.gi = None
        gi = self.gi
        if gi is None:
            return
        hdr = tx.header
        st_ix = {"ST": [gi.st_def]}
        hix = gi.index(gi.header)
        counts: dict[int, int] = {}
        seen_bht = False
        for seg in hdr.segments:
            sid = seg.fields[0]
            if seg.misplaced:
                self._misplaced(seg, "the transaction header")
                continue
            sd = match(st_ix.get(sid) or hix.get(sid) or [], seg)
            if sd is None:
                self._misplaced(seg, "the transaction header")
                continue
            if sid == "BHT":
                seen_bht = True
            self._use(sd, counts, seg, "the transaction header")
            if sd is gi.st_def:
                grp = tx.group
                gs = grp.gs if grp is not None else None
                as_gs08 = gs is not None and seg[3] == gs[8]
                self._elements(seg, gi.st_spec_as_gs08 if as_gs08 else gi.st_spec)
            else:
                self._elements(seg, spec(sd))
        if not seen_bht:
            self._e("S2-SEG-003", "the BHT Beginning of Hierarchical Transaction segment is required after ST "
                    "but missing", tx.st, "BHT")
        self._children(hdr, gi.header)

    def _transaction_end(self, tx: Any) -> None:
        gi = self.gi
        if gi is None:
            return
        self._close_billing()
        if not self.billing_seen:
            self._e("S2-LOOP-001", "Loop 2000A Billing Provider Hierarchical Level is required but missing: "
                    "the transaction has no claims", tx.se or tx.st, "HL")
        if tx.se is not None:
            self._elements(tx.se, spec(gi.se_def))
        self.gi = None

    def _close_billing(self) -> None:
        if self.billing_open is not None:
            self._e("S2-LOOP-001", "Loop 2000B Subscriber Hierarchical Level is required under each billing "
                    "provider (2000A) but missing", self.billing_open, "HL")
        self.billing_open = None

    def _hl(self, lp: Any) -> None:
        gi = self.gi
        if gi is None or not lp.segments:
            return
        hl = lp.segments[0]
        level = hl[3]
        if level == "20":
            self._close_billing()
            self.billing_open = hl
            self.billing_seen = True
        elif level == "22":
            self.billing_open = None
        self.claims_hl = None
        self.claims_here = 0
        # HL numbering and parentage
        hid, parent = hl[1], hl[2]
        if hid in self.hl_levels:
            self._e("S2-HL-001", f"HL01 id {hid!r} is used twice in this transaction", hl, "HL01", hid)
        want = HL_PARENT.get(level, "?")
        if want is None:
            if parent:
                self._e("S2-HL-001", f"HL02 of a billing provider level must be empty, not {parent!r}", hl,
                        "HL02", parent)
        elif want != "?":
            plevel = self.hl_levels.get(parent)
            if plevel != want:
                what = f"{HL_NAME[want]} (HL03 {want})"
                self._e("S2-HL-001", f"HL02 parent {parent!r} is not an earlier {what} HL", hl, "HL02", parent)
        self.hl_levels[hid] = level
        ld = gi.loop(lp.path)
        if ld is not None:
            self._unit(lp, ld, hl_unit=True)

    def _count_claim(self, lp: Any, ld: Any) -> None:
        """``ld``: the guide's loop at ``lp.path`` (None: none)."""
        par = lp.parent
        if par is not self.claims_hl:
            self.claims_hl = par
            self.claims_here = 0
        self.claims_here += 1
        if ld is not None and ld.repeat is not None and self.claims_here == ld.repeat + 1 and lp.segments:
            self._e("S2-LOOP-002", f"Loop 2300 Claim Information repeats more than {ld.repeat} times under one "
                    "subscriber/patient", lp.segments[0])

    # -- loops -----------------------------------------------------------------
    def _unit(self, lp: Any, ld: Any, hl_unit: bool = False) -> None:
        """Check a loop unit (an HL loop or a claim tree) against ``ld``.

        What the structure checks find depends only on the guide loop and, per
        segment, its id, its qualifier values and whether the grammar placed
        it, so their result is a script cached per structure key: the findings
        to emit and the element checks to run, by position in the unit."""
        segs: Sequence[Segment]
        built = None if hl_unit else getattr(lp, "built", None)
        key = None
        if built is not None:
            segs = built[1]
            key = self._built_key(lp, ld, built[0], segs)
        if key is None:
            segs = []
            key = (hl_unit, self._key(lp, ld, segs))
        script = self._units.get(key)
        if script is None:
            self._rec = {id(sg): i for i, sg in enumerate(segs)}
            self._script = []
            try:
                self._loop(lp, ld, hl_unit)
            finally:
                self._rec = None
            script = self._script
            if len(self._units) >= _EC_MAX:
                self._units.clear()
            self._units[key] = script
        # (the cached case of _elements, inline: a segment whose definition's results are kept, and
        # whose fields were seen before under the same delimiters)
        elements = self._elements
        ec = self._ec
        ec_stats = self._ec_stats
        ec_delims = self._ec_delims
        e = self._e
        for op in script:
            if op[0]:
                seg = segs[op[1]]
                sp = op[2]
                if seg.delims is ec_delims:
                    st = ec_stats.get(sp)
                    if st is not None:
                        if st[0] >= 0:
                            hits = ec.get((sp, *seg.fields))
                            if hits is not None:
                                st[0] += 1
                                for rule, msg, element, value in hits:
                                    e(rule, msg, seg, element, value)
                                continue
                        elif st[0] == -1:
                            self._elements_partial(seg, seg.fields, ec_delims, sp, st)
                            continue
                elements(seg, sp)
                ec = self._ec  # (emptied or replaced by _elements)
                ec_stats = self._ec_stats
                ec_delims = self._ec_delims
            else:
                _, i, rule, msg, element, value, severity = op
                self._e(rule, msg, segs[i], element, value, severity)

    def _built_key(self, lp: Any, ld: Any, t: Any, segs: Sequence[Segment]) -> tuple[Any, ...] | None:
        """The structure key of a claim loop ``lp`` checked against ``ld`` that the grammar built from
        the template ``t`` with nothing misplaced, ``segs`` its segments in the order of a walk of it
        (``Loop.built``).  The template fixes the loops and every segment's id, so :meth:`_key`
        differs between such claims only in the qualifier values it reads: the key is the plan of
        (ld, t) and these values, read from the places the plan lists.  None: key it by a walk."""
        plan = self._plans.get((id(ld), id(t)))
        if plan is None or plan.ld is not ld or plan.t is not t:
            plan = _KeyPlan(ld, t, self._quals(lp, ld))
            if len(self._plans) >= _EC_MAX:
                self._plans.clear()
            self._plans[(id(ld), id(t))] = plan
        quals = plan.quals
        if quals is None:  # (a child loop the guide loop does not have)
            return None
        key: list[Any] = [plan]
        for k, qp in quals:
            seg = segs[k]
            f = seg.fields
            if len(qp) == 1:  # (as in _key_of)
                i, comp = qp[0]
                v = f[i] if i < len(f) else ""
                if comp and v and seg.delims.component in v:
                    v = seg.components(i)[0]
                key.append(v)
            else:
                n = len(f)
                key.append(tuple([(seg.component(i, 1) if comp else f[i]) if i < n else "" for i, comp in qp]))
        return tuple(key)

    def _quals(self, lp: Any, ld: Any) -> tuple[tuple[int, tuple[tuple[int, bool], ...]], ...] | None:
        """The places :meth:`_key_of` reads qualifier values from in the loop ``lp`` (nothing
        misplaced), as (index of the segment in a walk of the loop, its qualifier places); None
        when a child loop is one ``ld`` does not have."""
        assert self.gi is not None  # (as in _key)
        gi = self.gi
        out: list[tuple[int, tuple[tuple[int, bool], ...]]] = []
        k = 0

        def walk(lp: Any, li: _LoopInfo) -> bool:
            nonlocal k
            for seg in lp.segments:
                qp = li.qpos.get(seg.fields[0])
                if qp is not None:
                    out.append((k, qp))
                k += 1
            for c in lp.children:
                cd = li.kids.get(c.id)
                if cd is None or not walk(c, gi.info(cd)):
                    return False
            return True

        return tuple(out) if walk(lp, gi.info(ld)) else None

    def _key(self, lp: Any, ld: Any, segs: list[Segment]) -> tuple[Any, ...]:
        """Structure key of a loop (and its child loops); collects its segments in ``segs``."""
        assert self.gi is not None  # structure checks run only with the transaction's guide
        return self._key_of(lp, self.gi.info(ld), segs)

    def _key_of(self, lp: Any, li: _LoopInfo, segs: list[Segment]) -> tuple[Any, ...]:
        """:meth:`_key` of ``lp`` against the loop ``li`` describes."""
        qpos = li.qpos
        parts: list[Any] = [li.ld]
        own = lp.segments
        segs.extend(own)
        for seg in own:
            f = seg.fields
            sid = f[0]
            qp = qpos.get(sid)
            if qp is None:
                parts.append(("!", sid) if seg.misplaced else sid)
            elif len(qp) == 1:  # (the usual case: one qualifier place)
                i, comp = qp[0]
                v = f[i] if i < len(f) else ""
                if comp and v and seg.delims.component in v:
                    v = seg.components(i)[0]  # (seg.component(i, 1); without a separator, v itself)
                parts.append((sid, seg.misplaced, v))
            else:
                n = len(f)
                parts.append((sid, seg.misplaced, *[(seg.component(i, 1) if comp else f[i]) if i < n else ""
                                                    for i, comp in qp]))
        if lp.children:
            kinfo = li.kid_info
            for c in lp.children:
                cli = kinfo.get(c.id)
                if cli is None:
                    cd = li.kids.get(c.id)
                    if cd is None:
                        parts.append((c.id, tuple(self._flat(c, segs))))
                        continue
                    assert self.gi is not None  # (as in _key)
                    cli = kinfo[c.id] = self.gi.info(cd)
                parts.append(self._key_of(c, cli, segs))
        return tuple(parts)

    @staticmethod
    def _flat(lp: Any, segs: list[Segment]) -> list[str]:
        ids = []
        for seg in lp.segments:
            segs.append(seg)
            ids.append(seg.fields[0])
        for c in lp.children:
            ids.append(c.id)
            ids.extend(GuideChecker._flat(c, segs))
        return ids

    def _loop(self, lp: Any, ld: Any, hl_unit: bool = False) -> None:
        assert self.gi is not None  # structure checks run only with the transaction's guide
        li = self.gi.info(ld)
        ix = li.index
        where = f"loop {ld.id} {ld.name}"
        counts: dict[int, int] = {}
        last: tuple[int, str] | None = None  # guide position and id of the previous segment
        for seg in lp.segments:
            if seg.misplaced:
                self._misplaced(seg, where)
                continue
            cands = ix.get(seg.fields[0])
            sd = match(cands, seg) if cands else None
            if sd is None and cands and len(cands) == 1:
                sd = cands[0]  # the one segment of that id here: report its bad qualifier as a code error
            if sd is None:
                self._misplaced(seg, where, cands)
                continue
            if last is not None and sd.pos < last[0]:
                self._e("S2-SEG-002", f"segment {sd.id} {sd.name} is out of order in {where}: the guide "
                        f"puts it before {last[1]}", seg)
            else:
                last = (sd.pos, sd.id)
            self._use(sd, counts, seg, where)
            self._elements(seg, spec(sd))
        first = lp.segments[0] if lp.segments else None
        if first is not None:
            for sd in li.required:
                if id(sd) not in counts:
                    self._e("S2-SEG-003", f"Loop {ld.id} {ld.name}: required segment {sd.id} {sd.name} is "
                            "missing", first, sd.id)
        self._children(lp, ld, hl_unit)

    def _children(self, lp: Any, ld: Any, hl_unit: bool = False) -> None:
        assert self.gi is not None  # structure checks run only with the transaction's guide
        li = self.gi.info(ld)
        kids = li.kids
        n: dict[str, int] = {}
        for c in lp.children:
            cd = kids.get(c.id)
            if cd is None:
                if c.segments:
                    self._misplaced(c.segments[0], f"loop {ld.id} {ld.name}")
                continue
            k = n[c.id] = n.get(c.id, 0) + 1
            if cd.repeat is not None and k == cd.repeat + 1 and c.segments:
                self._e("S2-LOOP-002", f"Loop {cd.id} {cd.name} repeats more than {cd.repeat} "
                        f"time{'s' if cd.repeat != 1 else ''}", c.segments[0])
            self._loop(c, cd)
        first = lp.segments[0] if lp.segments else None
        for cd in li.required_loops:  # (HL and claim loops arrive as their own units)
            if cd.id in n or first is None:
                continue
            self._e("S2-LOOP-001", f"Loop {cd.id} {cd.name} is required but missing", first,
                    cd.first_segment.id if cd.first_segment is not None else None)

    def _use(self, sd: Any, counts: dict[int, int], seg: Any, where: str) -> None:
        k = counts[id(sd)] = counts.get(id(sd), 0) + 1
        if sd.max_use is not None and k > sd.max_use:
            self._e("S2-SEG-004", f"segment {sd.id} {sd.name} appears {k} times in {where}; at most "
                    f"{sd.max_use} allowed", seg)

    def _misplaced(self, seg: Any, where: str, cands: list[Any] | None = None) -> None:
        sid = seg.fields[0]
        gi = self.gi
        if gi is not None and sid not in gi.ids:
            self._e("S2-SEG-001", f"segment {sid} is not a segment of the {gi.guide.kind} implementation guide",
                    seg)
        elif cands:
            q = cands[0].qual
            if q is not None:
                i = q[0]
                v = seg[i] if cands[0].elements[i - 1].composite is None else seg.component(i, 1)
                allowed = sorted(set().union(*(c.qual[1] for c in cands if c.qual)))
                self._e("S2-SEG-002", f"{sid} with qualifier {v!r} is not allowed in {where} (allowed: "
                        f"{', '.join(allowed[:12])}{'...' if len(allowed) > 12 else ''})", seg)
            else:
                self._e("S2-SEG-002", f"segment {sid} is not expected here in {where}", seg)
        else:
            self._e("S2-SEG-002", f"segment {sid} is not expected here in {where} (out of order or in the "
                    "wrong loop)", seg)

    # -- elements ----------------------------------------------------------------
    def _elements(self, seg: Any, sp: _SSpec) -> None:
        """Element and syntax checks of one segment.

        What they find depends only on the segment definition, the field values
        and the delimiters, and most segments repeat verbatim across claims
        (DTP*472, PRV, SV1 ...), so results are cached per (definition, fields)
        for the file.  A definition whose segments rarely repeat (names, claim
        ids) stops being cached; the cache is bounded.
        """
        if self._rec is not None:
            self._script.append((1, self._rec[id(seg)], sp))
            return
        d = seg.delims
        if d is not self._ec_delims:
            self._ec = {}
            self._ecp = {}
            self._ec_stats = {}
            self._ec_delims = d
        f = seg.fields
        st = self._ec_stats.get(sp)
        if st is None:
            # hits, misses (hits -1: rarely repeats, see _elements_partial; -2: not cached at all),
            # _elements_partial's hits, misses
            st = self._ec_stats[sp] = [0, 0, 0, 0]
        elif st[0] < 0 or (st[1] > _EC_TRIAL and st[0] * 4 < st[1]) or (
                sp.vol and st[1] > _EC_TRIAL_LIVE and not st[0]):  # rarely repeats: not worth a key
            if st[0] != -2:
                if st[0] != -1:
                    st[0] = -1 if sp.vol else -2
                if st[0] == -1:
                    self._elements_partial(seg, f, d, sp, st)
                    return
            self._cap = []
            self._elements_calc(f, d, sp)
            for rule, msg, element, value in self._cap:
                self._e(rule, msg, seg, element, value)
            return
        key = (sp, *f)
        hits = self._ec.get(key)
        if hits is None:
            st[1] += 1
            cap = self._cap = []
            self._elements_calc(f, d, sp)
            hits = tuple(cap)
            if len(self._ec) >= _EC_MAX:
                self._ec.clear()
            self._ec[key] = hits
        else:
            st[0] += 1
        for rule, msg, element, value in hits:
            self._e(rule, msg, seg, element, value)

    def _elements_partial(self, seg: Any, f: list[str], d: Any, sp: _SSpec, st: list[int]) -> None:
        """:meth:`_elements` of a definition whose segments rarely repeat whole (``st``: its stats).

        Their live elements (``sp.lives``: ids, names, amounts, dates) are what differs; what the
        other checks find depends on the other values, and on the live ones only through whether
        they are given (the syntax notes, trailing separators).  So that is kept per (definition,
        the other values, which live ones are given): the findings between the live elements'
        (``chunks``), and the live ones are checked each time (their values memoized as usual).
        If that key rarely repeats either, the definition is checked whole each time (-2).
        """
        n = len(f) - 1
        g = f.copy()
        for j in sp.vol:
            if j <= n:
                g[j] = g[j] != ""  # type: ignore[call-overload]
        key = (sp, *g)
        ecp = self._ecp
        chunks = ecp.get(key)
        if chunks is None:
            st[3] += 1
            if st[3] > _EC_TRIAL and st[2] * 4 < st[3]:  # rarely repeats this way either
                st[0] = -2
            marks: list[int] = []
            cap = self._cap = []
            self._elements_calc(f, d, sp, marks)
            bounds = [0, *marks, len(cap)]
            chunks = tuple(tuple(cap[bounds[k]:bounds[k + 1]]) for k in range(0, len(bounds), 2))
            if len(ecp) >= _EC_MAX:
                ecp.clear()
            ecp[key] = chunks
            found: list[_Cap] = cap
        else:
            st[2] += 1
            found = self._cap = list(chunks[0])
            rep = d.repetition
            vmemo = self._vmemo
            k = 1
            for ent in sp.lives:
                i = ent[0]
                v = f[i] if i <= n else ""
                if v and not (rep and rep in v):
                    # (_one's usual case, inline: a live element is simple and used)
                    fi = ent[5]
                    vkey = (ent[1], v, f[fi] if fi <= n else "") if fi else (ent[1], v)
                    got = vmemo.get(vkey)
                    if got is None:
                        got = self._value_found(vkey)
                    if got:
                        found.extend(got)
                elif v or ent[2]:
                    self._one(ent, f, n, rep, d.component, f[0])
                ck = chunks[k]
                if ck:
                    found.extend(ck)
                k += 1
        for rule, msg, element, value in found:
            self._e(rule, msg, seg, element, value)

    def _c(self, rule: str, msg: str, element: str | None = None, value: str | None = None) -> None:
        self._cap.append((rule, msg, element, value))

    def _elements_calc(self, f: list[str], d: Any, sp: _SSpec, marks: list[int] | None = None) -> None:
        """The element and syntax checks of one segment, into ``self._cap``; ``marks``: the
        start and end in it of each live element's findings (_SSpec.plan), given a list."""
        n = len(f) - 1
        sid = f[0]
        rep = d.repetition
        comp = d.component
        cap = self._cap
        if n > sp.nmax:
            if any(f[i] for i in range(sp.nmax + 1, n + 1)):
                self._c("S1-SEG-001", f"{sid} has {n} elements; the segment defines only {sp.nmax}",
                        f"{sid}{sp.nmax + 1:02d}")
            else:
                self._c("S1-SEG-005", f"{sid} ends with empty elements (trailing '{d.element}' separators)")
        elif n > 0 and f[n] == "":
            self._c("S1-SEG-005", f"{sid} ends with empty elements (trailing '{d.element}' separators)")
        one = self._one
        if marks is not None:
            # (a definition whose segments rarely repeat: see _elements_partial) the live elements'
            # findings are marked, to be left out of what is kept
            for ent in sp.plan:
                if ent[6]:
                    marks.append(len(cap))
                    one(ent, f, n, rep, comp, sid)
                    marks.append(len(cap))
                else:
                    one(ent, f, n, rep, comp, sid)
        else:
            for ent in sp.plan:
                one(ent, f, n, rep, comp, sid)
        if sp.syntax:
            self._syntax(f, sp)

    def _one(self, ent: tuple[Any, ...], f: list[str], n: int, rep: str | None, comp: str, sid: str) -> None:
        """The checks of one element (a ``plan`` entry) of the segment ``f`` (``n`` elements), into
        ``self._cap`` (:meth:`_elements_calc` and :meth:`_elements_partial`)."""
        i, es, req, unused, simple, fi, _ = ent
        cap = self._cap
        vmemo = self._vmemo
        v = f[i] if i <= n else ""
        if not v:
            if req:
                cap.append(("S2-ELE-001", f"{es.xid} {es.name} is required but missing", es.xid, None))
            return
        if unused:
            cap.append(("S2-ELE-002", f"{es.xid} {es.name} is not used in this guide but holds {v!r}",
                        es.xid, v))
            return
        if simple and not (rep and rep in v):
            # (the usual case, inline: one simple value, which the loop below would take as
            # its only repetition); what _value and _format find depends only on the element,
            # its value and (a date) its format qualifier's value, and values repeat across
            # segments that do not (a claim's CLM01 differs, its CLM02 and CLM05 recur)
            vkey = (es, v, f[fi] if fi <= n else "") if fi else (es, v)
            got = vmemo.get(vkey)
            if got is None:
                got = self._value_found(vkey)
            if got:
                cap.extend(got)
            return
        reps: Sequence[str]
        if rep and rep in v and sid != "ISA":
            reps = v.split(rep)
            if es.repeat is not None and len(reps) > es.repeat:
                self._c("S1-SEG-003", f"{es.xid} {es.name} repeats {len(reps)} times; at most "
                        f"{es.repeat} allowed", es.xid, v)
                reps = reps[:1]
        else:
            reps = (v,)
        for rv in reps:
            if es.comps is not None:
                # what a composite's checks find depends only on it, its value and the component
                # separator (composites recur: CLM05 11:B:1, SV101 HC:90868): memoized as values
                ckey = (es, rv, comp)
                got = vmemo.get(ckey)
                if got is None:
                    got = self._composite_found(ckey)
                if got:
                    cap.extend(got)
            else:
                if not rv:  # an empty repetition ('A^^B'): nothing to check
                    continue
                if self._value(es, rv) and es.fmt is not None:
                    fi = es.fmt.i
                    self._format(es, rv, f[fi] if fi <= n else "")

    def _composite_found(self, ckey: tuple[Any, ...]) -> tuple[_Cap, ...]:
        """What the checks of a composite's components find, for ``ckey`` (its spec, its value (one
        repetition), the component separator); kept in ``_vmemo``."""
        es, rv, comp = ckey
        outer, self._cap = self._cap, []
        cap = self._cap
        vmemo = self._vmemo
        parts = rv.split(comp)
        if len(parts) > len(es.comps) and any(parts[len(es.comps):]):
            self._c("S1-SEG-002", f"{es.xid} {es.name} has {len(parts)} components; at most "
                    f"{len(es.comps)} allowed", es.xid, rv)
        np = len(parts)
        for cs in es.comps:
            j = cs.i
            pv = parts[j - 1] if j <= np else ""
            if not pv:
                if cs.usage == "R":
                    self._c("S2-ELE-001", f"{cs.xid} {cs.name} is required but missing", cs.xid)
                continue
            if cs.usage == "N":
                self._c("S2-ELE-002", f"{cs.xid} {cs.name} is not used in this guide but holds "
                        f"{pv!r}", cs.xid, pv)
                continue
            # (memoized as a simple element's value, in _elements_calc)
            fs = cs.fmt
            vkey = (cs, pv) if fs is None else (cs, pv, parts[fs.i - 1] if fs.i <= np else "")
            got = vmemo.get(vkey)
            if got is None:
                got = self._value_found(vkey)
            if got:
                cap.extend(got)
        found = tuple(cap)
        self._cap = outer
        if len(vmemo) >= _EC_MAX:
            vmemo.clear()
        vmemo[ckey] = found
        return found

    def _value_found(self, vkey: tuple[Any, ...]) -> tuple[_Cap, ...]:
        """What :meth:`_value` and (when it passes a date) :meth:`_format` find of one value, for
        ``vkey`` (element spec, value[, its format qualifier's value]); kept in ``_vmemo``."""
        es, v = vkey[0], vkey[1]
        outer, self._cap = self._cap, []
        if self._value(es, v) and es.fmt is not None:
            self._format(es, v, vkey[2])
        got = tuple(self._cap)
        self._cap = outer
        vmemo = self._vmemo
        if len(vmemo) >= _EC_MAX:
            vmemo.clear()
        vmemo[vkey] = got
        return got

    def _format(self, es: _ESpec, v: str, fmt: str) -> None:
        """``v`` against the date/time format its qualifier ``fmt`` names (an unknown or missing
        qualifier is reported at the qualifier, so ``v`` is not judged against it)."""
        q = es.fmt
        if q is not None and q.codes is not None and fmt not in q.codes:
            return  # the qualifier's code error says it all
        why = s1.format_problem(fmt, v)
        if why is not None:
            rule = "S2-ELE-007" if s1.FORMATS[fmt][1] else "S2-ELE-006"
            self._c(rule, f"{es.xid} {es.name} {v!r} {why} (format {es.fmt.xid if es.fmt else ''} {fmt})",
                    es.xid, v)

    def _value(self, es: _ESpec, v: str) -> bool:
        """Data type, code, length and pattern checks of one non-empty value; True if none failed
        (a trailing-space warning, S2-ELE-005, is no verdict on the value).  Each check that finds
        something other than S2-ELE-005 says False where it says it."""
        if not v:
            return True
        dt = es.dt
        L = len(v)
        if dt == "AN" or dt == "ID":
            if m := _BAD_CHAR.search(v):
                bad = m.group(0)
                self._c("S1-ELE-001", f"{es.xid} {es.name} {v!r} holds a character X12 does not allow ({bad!r})",
                        es.xid, v)
                return False
            if v[-1] == " " and len(v.rstrip()) >= es.minl:
                self._c("S2-ELE-005", f"{es.xid} {es.name} {v!r} has trailing spaces", es.xid, v)
        elif dt and dt[0] == "N":
            digits = v[1:] if v[0] == "-" else v
            if not digits.isdigit() or not digits.isascii():
                self._c("S1-ELE-001", f"{es.xid} {es.name} {v!r} is not a whole number", es.xid, v)
                return False
            L = len(digits)
        elif dt == "R":
            if not _R.fullmatch(v) or v in ("-", ""):
                self._c("S1-ELE-001", f"{es.xid} {es.name} {v!r} is not a number", es.xid, v)
                return False
            # its digits: _R took an optional '-', ASCII digits and at most one '.' (str.isdigit
            # is true of exactly the ASCII digits among those characters)
            L = len(v) - (v[0] == "-") - ("." in v)
        elif dt == "DT":
            if not s1.valid_date(v):
                self._c("S1-ELE-004", f"{es.xid} {es.name} {v!r} is not a valid date (CCYYMMDD)", es.xid, v)
                return False
        elif dt == "TM":
            if not s1.valid_time(v):
                self._c("S1-ELE-005", f"{es.xid} {es.name} {v!r} is not a valid time (HHMM)", es.xid, v)
                return False
        codes = es.codes
        if codes is not None:
            if v in codes:
                return True
            # a code error says it all: no length finding on the same value
            shown = sorted(codes)
            self._c("S2-ELE-003", f"{es.xid} {es.name} {v!r} is not a valid code here (allowed: "
                    f"{', '.join(shown[:12])}{'...' if len(shown) > 12 else ''})", es.xid, v)
            return False
        ok = True
        if es.minl and L < es.minl:
            self._c("S1-ELE-002", f"{es.xid} {es.name} {v!r} is too short: at least {es.minl} characters",
                    es.xid, v)
            ok = False
        elif es.maxl and L > es.maxl:
            self._c("S1-ELE-003", f"{es.xid} {es.name} {v!r} is too long: at most {es.maxl} characters",
                    es.xid, v)
            ok = False
        if es.rx is not None and not es.rx.search(v):
            self._c("S2-ELE-004", f"{es.xid} {es.name} {v!r} does not have the required form "
                    f"(pattern {es.rx.pattern})", es.xid, v)
            ok = False
        return ok

    def _syntax(self, f: list[str], sp: _SSpec) -> None:
        sid = f[0]
        n = len(f)
        for note in sp.syntax:
            pos = note.positions
            have = [bool(f[p]) if p < n else False for p in pos]
            k = note.kind
            bad = None
            if k == "P" and any(have) and not all(have):
                bad = f"{_names(sid, pos)} must be given together"
            elif k == "R" and not any(have):
                bad = f"at least one of {_names(sid, pos)} is required"
            elif k == "E" and sum(have) > 1:
                bad = f"only one of {_names(sid, pos)} may be given"
            elif k == "C" and have[0] and not all(have[1:]):
                bad = f"when {sid}{pos[0]:02d} is given, {', '.join(f'{sid}{p:02d}' for p in pos[1:])} " \
                      "must be given too"
            elif k == "L" and have[0] and not any(have[1:]):
                bad = f"when {sid}{pos[0]:02d} is given, one of " \
                      f"{', '.join(f'{sid}{p:02d}' for p in pos[1:])} must be given too"
            if bad:
                miss = next((p for p, h in zip(pos, have) if not h), pos[0])
                self._c("S1-SEG-004", f"{sid} syntax rule {note.text}: {bad}", f"{sid}{miss:02d}")
