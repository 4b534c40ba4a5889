"""Shared plumbing of the edit pack: rule declaration, run state, helpers.

Cross-claim state lives on the engine (``engine.editpack``, attached lazily):
every claim of a run is added to it after its rules ran (an ``engine.hooks``
callback), so each claim is checked against the patient's *earlier* claims in
arrival order, plus the history store's earlier runs; verdicts never change
after the fact.  Claims are written to the history store from the engine's
``verdict_hooks`` once their verdict is final (accepted only, unless
``history_record="all"``).
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
          cross_claim: bool = False, group: str = "") -> Callable:
    """Register an edit-pack rule (SNIP type 7)."""
    SHORT[id] = short
    return rule(id, severity, 7, title, reads=tuple(reads), citation=citation, scope=scope,
                applies_to=tuple(applies_to), cross_claim=cross_claim, group=group or "editpack")


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
    st = state(ctx)
    key = claim.payer_id
    p = st.profiles.get(key)
    if p is None:
        p = st.profiles[key] = profile_for(claim, ctx.options)
    return p


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
    return json.dumps(list(claim.patient_key))


def claim_events(claim: Claim, key: tuple | None = None) -> list[Event]:
    if key is None:
        key = claim_key(claim)
    php_claim = claim_is_php(claim)
    php_rev = set(tables()["facility"]["php_revenue_codes"])
    out = []
    # equal values share one object: the run keeps every line's event, so this
    # is most of the edit pack's memory (codes, NPIs, dates, units repeat)
    it = _intern
    kind, bill_type = it(claim.kind or ""), it(claim.bill_type)
    for i, ln in enumerate(claim.lines):
        php = ln.revenue_code in php_rev or (php_claim and ln.procedure_code not in NEURO
                                             and ln.revenue_code != CODES["ect_revenue"])
        out.append(Event(key=key, claim_id=claim.claim_id, kind=kind,
                         bill_type=bill_type, code=it(ln.procedure_code), revenue=it(ln.revenue_code),
                         modifiers=it(tuple(ln.modifiers)), date=it(line_date(ln)),
                         date_end=it(ln.service_date_end), units=it(units(ln)), npi=it(ln.rendering_npi),
                         php=php, seq=i))
    return out


_INTERNED: dict[tuple, Any] = {}


def _intern(v: Any) -> Any:
    """One shared object per (type, value); bounded (it only saves memory)."""
    if v is None:
        return v
    k = (type(v), v)
    got = _INTERNED.get(k)
    if got is None:
        if len(_INTERNED) >= 200_000:
            _INTERNED.clear()
        _INTERNED[k] = got = v
    return got


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
        data = pickle.dumps(([(e.key, e.claim_id, e.kind, e.bill_type, e.code, e.revenue, e.modifiers,
                                e.date, e.date_end, e.units, e.npi, e.php, e.seq) for e in evs],
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

    def __init__(self, engine: Any):
        self.engine = engine
        opts = engine.options
        self.profiles: dict[str, Profile] = {}
        # pid -> [events, stays, events saved in the spill, stays saved, store's (events, stays) or None]
        self.cache: OrderedDict[str, list] = OrderedDict()
        self.cache_size = max(1, int(opts.get("editpack_cache") or self.CACHE))
        self.spill = _Spill()
        self.keys = _RunKeys(self.spill)
        self.pending: dict[tuple, tuple] = {}
        self.cur: list | None = None
        h = opts.get("history")
        self.history: HistoryStore | None = None
        if isinstance(h, HistoryStore):
            self.history = h
        elif h:
            self.history = HistoryStore(h)
        self.record_mode = opts.get("history_record", "accepted")
        if self.record_mode not in ("accepted", "all"):
            raise ValueError("history_record must be 'accepted' or 'all'")
        m = opts.get("mue")
        self.mue = load_mue(m) if m else None
        engine.hooks.append(self._commit)
        if hasattr(engine, "verdict_hooks"):
            engine.verdict_hooks.append(self._on_verdict)

    # what the rules ask of the current claim, computed once per claim
    def _c(self, claim: Claim) -> list:
        c = self.cur
        if c is None or c[0] is not claim:
            pid = patient_id(claim)
            key = claim_key(claim)
            # [claim, events, pid, key, earlier, earlier stays, memo]
            c = self.cur = [claim, claim_events(claim, key), pid, key, None, None, {}]
        return c

    def current(self, claim: Claim) -> list[Event]:
        return self._c(claim)[1]

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
        c = self._c(claim)
        if c[4] is None:
            ent = self._entry(c[2])
            own = ent[0]
            if self.history is None:
                c[4] = own
            else:
                src = c[3][:2]
                keys = self.keys
                hist = [e for e in ent[4][0] if e.source != src and e.key not in keys]
                c[4] = hist + own
        return c[4]

    def earlier_stays(self, claim: Claim) -> list[Stay]:
        c = self._c(claim)
        if c[5] is None:
            ent = self._entry(c[2])
            own = ent[1]
            if self.history is None:
                c[5] = own
            else:
                src = c[3][:2]
                keys = self.keys
                hist = [s for s in ent[4][1] if s.source != src and s.key not in keys]
                c[5] = hist + own
        return c[5]

    def _commit(self, claim: Claim, ctx: Any) -> list:
        c = self._c(claim)
        _, evs, pid, key = c[:4]
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
        return []

    def _on_verdict(self, cr: Any) -> None:
        rec = self.pending.pop((cr.file, cr.interchange, cr.claim_seq), None)
        if rec is None or self.history is None:
            return
        if cr.verdict != "accepted" and self.record_mode != "all":
            return
        pid, key, kind, bt, stay, php, evs = rec
        self.history.record(pid, key, kind=kind, bill_type=bt, stay=stay, php=php,
                            verdict=cr.verdict, file=cr.file, events=evs)


def state(ctx: Any) -> RunState:
    eng = ctx.engine
    st = getattr(eng, "editpack", None)
    if st is None:
        st = RunState(eng)
        eng.editpack = st
    return st


def others(ctx: Any, claim: Claim, ln: ServiceLine | None = None, *, same_claim: str = "before"
           ) -> list[Event]:
    """Earlier events of the patient plus this claim's lines (memoised per line; do not modify).

    ``same_claim="before"``: only lines before ``ln`` in this claim; ``"all"``:
    every other line of this claim.
    """
    st = state(ctx)
    c = st._c(claim)
    memo = c[6]
    mk = (ln, same_claim)
    try:
        return memo[mk]
    except KeyError:
        pass
    except TypeError:  # an unhashable line: no memo
        mk = None
    cur = c[1]
    idx = claim.lines.index(ln) if ln is not None else len(cur)
    mine = [e for e in cur if (e.seq < idx if same_claim == "before" else e.seq != idx)]
    out = st.earlier(claim) + mine
    if mk is not None:
        memo[mk] = out
    return out


def where(e: Event) -> str:
    return f"claim {e.claim_id}"
