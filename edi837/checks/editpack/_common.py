"""Shared plumbing of the edit pack: rule declaration, run state, helpers.

Cross-claim state is the edit pack's run state (:class:`RunState`, the
pack's ``start_run``; rules reach it with ``ctx.pack_state("editpack")``):
every claim of a run is added to it after its rules ran (``on_claim``), so
each claim is checked against the patient's *earlier* claims in arrival
order, plus the history store's earlier runs; verdicts never change after the
fact.  Claims are written to the history store from ``on_verdict`` once their
verdict is final (accepted only, unless ``history_record="all"``).
"""

from __future__ import annotations

import datetime as _dt
import json
import pickle
import sqlite3
from collections import OrderedDict
from typing import Any, Callable, Iterable

from ..registry import rule
from ...model.claims import Claim, ServiceLine
from .history import Event, HistoryStore, Stay
from .mue import load_mue
from .profiles import Profile, profile_for, tables

SHORT: dict[str, str] = {}  # rule id -> short source, quoted in messages


def erule(id: str, severity: str, title: str, *, citation: str, short: str, reads: Iterable[str],
          scope: str = "claim", applies_to: Iterable[str] = ("837P", "837I"),
          cross_claim: bool = False, group: str = "", codes: Iterable[str] | None = None) -> Callable:
    """Register an edit-pack rule (SNIP type 7).

    ``codes`` (line rules): the procedure codes the rule is about; the engine
    calls the rule only for lines with one of them."""
    SHORT[id] = short
    return rule(id, severity, 7, title, reads=tuple(reads), citation=citation, scope=scope,
                applies_to=tuple(applies_to), cross_claim=cross_claim, group=group or "editpack",
                codes=codes)


class _once:
    """An attribute computed on first access and then stored on the instance
    (functools.cached_property without its lock)."""

    def __init__(self, f: Callable):
        self.f = f
        self.name = f.__name__
        self.__doc__ = f.__doc__

    def __get__(self, obj: Any, cls: Any = None) -> Any:
        if obj is None:
            return self
        v = obj.__dict__[self.name] = self.f(obj)
        return v


def say(rid: str, text: str) -> str:
    """A plain-words message that names the rule and its source."""
    return f"{text} [{rid}; source: {SHORT.get(rid, '')}]"


T = tables
CODES = tables()["codes"]
TMS = frozenset(CODES["tms"])
NEURO = frozenset(CODES["neuromodulation"])
ECT = CODES["ect"]


def fmt(d: _dt.date | None) -> str:
    return d.isoformat() if d else "no date"


def line_date(ln: ServiceLine) -> _dt.date | None:
    return ln.service_date or ln.claim.statement_from


def line_seg(ln: ServiceLine):
    return ln.service or (ln.loop.segments[0] if ln.loop.segments else None)


def proc_element(ln: ServiceLine) -> str:
    return "SV101-2" if ln.claim.kind != "837I" else "SV202-2"


def mod_element(ln: ServiceLine) -> str:
    return "SV101-3" if ln.claim.kind != "837I" else "SV202-3"


def units_element(ln: ServiceLine) -> str:
    return "SV104" if ln.claim.kind != "837I" else "SV205"


def units(ln: ServiceLine) -> float:
    return float(ln.units) if ln.units is not None else 1.0


def norm_dx(code: str) -> str:
    return code.replace(".", "").upper()


def profile(claim: Claim, ctx: Any) -> Profile:
    return view(ctx, claim).profile


def attach(ctx: Any) -> None:
    """Start the run state as :func:`profile` would: a rule that skips its
    profile look-up still starts the run state (which records the run's claims
    from then on) at the same claim as before."""
    state(ctx)


def is_facility(claim: Claim, prefix: str) -> bool:
    return claim.kind == "837I" and claim.facility_code.startswith(prefix)


def claim_is_php(claim: Claim) -> bool:
    fac = tables()["facility"]
    return claim.kind == "837I" and claim.facility_code == fac["outpatient_facility_type"] and \
        any(c.code == fac["php_condition_code"] for c in claim.condition_codes)


def claim_is_ipf(claim: Claim) -> bool:
    fac = tables()["facility"]
    if claim.kind != "837I" or claim.facility_code != fac["inpatient_facility_type"]:
        return False
    b = claim.billing
    if b is not None and any(b.taxonomy.startswith(p) for p in fac["ipf_taxonomy_prefixes"]):
        return True
    pd = claim.principal_diagnosis
    return pd is not None and pd.code.upper().startswith("F")


def claim_key(claim: Claim) -> tuple:
    t = claim.transaction
    i = t.group.interchange if t is not None and t.group is not None else None
    sender = i.sender_id if i is not None else ""
    isa, gs, st = claim.control
    return (sender, isa, gs, st, claim.claim_id)


def patient_id(claim: Claim) -> str:
    """The patient key as a JSON list (the history store's patient column)."""
    key = claim.patient_key
    if not key:
        return "[]"
    for p in key:  # plain printable ASCII without quotes or backslashes: what json.dumps writes as is
        if type(p) is not str or not (p.isascii() and p.isprintable()) or '"' in p or "\\" in p:
            return json.dumps(list(key))
    return '["' + '", "'.join(key) + '"]'


_PHP_REV = frozenset(tables()["facility"]["php_revenue_codes"])


def claim_events(claim: Claim, key: tuple | None = None) -> list[Event]:
    if key is None:
        key = claim_key(claim)
    php_claim = claim_is_php(claim)
    php_rev = _PHP_REV
    ect_rev = CODES["ect_revenue"]
    out = []
    # equal values share one object: the run keeps every line's event, so this
    # is most of the edit pack's memory (codes, NPIs, dates, units repeat)
    if _interned_size() >= _INTERN_MAX:
        _intern_clear()
    s, d, f, t = _I_STR.setdefault, _I_DATE.setdefault, _I_FLOAT.setdefault, _I_TUPLE.setdefault
    kind, bill_type = s(claim.kind or "", claim.kind or ""), claim.bill_type
    bill_type = s(bill_type, bill_type)
    cid = claim.claim_id
    for i, ln in enumerate(claim.lines):
        code, rev = ln.procedure_code, ln.revenue_code
        php = rev in php_rev or (php_claim and code not in NEURO and rev != ect_rev)
        dt = ln.service_date or claim.statement_from
        de = ln.service_date_end
        u = float(ln.units) if ln.units is not None else 1.0
        mods = tuple(ln.modifiers)
        npi = ln.rendering_npi
        out.append(Event(key, cid, kind, bill_type, s(code, code), s(rev, rev), t(mods, mods),
                         None if dt is None else d(dt, dt), None if de is None else d(de, de),
                         f(u, u), s(npi, npi), php, i))
    return out


# one shared object per value, by type; bounded (it only saves memory)
_I_STR: dict[str, str] = {}
_I_DATE: dict[Any, Any] = {}
_I_FLOAT: dict[float, float] = {}
_I_TUPLE: dict[tuple, tuple] = {}
_INTERN_MAX = 200_000


def _interned_size() -> int:
    return len(_I_STR) + len(_I_DATE) + len(_I_FLOAT) + len(_I_TUPLE)


def _intern_clear() -> None:
    for m in (_I_STR, _I_DATE, _I_FLOAT, _I_TUPLE):
        m.clear()


def claim_stay(claim: Claim, key: tuple | None = None) -> Stay | None:
    if not claim_is_ipf(claim):
        return None
    return Stay(key=key if key is not None else claim_key(claim), claim_id=claim.claim_id, bill_type=claim.bill_type,
                start=claim.admission_date or claim.statement_from, end=claim.statement_to)


class _Spill:
    """The run's own events of patients evicted from RunState's cache: a private
    temporary SQLite database (``sqlite3.connect("")``: on disk once it outgrows
    its page cache, deleted when closed), opened on first use.

    One row per eviction: the patient id and the pickled field tuples of the
    events and stays not yet saved, read back in rowid (arrival) order.  Writes
    go into an open transaction committed every ``BATCH`` rows; reads on the same
    connection see them before the commit.  Also holds the run's claim keys when
    a history store needs them (``keys``)."""

    BATCH = 500

    def __init__(self) -> None:
        self.conn: sqlite3.Connection | None = None
        self.n = 0

    def _db(self) -> sqlite3.Connection:
        if self.conn is None:
            c = self.conn = sqlite3.connect("", isolation_level=None, check_same_thread=False)
            c.execute("PRAGMA journal_mode=OFF")
            c.execute("PRAGMA synchronous=OFF")
            c.execute("PRAGMA cache_size=-4096")
            c.execute("CREATE TABLE ev (patient TEXT NOT NULL, data BLOB NOT NULL)")
            c.execute("CREATE INDEX ev_patient ON ev (patient)")
            c.execute("CREATE TABLE keys (k TEXT PRIMARY KEY) WITHOUT ROWID")
            c.execute("BEGIN")
        return self.conn

    def _wrote(self, n: int) -> None:
        self.n += n
        if self.n >= self.BATCH:
            self.conn.execute("COMMIT")
            self.conn.execute("BEGIN")
            self.n = 0

    def save(self, pid: str, evs: list[Event], stays: list[Stay]) -> None:
        data = pickle.dumps(([tuple(e) for e in evs],
                             [(s.key, s.claim_id, s.bill_type, s.start, s.end) for s in stays]),
                            protocol=pickle.HIGHEST_PROTOCOL)
        self._db().execute("INSERT INTO ev VALUES (?, ?)", (pid, data))
        self._wrote(1)

    def load(self, pid: str) -> tuple[list[Event], list[Stay]]:
        evs: list[Event] = []
        stays: list[Stay] = []
        if self.conn is None:
            return evs, stays
        for (data,) in self.conn.execute("SELECT data FROM ev WHERE patient = ? ORDER BY rowid", (pid,)):
            es, ss = pickle.loads(data)
            evs.extend(Event(*t) for t in es)
            stays.extend(Stay(*t) for t in ss)
        return evs, stays

    @staticmethod
    def _k(key: tuple) -> str:
        return json.dumps(list(key))

    def add_key(self, key: tuple) -> None:
        self._db().execute("INSERT OR IGNORE INTO keys VALUES (?)", (self._k(key),))
        self._wrote(1)

    def has_key(self, key: tuple) -> bool:
        if self.conn is None:
            return False
        return self.conn.execute("SELECT 1 FROM keys WHERE k = ?", (self._k(key),)).fetchone() is not None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class _RunKeys:
    """The set of claim keys committed in this run (only kept with a history
    store, to filter its rows): the newest in memory, the rest in the spill."""

    RECENT = 4096

    def __init__(self, spill: _Spill):
        self.spill = spill
        self.recent: set[tuple] = set()

    def add(self, key: tuple) -> None:
        if key in self.recent:
            return
        if len(self.recent) >= self.RECENT:
            for k in self.recent:
                self.spill.add_key(k)
            self.recent.clear()
        self.recent.add(key)

    def __contains__(self, key: object) -> bool:
        return key in self.recent or (isinstance(key, tuple) and self.spill.has_key(key))


class RunState:
    """The edit pack's state for one engine run.

    The run's events and stays are kept per patient in an LRU cache of at most
    ``editpack_cache`` patients (option; default ``CACHE``); a patient pushed
    out of it goes to a temporary SQLite database (:class:`_Spill`) and is read
    back, in arrival order, when one of its claims comes again.  So memory does
    not grow with the number of claims of a run."""

    CACHE = 1000

    def __init__(self, options: Any):
        self.options = opts = options
        self.profiles: dict[str, Profile] = {}
        self.limits: dict[tuple, tuple | None] = {}  # MUE-001: (profile, professional, code) -> limit
        # pid -> [events, stays, events saved in the spill, stays saved, store's (events, stays) or None]
        self.cache: OrderedDict[str, list] = OrderedDict()
        self.cache_size = opts.editpack_cache or self.CACHE
        self.spill = _Spill()
        self.keys = _RunKeys(self.spill)
        self.pending: dict[tuple, tuple] = {}
        self.cur: list | None = None
        h = opts.history
        self.history: HistoryStore | None = None
        if isinstance(h, HistoryStore):
            self.history = h
        elif h:
            self.history = HistoryStore(h)
        self.record_mode = opts.history_record
        m = opts.mue
        self.mue = load_mue(m) if m else None

    # what the rules ask of the current claim, computed once per claim
    def _c(self, claim: Claim) -> "ClaimView":
        c = self.cur
        if c is None or c.claim is not claim:
            c = self.cur = ClaimView(self, claim)
        return c

    def current(self, claim: Claim) -> list[Event]:
        return self._c(claim).events

    def _entry(self, pid: str) -> list:
        """The patient's cache entry, read back from the spill (and the store) on a miss."""
        cache = self.cache
        ent = cache.get(pid)
        if ent is not None:
            cache.move_to_end(pid)
            return ent
        evs, stays = self.spill.load(pid)
        hist = None
        if self.history is not None:
            hist = (self.history.events_for(pid), self.history.stays_for(pid))
        ent = cache[pid] = [evs, stays, len(evs), len(stays), hist]
        while len(cache) > self.cache_size:
            old, (oe, os_, ne, ns, _) = cache.popitem(last=False)
            if len(oe) > ne or len(os_) > ns:
                self.spill.save(old, oe[ne:], os_[ns:])
        return ent

    def _hist(self, pid: str) -> tuple[list[Event], list[Stay]]:
        if self.history is None:
            return [], []
        return self._entry(pid)[4]

    def patients_in_memory(self) -> int:
        """How many patients' events the run holds in Python objects (at most the cache size)."""
        return len(self.cache)

    def events_in_memory(self) -> int:
        return sum(len(e[0]) + len(e[1]) for e in self.cache.values())

    def earlier(self, claim: Claim) -> list[Event]:
        """The patient's earlier lines: this run's, then the store's (other interchanges).

        Computed once per claim (nothing changes until the claim is committed);
        callers must not modify the list."""
        return self._c(claim).earlier

    def earlier_stays(self, claim: Claim) -> list[Stay]:
        return self._c(claim).earlier_stays

    def _earlier(self, cv: "ClaimView", which: int) -> list:
        """The patient's earlier events (``which=0``) or stays (1): the store's of
        other interchanges not in this run, then this run's."""
        ent = self._entry(cv.pid)
        own = ent[which]
        if self.history is None:
            return own
        src = cv.key[:2]
        keys = self.keys
        return [x for x in ent[4][which] if x.source != src and x.key not in keys] + own

    def on_claim(self, claim: Claim) -> None:
        """The claim's rules ran: it now counts among the patient's earlier claims."""
        c = self._c(claim)
        evs, pid, key = c.events, c.pid, c.key
        ent = self._entry(pid)  # loads the store's view before this run records the patient
        ent[0].extend(evs)
        stay = claim_stay(claim, key)
        if stay is not None:
            ent[1].append(stay)
        if self.history is not None:  # keys only filter the store's events
            self.keys.add(key)
            self.pending[(claim.file, claim.control[0], claim.seq)] = (
                pid, key, claim.kind or "", claim.bill_type, stay, claim_is_php(claim), evs)
        self.cur = None

    def on_verdict(self, cr: Any) -> None:
        """A final verdict: an accepted claim (or any, with history_record='all') goes to the store."""
        rec = self.pending.pop((cr.file, cr.interchange, cr.claim_seq), None)
        if rec is None or self.history is None:
            return
        if cr.verdict != "accepted" and self.record_mode != "all":
            return
        pid, key, kind, bt, stay, php, evs = rec
        self.history.record(pid, key, kind=kind, bill_type=bt, stay=stay, php=php,
                            verdict=cr.verdict, file=cr.file, events=evs)


class ClaimView:
    """What the rules ask of one claim, each part computed on first use and then
    kept until the next claim (``RunState.cur``): its events, patient id and key,
    the patient's earlier events and stays, its payer profile, and indexes of
    the patient's events (earlier ones, then this claim's) by date and of its
    TMS courses.  Nothing here changes until the claim is committed."""

    def __init__(self, st: RunState, claim: Claim):
        self.st = st
        self.claim = claim
        self._tms: tuple | None = None
        self._last: tuple | None = None
        self.memo: dict = {}

    @_once
    def key(self) -> tuple:
        return claim_key(self.claim)

    @_once
    def pid(self) -> str:
        return patient_id(self.claim)

    @_once
    def events(self) -> list[Event]:
        """This claim's events, one per line (``events[i]`` is line ``i``)."""
        return claim_events(self.claim, self.key)

    @_once
    def earlier(self) -> list[Event]:
        return self.st._earlier(self, 0)

    @_once
    def earlier_stays(self) -> list[Stay]:
        return self.st._earlier(self, 1)

    @_once
    def profile(self) -> Profile:
        st = self.st
        key = self.claim.payer_id
        p = st.profiles.get(key)
        if p is None:
            p = st.profiles[key] = profile_for(self.claim, st.options)
        return p

    @_once
    def mine(self) -> frozenset:
        """ids of this claim's events."""
        return frozenset(map(id, self.events))

    def idx(self, ln: ServiceLine) -> int:
        return self.claim.lines.index(ln)

    @_once
    def by_date(self) -> dict:
        """date -> the patient's events of that date (earlier ones, then this claim's, in order)."""
        b: dict = {}
        for evs in (self.earlier, self.events):
            for e in evs:
                lst = b.get(e.date)
                if lst is None:
                    b[e.date] = [e]
                else:
                    lst.append(e)
        return b

    @_once
    def ranged(self) -> bool:
        """Whether any dated event of the patient spans more than one day."""
        return any(e.date is not None and e.date_end and e.date_end != e.date
                   for evs in (self.earlier, self.events) for e in evs)

    def on_date(self, ln: ServiceLine, d: Any, same_claim: str = "before") -> list[Event]:
        """``[e for e in others(ctx, claim, ln, same_claim=...) if e.date == d]``, from the date
        index (the last answer is kept: several rules ask it in turn for one line)."""
        last = self._last
        if last is not None and last[0] is ln and last[1] == d and last[2] == same_claim:
            return last[3]
        lst = self.by_date.get(d)
        if not lst:
            out = []
        else:
            idx = self.claim.lines.index(ln)
            if same_claim == "before":
                mine = self.mine
                out = [e for e in lst if e.seq < idx or id(e) not in mine]
            else:
                own = self.events[idx]
                out = [e for e in lst if e is not own]
        self._last = (ln, d, same_claim, out)
        return out

    def others(self, ln: ServiceLine | None, same_claim: str = "before") -> list[Event]:
        memo = self.memo
        mk = (ln, same_claim)
        try:
            return memo[mk]
        except KeyError:
            pass
        except TypeError:  # an unhashable line: no memo
            mk = None
        cur = self.events
        idx = self.claim.lines.index(ln) if ln is not None else len(cur)
        if same_claim == "before":
            mine = cur[:idx]
        else:
            mine = [e for e in cur if e.seq != idx]
        out = self.earlier + mine
        if mk is not None:
            memo[mk] = out
        return out

    def tms_course(self, d: Any, gap: int, tms: frozenset) -> tuple[list[Event], Any, Any]:
        """(the patient's dated TMS events whose dates fall in the course holding ``d``,
        start, end): courses are runs of dates at most ``gap`` days apart, over the
        TMS dates of the patient (earlier and this claim) and ``d``."""
        t = self._tms
        if t is None or t[0] != gap or t[1] is not tms:
            evs = [e for evs in (self.earlier, self.events) for e in evs if e.code in tms and e.date]
            t = self._tms = (gap, tms, evs, {e.date for e in evs}, {})
        _, _, evs, dset, memo = t
        got = memo.get(d)
        if got is None:
            dates = sorted(dset | {d}) if d not in dset else sorted(dset)
            i = dates.index(d)
            j = i
            while j > 0 and (dates[j] - dates[j - 1]).days <= gap:
                j -= 1
            start = dates[j]
            k = i
            while k + 1 < len(dates) and (dates[k + 1] - dates[k]).days <= gap:
                k += 1
            end = dates[k]
            got = memo[d] = ([e for e in evs if start <= e.date <= end], start, end)
        return got


def view(ctx: Any, claim: Claim) -> ClaimView:
    """The current claim's :class:`ClaimView` (starts the run state if needed)."""
    st = state(ctx)
    c = st.cur
    if c is None or c.claim is not claim:
        c = st.cur = ClaimView(st, claim)
    return c


def state(ctx: Any) -> RunState:
    """The edit pack's run state (``ctx.pack_state``: started on first use)."""
    st: RunState = ctx.pack_state("editpack")
    return st


def others(ctx: Any, claim: Claim, ln: ServiceLine | None = None, *, same_claim: str = "before"
           ) -> list[Event]:
    """Earlier events of the patient plus this claim's lines (memoised per line; do not modify).

    ``same_claim="before"``: only lines before ``ln`` in this claim; ``"all"``:
    every other line of this claim.
    """
    return view(ctx, claim).others(ln, same_claim)


def where(e: Event) -> str:
    return f"claim {e.claim_id}"
