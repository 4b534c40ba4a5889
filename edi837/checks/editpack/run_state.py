"""The edit pack's state over one run (:class:`RunState`, the pack's
``start_run``) and what the rules ask of the current claim (:class:`ClaimView`).

Cross-claim rules are order-free (see docs/editpack.md, "Batches"): a claim is
checked against its patient's *other* claims that passed the per-claim checks
(in this run, and accepted in the history store's earlier runs), whatever their
arrival order; "earlier" means an earlier date of service (on the same date:
the history store's claims first, then by sender and CLM01).  The engine runs the
rules in two phases (:mod:`edi837.checks.twophase`):

1. as claims arrive, each is checked against the claims of its patient seen so
   far that passed their own checks (``begin_claim`` / ``on_claim``), and is
   then added to them if it passed (``passed``);
2. when every claim of the run is in, ``stale`` names the claims whose answer
   could differ with the final set: a claim that passed arrived after a claim
   it may concern (its dates are not after the other's last date), or a claim
   seen as passed was rejected after all (``claim_settled``: an envelope error
   found later).  Those are checked again against the final set
   (``begin_claim(..., recheck=True)``).

Claims are written to the history store from ``on_verdict`` once their verdict
is final (accepted only, unless ``history_record="all"``).  Rules reach the run
state with ``ctx.pack_state("editpack")`` through :func:`state`, :func:`view`
and :func:`profile`.
"""

from __future__ import annotations

import bisect
import heapq

import datetime as _dt
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Callable, Generic, TypeVar, overload

from ...model.claims import Claim, ServiceLine
from .claim_events import claim_events, claim_stay
from .claim_facts import claim_is_php, claim_key, patient_id, patient_id_of
from .history import Event, HistoryStore, Stay
from .mue import load_mue
from .profiles import Profile, choice_key, choose_profile
from .spill import Spill
from .tms_course import course_bounds

if TYPE_CHECKING:
    from ..engine import Context

_T = TypeVar("_T")

# a patient's cache entry: [events of the run's passed claims, their stays, events
# saved in the spill, stays saved, the store's (events, stays) or None, the run's
# claims of the patient as (uid, first date, last date, passed) ordinals, claims
# saved, the latest last date among them, the sorted index of _ordered (with a count of
# the patient's multi-day events, the run's events per sender and CLM01, and the store's
# senders and CLM01s)]
_Entry = list[Any]
_NO_DATE = _dt.date.min
# a patient of at most this many events on other claims is indexed whole for each claim (a dict by
# date, every TMS date); of more, the date-sorted events are searched (ClaimView._day, tms_course)
_FEW = 64
_REPLACING = ("7", "8")  # CLM05-3 replacement, void
# ClaimView parts that depend on the claim and the options alone (not on the run's other claims or
# its numbering): a twin run state's view of the same claim may hand them over (RunState.twin)
_SHARED = ("profile_choice", "profile", "key", "pid")


Rank = tuple[int, str, str, tuple[str, ...], int]


def rank(e: Event) -> Rank:
    """Order of claims on one date of service: the history store's first, then by
    sender and CLM01, then the rest of the claim key (never by arrival: the same
    claims shuffled, or cut into other files, keep their order); the run's number
    only separates claims with equal keys."""
    k = e.key
    return (1 if e.uid else 0, k[0], e.claim_id, k, e.uid)


def _span(evs: list[Event], stay: Stay | None) -> tuple[int, int]:
    """(first, last) date of a claim's events (and stay) as ordinals; (0, 0) without dates."""
    lo = hi = 0
    for e in evs:
        d = e.date
        if d is None:
            continue
        o = d.toordinal()
        if not lo or o < lo:
            lo = o
        end = e.date_end
        oe = end.toordinal() if end is not None and end > d else o
        if oe > hi:
            hi = oe
    if stay is not None:
        for d in (stay.start, stay.end):
            if d is not None:
                o = d.toordinal()
                if not lo or o < lo:
                    lo = o
                if o > hi:
                    hi = o
    return lo, hi


class _once(Generic[_T]):
    """An attribute computed on first access and then stored on the instance
    (functools.cached_property without its lock)."""

    def __init__(self, f: Callable[[Any], _T]):
        self.f = f
        self.name = f.__name__
        self.__doc__ = f.__doc__

    @overload
    def __get__(self, obj: None, cls: Any = None) -> _once[_T]: ...

    @overload
    def __get__(self, obj: object, cls: Any = None) -> _T: ...

    def __get__(self, obj: Any, cls: Any = None) -> _once[_T] | _T:
        if obj is None:
            return self
        v = self.f(obj)
        obj.__dict__[self.name] = v
        return v


class RunState:
    """The edit pack's state for one engine run.

    The events and stays of the run's passed claims are kept per patient in an
    LRU cache of at most ``editpack_cache`` patients (option; default
    ``CACHE``); a patient pushed out of it goes to a temporary SQLite database
    (:class:`Spill`) and is read back when one of its claims comes again.  So
    memory does not grow with the number of claims of a run."""

    CACHE = 1000

    def __init__(self, options: Any):
        self.options = opts = options
        # choice_key(claim) -> (profile, why it was chosen)
        self.profiles: dict[Any, tuple[Profile, str]] = {}
        # MUE-001: (profile, professional, code) -> (limit, MAI, source) or None
        self.limits: dict[tuple[Profile, bool, str], tuple[int, int, str] | None] = {}
        self.cache: OrderedDict[str, _Entry] = OrderedDict()
        self.cache_size = opts.editpack_cache or self.CACHE
        self.spill = Spill()
        self.cur: ClaimView | None = None
        # the claim about to be checked: (uid, passed its own checks, checked again)
        self.next: tuple[int, bool, bool] | None = None
        self.uids = 0  # claims numbered here when nobody numbers them (begin_claim)
        self.dropped: set[int] = set()  # seen as passed, then rejected by an envelope error
        self.stale: set[int] = set()  # claims to check again against the final set
        # uid -> where the claim is, for messages (set by the engine's two-phase run)
        self.where: Callable[[int], str] = lambda uid: f"claim #{uid} of this run"
        # the run state of the engine that ran this run's per-claim rules in this process, when
        # there is one (set by the engine): what its view of the claim being checked already
        # holds that does not depend on the run (the payer profile, the claim key, the patient)
        # is taken, not computed again
        self.twin: Callable[[], RunState | None] | None = None
        h = opts.history
        self.history: HistoryStore | None = None
        if isinstance(h, HistoryStore):
            self.history = h
            h.new_session()  # what an earlier run state recorded through it is history here
        elif h:
            self.history = HistoryStore(h)
        self.record_mode = opts.history_record
        m = opts.mue
        self.mue = load_mue(m) if m else None

    def profile_choice(self, claim: Claim) -> tuple[Profile, str]:
        """The claim's payer profile and why it was chosen (kept per payer id,
        or per payer id, SBR09 and payer state when those decide)."""
        key = choice_key(claim, self.options)
        got = self.profiles.get(key)
        if got is None:
            if len(self.profiles) >= 10000:
                self.profiles.clear()
            got = self.profiles[key] = choose_profile(claim, self.options)
        return got

    def claim_note(self, claim: Claim) -> dict[str, str]:
        """What the reports show on the claim's result: the payer profile the
        edit pack applied and why (``PackRun.claim_note``)."""
        c = self.cur
        prof, why = c.profile_choice if c is not None and c.claim is claim else self.profile_choice(claim)
        return {"profile": prof.name, "profile_reason": why}

    # -- the two phases ------------------------------------------------------
    def begin_claim(self, claim: Claim, uid: int, passed: bool = True, recheck: bool = False) -> None:
        """The next claim checked is ``claim``, number ``uid`` of the run;
        ``passed``: it passed its own (per-claim) checks so far; ``recheck``:
        phase 2 (it is in the run state already)."""
        self.next = (uid, passed, recheck)
        if self.cur is not None and self.cur.claim is claim:
            self.cur = None

    def claim_view(self, claim: Claim) -> "ClaimView":
        """What the rules ask of ``claim``, computed once per claim (the current claim's view)."""
        c = self.cur
        if c is None or c.claim is not claim:
            nxt = self.next
            if nxt is None:
                self.uids += 1
                nxt = self.next = (self.uids, True, False)
            c = self.cur = ClaimView(self, claim, nxt[0])
            tw = self.twin
            if tw is not None:
                o = tw()
                oc = o.cur if o is not None else None
                if oc is not None and oc.claim is claim:
                    od, cd = oc.__dict__, c.__dict__
                    for k in _SHARED:
                        if k in od:
                            cd[k] = od[k]
        return c

    def _entry(self, pid: str) -> _Entry:
        """The patient's cache entry, read back from the spill (and the store) on a miss."""
        cache = self.cache
        ent = cache.get(pid)
        if ent is not None:
            cache.move_to_end(pid)
            return ent
        evs, stays, claims = self.spill.load(pid)
        hist: tuple[list[Event], list[Stay]] | None = None
        if self.history is not None:
            hist = (self.history.events_for(pid), self.history.stays_for(pid))
        ent = cache[pid] = [evs, stays, len(evs), len(stays), hist, claims, len(claims),
                            max((c[2] for c in claims), default=0), None]
        while len(cache) > self.cache_size:
            old, (oe, os_, ne, ns, _, oc, nc, _, _) = cache.popitem(last=False)
            if len(oe) > ne or len(os_) > ns or len(oc) > nc:
                self.spill.save(old, oe[ne:], os_[ns:], oc[nc:])
        return ent

    def patients_in_memory(self) -> int:
        """How many patients' events the run holds in Python objects (at most the cache size)."""
        return len(self.cache)

    def events_in_memory(self) -> int:
        return sum(len(e[0]) + len(e[1]) for e in self.cache.values())

    def peers(self, claim: Claim) -> list[Event]:
        """The patient's events on other claims (see :attr:`ClaimView.peers`)."""
        return self.claim_view(claim).peers

    def peer_stays(self, claim: Claim) -> list[Stay]:
        return self.claim_view(claim).peer_stays

    def on_claim(self, claim: Claim) -> None:
        """The claim's rules ran: if it passed its own checks, it now counts among
        its patient's claims for the claims checked after it."""
        c = self.claim_view(claim)
        nxt = self.next
        self.next = None
        self.cur = None
        if nxt is not None and nxt[2]:  # checked again: already in
            return
        passed = nxt[1] if nxt is not None else True
        evs, pid, key, uid = c.events, c.pid, c.key, c.uid
        ent = self._entry(pid)  # loads the store's view before this run records the patient
        stay = claim_stay(claim, key, uid) if claim.kind == "837I" else None  # (an IPF claim is an 837I)
        lo, hi = _span(evs, stay)
        if passed:
            if lo and lo <= ent[7]:  # it may concern claims already checked: they are checked again
                stale = self.stale
                for u, _lo, c_hi, _p in ent[5]:
                    if c_hi >= lo:
                        stale.add(u)
            ent[0].extend(evs)
            if stay is not None:
                ent[1].append(stay)
        ent[5].append((uid, lo, hi, passed))
        if hi > ent[7]:
            ent[7] = hi
        if self.history is not None:
            self.spill.put_pending(uid, (pid, key, claim.kind or "", claim.bill_type, stay,
                                         claim_is_php(claim), evs, claim.frequency))

    def claim_settled(self, uid: int, patient_key: tuple[str, ...], passed: bool) -> None:
        """Claim ``uid``'s own checks are final (its interchange ended): a claim
        counted as passed that an envelope error rejected no longer counts, and
        the claims checked after it with it are checked again."""
        if passed:
            return
        ent = self._entry(patient_id_of(patient_key))
        me = next((c for c in reversed(ent[5]) if c[0] == uid), None)
        if me is None or not me[3]:
            return
        self.dropped.add(uid)
        lo = me[1]
        if lo:
            for u, _lo, hi, _p in ent[5]:
                if u > uid and hi >= lo:
                    self.stale.add(u)

    def recheck(self) -> set[int]:
        """Phase 2: the claims to check again against the final set (then forgotten)."""
        out, self.stale = self.stale, set()
        return out

    def interchange_accepted(self, sender: str, isa13: str) -> bool:
        """Whether the history store holds claims of interchange (ISA06, ISA13)."""
        return self.history is not None and self.history.has_interchange(sender, isa13)

    def on_verdict(self, cr: Any) -> None:
        """A final verdict: an accepted claim (or any, with history_record='all') goes to the store."""
        if self.history is None:
            return
        rec = self.spill.pop_pending(cr.run_uid)
        if rec is None:
            return
        if cr.verdict != "accepted" and self.record_mode != "all":
            return
        pid, key, kind, bt, stay, php, evs, freq = rec
        self.history.record(pid, key, kind=kind, bill_type=bt, stay=stay, php=php,
                            verdict=cr.verdict, file=cr.file, events=evs, freq=freq)


class ClaimView:
    """What the rules ask of one claim, each part computed on first use and then
    kept until the next claim (``RunState.cur``): its events, patient id and key,
    the patient's events and stays on other claims (:attr:`peers`), its payer
    profile, and indexes of the patient's events by date and of its TMS
    courses.  Nothing here changes while the claim is checked."""

    def __init__(self, st: RunState, claim: Claim, uid: int):
        self.st = st
        self.claim = claim
        self.uid = uid
        # tms_course and _day of a patient of many events: (gap, codes, date) -> course, date -> events
        self._tms: dict[tuple[int, frozenset[str], _dt.date], tuple[list[Event], _dt.date, _dt.date]] | None = None
        self._days: dict[_dt.date | None, list[Event]] | None = None
        # (gap, TMS codes, the patient's dated TMS events, their dates, the same sorted, (start, end)
        # -> the events of that course): tms_course of few events
        self._tms_few: tuple[int, frozenset[str], list[Event], set[_dt.date], list[_dt.date],
                             dict[tuple[_dt.date, _dt.date], list[Event]]] | None = None
        self._last: tuple[ServiceLine, Any, str, list[Event]] | None = None
        self.memo: dict[Any, Any] = {}

    @_once
    def key(self) -> tuple[str, ...]:
        return claim_key(self.claim)

    @_once
    def rank(self) -> Rank:
        k = self.key
        return (1, k[0], k[4], k, self.uid)

    @_once
    def pid(self) -> str:
        return patient_id(self.claim)

    @_once
    def events(self) -> list[Event]:
        """This claim's events, one per line (``events[i]`` is line ``i``)."""
        return claim_events(self.claim, self.key, self.uid)

    @_once
    def _entry(self) -> _Entry:
        return self.st._entry(self.pid)

    @_once
    def versions(self) -> list[Event]:
        """Events of the patient's other claims with this claim's sender and CLM01
        (earlier copies, originals it replaces, replacements of it): never
        :attr:`peers` (DUP-001 reads them)."""
        return self._split()[1]

    def may_have_versions(self) -> bool:
        """False when :attr:`versions` is surely empty: no event of the run and no
        row of the history store has this claim's sender and CLM01 (the usual case,
        found without :attr:`peers`, which DUP-001 alone would not need)."""
        got = self.__dict__.get("versions")
        if got is not None:
            return bool(got)
        ent = self._entry
        _ordered(ent)  # (brings the entry's counts up to date, as peers would)
        key = self.key
        me = (key[0], key[4])
        counts = ent[8]
        return bool(counts[5].get(me)) or me in counts[7]

    @_once
    def peers(self) -> list[Event]:
        """The patient's events on other claims: the run's claims that passed
        their own checks, then the history store's (other claim keys), without
        other versions of this claim (:attr:`versions`) and without what a
        replacement (CLM05-3 7) or void (8) supersedes; sorted by date of
        service and :func:`rank` (never by arrival)."""
        return self._split()[0]

    def _split(self) -> tuple[list[Event], list[Event]]:
        """(:attr:`peers`, :attr:`versions`), both kept (whichever is asked first computes the two)."""
        ent = self._entry
        uid, key = self.uid, self.key
        me = (key[0], key[4])
        dropped = self.st.dropped
        out: list[Event] = []
        versions: list[Event] = []
        hist, run = _ordered(ent)
        if hist:
            # the store's rows are earlier runs' (this run's own are pending, or its
            # session's, which the store leaves out): never hidden by key, so an ISA13
            # used again hides no history (issue 14 item 3); only a stored line that a
            # claim of this run repeats exactly (its key and line: the same file again)
            # counts once, as the run's
            again = {_line_id(e) for e in ent[0] if not (dropped and e.uid in dropped)}
            for e in hist:
                if (e.key[0], e.claim_id) == me:
                    versions.append(e)
                elif _line_id(e) not in again:
                    out.append(e)
        if dropped:
            run = [e for e in run if e.uid not in dropped]
        sender, cid = me
        # (the claim's own events, there when it is checked again, have its sender and CLM01)
        if not ent[8][5].get(me):  # the usual case: no event of the run has them, so no copy
            mine = run
        else:  # (list comprehensions: this runs over all of a patient's events for each of its claims)
            mine = [e for e in run if e.claim_id != cid or e.key[0] != sender]
            versions += [e for e in run if e.claim_id == cid and e.key[0] == sender and e.uid != uid]
        replacing = ent[8][3] and any(e.freq in _REPLACING for e in mine)
        if replacing:
            out = sorted(_supersede(out + mine), key=_order)
        elif out and mine:  # both in date order already: merged, not sorted again
            out = list(heapq.merge(out, mine, key=_order))
        else:
            out = out or mine
        d = self.__dict__
        d["peers"] = out
        d["versions"] = versions
        return out, versions

    @_once
    def peer_stays(self) -> list[Stay]:
        """The patient's IPF stays on other claims (the claims of :attr:`peers`)."""
        ent = self._entry
        uid, key = self.uid, self.key
        me = (key[0], key[4])
        dropped = self.st.dropped
        out = []
        if ent[4] is not None:
            again = {_stay_id(s) for s in ent[1] if not (dropped and s.uid in dropped)}
            out = [s for s in ent[4][1] if (s.key[0], s.claim_id) != me and _stay_id(s) not in again]
        out += [s for s in ent[1] if s.uid != uid and not (dropped and s.uid in dropped)
                and (s.key[0], s.claim_id) != me]
        if any(e.freq in _REPLACING for e in ent[0]):
            kept = {(e.key, e.uid) for e in self.peers}
            out = [s for s in out if (s.key, s.uid) in kept]
        return out

    @_once
    def profile_choice(self) -> tuple[Profile, str]:
        """(the claim's payer profile, why it was chosen)."""
        return self.st.profile_choice(self.claim)

    @_once
    def profile(self) -> Profile:
        return self.profile_choice[0]

    @_once
    def mine(self) -> frozenset[int]:
        """ids of this claim's events."""
        return frozenset(map(id, self.events))

    def idx(self, ln: ServiceLine) -> int:
        return self.claim.lines.index(ln)

    def before(self, e: Event, d: _dt.date) -> bool:
        """Whether peer event ``e`` comes before this claim's line of date ``d``:
        an earlier date of service, or the same date and a lower :func:`rank`."""
        ed = e.date
        if ed is None:
            return False
        return ed < d or (ed == d and rank(e) < self.rank)

    @_once
    def by_date(self) -> dict[_dt.date | None, list[Event]]:
        """date -> the patient's events of that date (peers, then this claim's): for a
        patient of few events (see :meth:`_day`)."""
        b: dict[_dt.date | None, list[Event]] = {}
        for evs in (self.peers, self.events):
            for e in evs:
                lst = b.get(e.date)
                if lst is None:
                    b[e.date] = [e]
                else:
                    lst.append(e)
        return b

    def _day(self, d: _dt.date | None) -> list[Event]:
        """The patient's events of date ``d`` (peers, then this claim's).  Of a patient
        of many events, a slice of :attr:`peers`, which are sorted by date, found by
        bisection: no index of every date of the patient's history for each claim (of
        few, :attr:`by_date` is cheaper)."""
        if len(self.peers) <= _FEW:
            return self.by_date.get(d) or []
        days = self._days
        if days is None:
            days = self._days = {}
        got = days.get(d)
        if got is None:
            peers = self.peers
            # (events without a date sort first, see _order)
            i = _first_on(peers, d) if d is not None else 0
            j = i
            n = len(peers)
            while j < n and peers[j].date == d:
                j += 1
            got = days[d] = peers[i:j] + [e for e in self.events if e.date == d]
        return got

    @_once
    def ranged(self) -> bool:
        """Whether any dated event of the patient spans more than one day."""
        for e in self.events:  # (any(_spans(e) ...), written out)
            d = e.date
            if d is not None and e.date_end and e.date_end != d:
                return True
        peers = self.peers
        got = self._entry[8]  # (set by peers: _ordered) the patient's multi-day events, counted as they came
        if got is not None and not got[6]:
            return False
        return any(_spans(e) for e in peers)

    def on_date(self, ln: ServiceLine, d: Any, which: str = "before") -> list[Event]:
        """The patient's events of date ``d`` other than line ``ln``'s: ``"before"``
        those before it (this claim's earlier lines, peers of lower :func:`rank`),
        ``"all"`` every one (the last answer is kept: several rules ask it in turn
        for one line)."""
        last = self._last
        if last is not None and last[0] is ln and last[1] == d and last[2] == which:
            return last[3]
        lst = self.by_date.get(d) if len(self.peers) <= _FEW else self._day(d)
        out: list[Event]
        if not lst:
            out = []
        else:
            idx = self.claim.lines.index(ln)
            if len(lst) == 1 and lst[0] is self.events[idx]:  # (the usual case: the line alone that day)
                out = []
                self._last = (ln, d, which, out)
                return out
            mine = self.mine
            if which == "before":
                r = self.rank
                out = [e for e in lst if (e.seq < idx if id(e) in mine else rank(e) < r)]
            else:
                own = self.events[idx]
                out = [e for e in lst if e is not own]
        self._last = (ln, d, which, out)
        return out

    def others(self, ln: ServiceLine) -> list[Event]:
        """The patient's events before line ``ln`` (peers before its date, see
        :meth:`before`, then this claim's earlier lines)."""
        memo = self.memo
        mk = ("others", ln)
        try:
            got: list[Event] = memo[mk]
            return got
        except KeyError:
            pass
        except TypeError:  # an unhashable line: no memo
            mk = None  # type: ignore[assignment]
        idx = self.claim.lines.index(ln)
        d = ln.date_or_claim()
        out = [e for e in self.peers if d is not None and self.before(e, d)] + self.events[:idx]
        if mk is not None:
            memo[mk] = out
        return out

    def tms_course(self, d: _dt.date, gap: int,
                   tms: frozenset[str]) -> tuple[list[Event], _dt.date, _dt.date]:
        """(the patient's dated TMS events whose dates fall in the course holding ``d``,
        start, end): courses are runs of dates at most ``gap`` days apart, over the
        TMS dates of the patient (peers and this claim) and ``d``.  Read outwards from
        ``d`` over the date-sorted :attr:`peers`: the work is the course's, not the
        patient's whole history's."""
        peers = self.peers
        if len(peers) <= _FEW:  # a patient of few events: every TMS date of theirs, then the course
            t = self._tms_few
            if t is None or t[0] != gap or t[1] is not tms:
                evs = [e for ev in (peers, self.events) for e in ev if e.code in tms and e.date]
                dset = {e.date for e in evs if e.date is not None}
                t = self._tms_few = (gap, tms, evs, dset, sorted(dset), {})
            _, _, evs, dset, dates, got_few = t
            start, end = course_bounds(sorted(dset | {d}) if d not in dset else dates, d, gap)
            # (the claim's lines of one course share its events)
            inside = got_few.get((start, end))
            if inside is None:
                inside = got_few[(start, end)] = [e for e in evs if e.date is not None and start <= e.date <= end]
            return inside, start, end
        memo = self._tms
        if memo is None:
            memo = self._tms = {}
        mk = (gap, tms, d)
        got = memo.get(mk)
        if got is not None:
            return got
        own = sorted({e.date for e in self.events if e.code in tms and e.date is not None})
        if own and d in own:
            # a course found for another TMS date of this claim holds this one too when it spans
            # it (both are TMS dates: the same run of dates), so the course is read once a claim
            for (m_gap, m_tms, m_d), c in memo.items():
                if m_gap == gap and m_tms is tms and c[1] <= d <= c[2] and m_d in own:
                    memo[mk] = c
                    return c
        at = _first_on(peers, d)
        n = len(peers)
        # outwards from d: the next TMS date (the patient's other claims', this claim's) while it
        # is at most ``gap`` days from the course's first (last) date so far
        start, i, k = d, at - 1, bisect.bisect_left(own, d) - 1
        while True:
            pd: _dt.date | None = None
            while i >= 0:
                e = peers[i]
                ed = e.date
                if ed is None:  # (undated events sort first)
                    i = -1
                    break
                if ed < start and e.code in tms:
                    pd = ed
                    break
                i -= 1
            while k >= 0 and own[k] >= start:
                k -= 1
            od = own[k] if k >= 0 else None
            prev = od if pd is None or (od is not None and od > pd) else pd
            if prev is None or (start - prev).days > gap:
                break
            start = prev
        end, i, k = d, at, bisect.bisect_right(own, d)
        while True:
            nd: _dt.date | None = None
            while i < n:
                e = peers[i]
                ed = e.date
                if ed is not None and ed > end and e.code in tms:
                    nd = ed
                    break
                i += 1
            while k < len(own) and own[k] <= end:
                k += 1
            od = own[k] if k < len(own) else None
            nxt = od if nd is None or (od is not None and od < nd) else nd
            if nxt is None or (nxt - end).days > gap:
                break
            end = nxt
        evs = []
        for i in range(_first_on(peers, start), n):
            e = peers[i]
            if e.date is None:
                continue
            if e.date > end:
                break
            if e.code in tms:
                evs.append(e)
        evs += [e for e in self.events if e.code in tms and e.date is not None and start <= e.date <= end]
        got = memo[mk] = (evs, start, end)
        return got


def _day_of(e: Event) -> _dt.date:
    return e.date or _NO_DATE


def _first_on(evs: list[Event], d: _dt.date) -> int:
    """Index of the first of ``evs`` (sorted by :func:`_order`) dated ``d`` or later."""
    return bisect.bisect_left(evs, d, key=_day_of)


def _spans(e: Event) -> bool:
    """Whether a dated event spans more than one day."""
    return e.date is not None and bool(e.date_end) and e.date_end != e.date


def _line_id(e: Event) -> tuple[Any, ...]:
    """A line as the store keeps it: its claim's key and the line's content."""
    return (e.key, e.seq, e.code, e.revenue, e.modifiers, e.date, e.date_end, e.units)


def _stay_id(s: Stay) -> tuple[Any, ...]:
    return (s.key, s.bill_type, s.start, s.end)


def _order(e: Event) -> tuple[_dt.date, Rank, int]:
    """An event's place among its patient's: date, then :func:`rank`, then line (written out
    in :func:`_ordered` as well)."""
    return (e.date or _NO_DATE, rank(e), e.seq)


def _ordered(ent: _Entry) -> tuple[list[Event], list[Event]]:
    """A patient's events of the history store and of the run, each sorted by
    :func:`_order`, kept with the entry: the run's are added as they come (a
    binary search each, when one comes out of order), so a patient with many
    claims is not sorted again for each of them.  Only the last event's order key
    is kept (one key per event would cost memory for every cached patient)."""
    got = ent[8]
    if got is None:
        hist = sorted(ent[4][0], key=_order) if ent[4] is not None else []
        got = ent[8] = [hist, None, [], False, 0, {}, sum(map(_spans, hist)),
                        {(e.key[0], e.claim_id) for e in hist}]
    hist, last, run, _, n, ids, _, _ = got
    evs = ent[0]
    if n < len(evs):
        for e in evs[n:]:
            if e.freq in _REPLACING:
                got[3] = True  # the run has a replacement or void of this patient
            d, end, ek, cid, u = e.date, e.date_end, e.key, e.claim_id, e.uid
            if d is not None and end and end != d:  # (_spans, inline: this runs for every event)
                got[6] += 1  # multi-day events of the patient (store's and run's: ClaimView.ranged)
            me = (ek[0], cid)
            ids[me] = ids.get(me, 0) + 1  # the run's events per sender and CLM01 (ClaimView._split)
            k = (d or _NO_DATE, (1 if u else 0, ek[0], cid, ek, u), e.seq)  # (_order, inline)
            if last is None or k >= last:
                run.append(e)
                last = k
            else:
                run.insert(bisect.bisect_right(run, k, key=_order), e)
        got[1] = last
        got[4] = len(evs)
    return hist, run


def _supersede(evs: list[Event]) -> list[Event]:
    """Peers without what replacements and voids supersede: of the claims with one
    sender and CLM01, only the latest replacement (CLM05-3 7) counts, and
    nothing when the latest is a void (8); the history store's come first."""
    groups: dict[tuple[str, str], list[Event]] = {}
    for e in evs:
        groups.setdefault((e.key[0], e.claim_id), []).append(e)
    out: list[Event] = []
    for grp in groups.values():
        reps = [e for e in grp if e.freq in _REPLACING]
        if not reps:
            out.extend(grp)
            continue
        last = max(reps, key=rank)
        if last.freq == "8":
            continue
        out.extend(e for e in grp if e.key == last.key and e.uid == last.uid)
    return out


# The accessors below are on every edit-pack rule's path (several calls per
# service line): they read the started state from ``ctx.pack_states`` first and
# call ``ctx.pack_state`` (which starts it) only the first time.

def state(ctx: Context) -> RunState:
    """The edit pack's run state (``ctx.pack_state``: started on first use)."""
    st: RunState | None = ctx.pack_states.get("editpack")
    if st is None:
        st = ctx.pack_state("editpack")
    return st


def view(ctx: Context, claim: Claim) -> ClaimView:
    """The current claim's :class:`ClaimView` (starts the run state if needed)."""
    st: RunState | None = ctx.pack_states.get("editpack")
    if st is not None:
        c = st.cur
        if c is not None and c.claim is claim:
            return c
    else:
        st = ctx.pack_state("editpack")
    return st.claim_view(claim)


def profile(claim: Claim, ctx: Context) -> Profile:
    """The claim's payer profile (chosen once per payer and run)."""
    st: RunState | None = ctx.pack_states.get("editpack")
    if st is not None:
        c = st.cur
        if c is not None and c.claim is claim:  # the usual case: asked again for the current claim
            return c.profile
    return view(ctx, claim).profile
