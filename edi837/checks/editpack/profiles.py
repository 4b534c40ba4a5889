"""Payer profiles and configuration tables of the edit pack (TOML data).

A claim's profile is chosen (:func:`choose_profile`) by the option
``profile=NAME_OR_PATH`` (a shipped name such as ``ny-medicaid`` or the path of
the user's own TOML file), else by the claim's payer id (2010BB NM109) through
``data/payers.toml``, else by the claim filing indicator SBR09 (MA, MB:
``medicare``; MC: the Medicaid profile of the payer's state, 2010BB N402, when
one ships, e.g. ``ny-medicaid``), else ``default``; the choice comes with its
reason, which the reports show per claim.  A profile may ``extends = "other"``;
tables merge key by key.

Every value of a shipped profile names its source and effective date beside
it: ``KEY_source`` and ``KEY_date`` in the same table (a ``[[prior_auth]]``
entry or ``[coverage_start]`` is one value: its ``source`` and its own
``from`` / ``date``).  The loader ignores these keys where it reads values
(:func:`is_meta`).
"""

from __future__ import annotations

import datetime as _dt
import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).with_name("data")
PROFILE_DIR = DATA / "profiles"


@lru_cache(maxsize=None)
def tables() -> dict[str, Any]:
    """data/tables.toml: every configuration table with its source and date."""
    with open(DATA / "tables.toml", "rb") as fh:
        return tomllib.load(fh)


@lru_cache(maxsize=None)
def payers() -> dict[str, str]:
    with open(DATA / "payers.toml", "rb") as fh:
        return dict(tomllib.load(fh).get("payers", {}))


def is_meta(key: str) -> bool:
    """Whether a profile key is a value's metadata (its source or effective
    date), not a value."""
    return key in ("source", "date") or key.endswith(("_source", "_date"))


def shipped_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _path_for(name_or_path: str) -> Path:
    p = Path(name_or_path)
    if p.suffix == ".toml" or os.sep in name_or_path or p.exists():
        return p
    return PROFILE_DIR / f"{name_or_path}.toml"


# resolved path -> ((path, stamp) of each file read, the profile): a profile is
# read once per process and read again only when one of its files changed
_LOADED: dict[str, tuple[tuple[tuple[str, tuple[int, int]], ...], "Profile"]] = {}
_LOADED_MAX = 64


def _stamp(st: os.stat_result) -> tuple[int, int]:
    return st.st_mtime_ns, st.st_size


def _unchanged(files: tuple[tuple[str, tuple[int, int]], ...]) -> bool:
    try:
        return all(_stamp(os.stat(f)) == stamp for f, stamp in files)
    except OSError:
        return False


def _read(path: Path, files: list[tuple[str, tuple[int, int]]]) -> dict[str, Any]:
    with open(path, "rb") as fh:
        files.append((os.path.abspath(path), _stamp(os.fstat(fh.fileno()))))
        return tomllib.load(fh)


def load_profile(name_or_path: str) -> "Profile":
    """The profile of a shipped name or a TOML path, merged with what it extends
    (kept: the checks of the options and every run of the process share it)."""
    path = _path_for(name_or_path)
    if not path.exists():
        raise ValueError(f"unknown payer profile {name_or_path!r} (shipped: {', '.join(shipped_profiles())})")
    key = str(path.resolve())
    got = _LOADED.get(key)
    if got is not None and _unchanged(got[0]):
        return got[1]
    files: list[tuple[str, tuple[int, int]]] = []
    data = _read(path, files)
    chain = [data]
    seen = {str(path)}
    while True:
        parent = chain[-1].get("extends")
        if not parent and chain[-1].get("name") != "default" and path.stem != "default" \
                and "extends" not in chain[-1]:
            parent = "default"  # a user's profile fills its gaps from the defaults
        if not parent:
            break
        ppath = _path_for(parent)
        if str(ppath) in seen:
            break
        seen.add(str(ppath))
        chain.append(_read(ppath, files))
    merged: dict[str, Any] = {}
    for d in reversed(chain):
        merged = _merge(merged, d)
    merged.setdefault("name", path.stem)
    prof = Profile(merged)
    if len(_LOADED) >= _LOADED_MAX:
        _LOADED.clear()
    _LOADED[key] = (tuple(files), prof)
    return prof


class Profile:
    """A merged payer profile with typed accessors."""

    def __init__(self, data: dict[str, Any]):
        self.data = data
        self.name: str = data.get("name", "?")
        tms = data.get("tms", {})
        self.tms = tms
        self.covered_dx = [c.replace(".", "").upper() for c in tms.get("covered_dx", [])]
        self.covered_dx_source = tms.get("covered_dx_source", data.get("source", ""))
        self.ocd_warning = bool(tms.get("ocd_warning", True))
        self.course_cap = int(tms.get("course_cap", 36))
        self.max_redetermination = int(tms.get("max_90869_per_course", 2))
        self.course_gap_days = int(tms.get("course_gap_days", 30))
        self.retreatment_warn_days = int(tms.get("retreatment_warn_days", 90))
        self.min_age = int(tms.get("min_age", 18))
        self.physician_required = bool(tms.get("physician_required", True))
        self.medicare = bool(data.get("medicare", False))
        self.medicare_advantage = bool(data.get("medicare_advantage", False))
        units = dict(tables().get("units_per_day", {}))
        units.update(data.get("units_per_day", {}))
        self.units_per_day = {k: int(v) for k, v in units.items() if not is_meta(k)}
        self.prior_auth: list[dict[str, Any]] = list(data.get("prior_auth", []))
        self.coverage_start = data.get("coverage_start") or None

    def pa_requirement(self, code: str, dos: _dt.date | None) -> dict[str, Any] | None:
        for req in self.prior_auth:
            if code not in req.get("codes", ()):
                continue
            start = req.get("from")
            end = req.get("to")
            if dos is None:
                return req
            if (start is None or dos >= start) and (end is None or dos <= end):
                return req
        return None

    def __repr__(self) -> str:  # pragma: no cover
        return f"Profile({self.name})"


# SBR09 claim filing indicator codes that choose a profile (005010X222A1 2000B SBR09)
FILING_MEDICARE = {"MA": "Medicare Part A", "MB": "Medicare Part B"}
FILING_MEDICAID = "MC"


def _element(loop: Any, seg_id: str, n: int) -> str:
    """Element ``n`` of the loop's first ``seg_id`` segment (upper case), or ''."""
    if loop is None:
        return ""
    for s in loop.segments:
        if s.fields[0] == seg_id:
            return str(s[n]).strip().upper()
    return ""


def filing_indicator(claim: Any) -> str:
    """SBR09 of the claim's subscriber loop (2000B), or ''."""
    return _element(claim.subscriber_loop, "SBR", 9)


def payer_state(claim: Any) -> str:
    """N402 of the payer loop (2010BB), or ''."""
    sub = claim.subscriber_loop
    return _element(sub.child("2010BB") if sub is not None else None, "N4", 2)


def choice_key(claim: Any, options: Any) -> Any:
    """What :func:`choose_profile` depends on for ``claim``: the payer id when
    the option or the payer table decides, else (payer id, SBR09, N402)."""
    pid = claim.payer_id or ""
    if options.profile or pid in payers():
        return pid
    return (pid, filing_indicator(claim), payer_state(claim))


def choose_profile(claim: Any, options: Any) -> tuple[Profile, str]:
    """The claim's payer profile and the reason it was chosen: the option
    ``profile``, else the payer id table, else SBR09, else ``default``."""
    opt = options.profile
    if isinstance(opt, Profile):
        return opt, f"--profile {opt.name}"
    if opt:
        return load_profile(str(opt)), f"--profile {opt}"
    pid = claim.payer_id or ""
    table = payers()
    if pid in table:
        return load_profile(table[pid]), f"payer id {pid} (2010BB NM109) in payers.toml"
    sbr09 = filing_indicator(claim)
    if sbr09 in FILING_MEDICARE:
        return load_profile("medicare"), f"SBR09 {sbr09} ({FILING_MEDICARE[sbr09]})"
    if sbr09 == FILING_MEDICAID:
        st = payer_state(claim)
        name = f"{st.lower()}-medicaid"
        if st.isalpha() and len(st) == 2 and (PROFILE_DIR / f"{name}.toml").exists():
            return load_profile(name), f"SBR09 MC (Medicaid), payer state {st} (2010BB N402)"
        why = f"SBR09 MC (Medicaid), no Medicaid profile for payer state {st or '(no 2010BB N402)'}"
    elif sbr09:
        why = f"SBR09 {sbr09}"
    else:
        why = "no SBR09"
    return load_profile("default"), f"default: payer id {pid or '(none)'} not in payers.toml, {why}"


def profile_for(claim: Any, options: Any) -> Profile:
    """The claim's payer profile (:func:`choose_profile` without the reason)."""
    return choose_profile(claim, options)[0]
