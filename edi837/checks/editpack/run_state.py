"""The edit pack's state over one run (:class:`RunState`, the pack's
``start_run``) and what the rules ask of the current claim (:class:`ClaimView`).

Every claim of a run is added to the run state after its rules ran
(``on_claim``), so each claim is checked against the patient's *earlier*
claims in arrival order, plus the history store's earlier runs; verdicts never
change after the fact.  Claims are written to the history store from
``on_verdict`` once their verdict is final (accepted only, unless
``history_record="all"``).  Rules reach the run state with
``ctx.pack_state("editpack")`` through :func:`state`, :func:`view` and
:func:`profile`.
"""

from __future__ import annotations

import datetime as _dt
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Callable, Generic, TypeVar, overload

from ...model.claims import Claim, ServiceLine
from .claim_events import claim_events, claim_stay
from .claim_facts import claim_is_php, claim_key, patient_id
from .history import Event, HistoryStore, Stay
from .mue import load_mue
from .profiles import Profile, choice_key, choose_profile
from .spill import RunKeys, Spill
from .tms_course import course_bounds

if TYPE_CHECKING:
    from ..engine import Context

_T = TypeVar("_T")

# a patient's cache entry: [events, stays, events saved in the spill, stays
# saved, the store's (events, stays) or None]
_Entry = list[Any]
# a claim's events kept until its verdict: (pid, key, kind, bill type, stay, php, events)
_Pending = tuple[str, tuple[str, ...], str, str, Stay | None, bool, list[Event]]
# ClaimView's TMS course index: (gap, TMS codes, dated TMS events, their dates,
# date -> (course events, start, end))
_CourseIndex = tuple[int, frozenset[str], list[Event], set[_dt.date],
                     dict[_dt.date, tuple[list[Event], _dt.date, _dt.date]]]


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

    The run's events and stays are kept per patient in an LRU cache of at most
    ``editpack_cache`` patients (option; default ``CACHE``); a patient pushed
    out of it goes to a temporary SQLite database (:class:`Spill`) and is read
    back, in arrival order, when one of its claims comes again.  So memory does
    not grow with the number of claims of a run."""

    CACHE = 1000

    def __init__(self, options: Any):
        self.options = opts = options
        # choice_key(claim) -> (profile, why it was chosen)
        self.profiles: dict[Any, tuple[Profile, str]] = {}
        # MUE-001: (profile, professional, code) -> (limit, MAI, source) or None
        self.limits: dict[tuple[Profile, bool, str], tuple[int, int, str] | None] = {}
        # pid -> [events, stays, events saved in the spill, stays saved, store's (events, stays) or None]
        self.cache: OrderedDict[str, _Entry] = OrderedDict()
        self.cache_size = opts.editpack_cache or self.CACHE
        self.spill = Spill()
        self.keys = RunKeys(self.spill)
        self.pending: dict[tuple[str | None, str, int], _Pending] = {}
        self.cur: ClaimView | None = None
        h = opts.history
        self.history: HistoryStore | None = None
        if isinstance(h, HistoryStore):
            self.history = h
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

    def claim_view(self, claim: Claim) -> "ClaimView":
        """What the rules ask of ``claim``, computed once per claim (the current claim's view)."""
        c = self.cur
        if c is None or c.claim is not claim:
            c = self.cur = ClaimView(self, claim)
        return c

    def _entry(self, pid: str) -> _Entry:
        """The patient's cache entry, read back from the spill (and the store) on a miss."""
        cache = self.cache
        ent = cache.get(pid)
        if ent is not None:
            cache.move_to_end(pid)
            return ent
        evs, stays = self.spill.load(pid)
        hist: tuple[list[Event], list[Stay]] | None = None
        if self.history is not None:
            hist = (self.history.events_for(pid), self.history.stays_for(pid))
        ent = cache[pid] = [evs, stays, len(evs), len(stays), hist]
        while len(cache) > self.cache_size:
            old, (oe, os_, ne, ns, _) = cache.popitem(last=False)
            if len(oe) > ne or len(os_) > ns:
                self.spill.save(old, oe[ne:], os_[ns:])
        return ent

    def patients_in_memory(self) -> int:
        """How many patients' events the run holds in Python objects (at most the cache size)."""
        return len(self.cache)

    def events_in_memory(self) -> int:
        return sum(len(e[0]) + len(e[1]) for e in self.cache.values())

    def earlier(self, claim: Claim) -> list[Event]:
        """The patient's earlier lines: this run's, then the store's (other interchanges).

        Computed once per claim (nothing changes until the claim is committed);
        callers must not modify the list."""
        return self.claim_view(claim).earlier

    def earlier_stays(self, claim: Claim) -> list[Stay]:
        return self.claim_view(claim).earlier_stays

    def _earlier(self, cv: "ClaimView", which: int) -> list[Any]:
        """The patient's earlier events (``which=0``) or stays (1): the store's of
        other interchanges not in this run, then this run's."""
        ent = self._entry(cv.pid)
        own: list[Any] = ent[which]
        if self.history is None:
            return own
        src = cv.key[:2]
        keys = self.keys
        stored: list[Any] = ent[4][which]
        return [x for x in stored if x.source != src and x.key not in keys] + own

    def on_claim(self, claim: Claim) -> None:
        """The claim's rules ran: it now counts among the patient's earlier claims."""
        c = self.claim_view(claim)
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
        self._tms: _CourseIndex | None = None
        self._last: tuple[ServiceLine, Any, str, list[Event]] | None = None
        self.memo: dict[Any, Any] = {}

    @_once
    def key(self) -> tuple[str, ...]:
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

    @_once
    def by_date(self) -> dict[_dt.date | None, list[Event]]:
        """date -> the patient's events of that date (earlier ones, then this claim's, in order)."""
        b: dict[_dt.date | None, list[Event]] = {}
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
        mk: tuple[ServiceLine | None, str] | None = (ln, same_claim)
        try:
            got: list[Event] = memo[mk]
            return got
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

    def tms_course(self, d: _dt.date, gap: int,
                   tms: frozenset[str]) -> tuple[list[Event], _dt.date, _dt.date]:
        """(the patient's dated TMS events whose dates fall in the course holding ``d``,
        start, end): courses are runs of dates at most ``gap`` days apart, over the
        TMS dates of the patient (earlier and this claim) and ``d``."""
        t = self._tms
        if t is None or t[0] != gap or t[1] is not tms:
            evs = [e for evs in (self.earlier, self.events) for e in evs if e.code in tms and e.date]
            t = self._tms = (gap, tms, evs, {e.date for e in evs if e.date is not None}, {})
        _, _, evs, dset, memo = t
        got = memo.get(d)
        if got is None:
            start, end = course_bounds(sorted(dset | {d}) if d not in dset else sorted(dset), d, gap)
            got = memo[d] = ([e for e in evs if e.date is not None and start <= e.date <= end], start, end)
        return got


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


def attach(ctx: Context) -> None:
    """Start the run state as :func:`profile` would: a rule that skips its
    profile look-up still starts the run state (which records the run's claims
    from then on) at the same claim as before."""
    if "editpack" not in ctx.pack_states:
        ctx.pack_state("editpack")
