"""Payer profiles and configuration tables of the edit pack (TOML data).

A profile is chosen by the option ``profile=NAME_OR_PATH`` (a shipped name such
as ``ny-medicaid`` or the path of the user's own TOML file), else by the
claim's payer id (2010BB NM109) through ``data/payers.toml``, else
``default``.  A profile may ``extends = "other"``; tables merge key by key.
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
        self.course_gap_days = int(tms.get("course_gap_days", 90))
        self.min_age = int(tms.get("min_age", 18))
        self.physician_required = bool(tms.get("physician_required", True))
        self.medicare = bool(data.get("medicare", False))
        self.medicare_advantage = bool(data.get("medicare_advantage", False))
        units = dict(tables().get("units_per_day", {}))
        units.update(data.get("units_per_day", {}))
        self.units_per_day = {k: int(v) for k, v in units.items() if k not in ("source", "date")}
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


def profile_for(claim: Any, options: Any) -> Profile:
    opt = options.profile
    if isinstance(opt, Profile):
        return opt
    if opt:
        return load_profile(str(opt))
    name = payers().get(claim.payer_id or "", "default")
    return load_profile(name)
