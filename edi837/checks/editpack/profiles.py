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

Profiles are checked strictly when loaded (:func:`check_profile`): a key the
edit pack does not read (a typo such as ``course_capp``) or a value of the
wrong kind is a :class:`ProfileError` naming the file and the key.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

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


class ProfileError(ValueError):
    """A profile file that cannot be used: ``path`` and what is wrong (``detail``,
    naming the key)."""

    def __init__(self, path: str | os.PathLike[str], detail: str):
        super().__init__(f"{os.fspath(path)}: {detail}")
        self.path = os.fspath(path)
        self.detail = detail


# -- the keys a profile may set, and what their values must be ---------------------------
Check = Callable[[Any], str | None]  # None: fine; else what the value must be


def _kind(test: Callable[[Any], bool], what: str) -> Check:
    return lambda v: None if test(v) else what


def _whole(least: int) -> Check:
    return _kind(lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= least,
                 f"a whole number of at least {least}")


_TEXT = _kind(lambda v: isinstance(v, str), "text in quotes")
_NAME = _kind(lambda v: isinstance(v, str) and v.strip() != "", "a non-empty name in quotes")
_BOOL = _kind(lambda v: isinstance(v, bool), "true or false")
_DATE = _kind(lambda v: isinstance(v, _dt.date) and not isinstance(v, _dt.datetime),
              "a TOML date without quotes, like 2026-01-01")
_PROC = re.compile(r"[0-9A-Z]{5}")
_ICD = re.compile(r"[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?")
_CODES = _kind(lambda v: isinstance(v, list) and all(isinstance(c, str) and _PROC.fullmatch(c) for c in v),
               'a list of 5-character procedure codes, like ["90867", "90868"]')
_DX = _kind(lambda v: isinstance(v, list) and all(isinstance(c, str) and _ICD.fullmatch(c.upper()) for c in v),
            'a list of ICD-10-CM codes, like ["F32.2", "F33.2"]')

TMS_KEYS: dict[str, Check] = {
    "covered_dx": _DX, "ocd_warning": _BOOL, "course_cap": _whole(1), "max_90869_per_course": _whole(0),
    "course_gap_days": _whole(1), "retreatment_warn_days": _whole(0), "min_age": _whole(0),
    "physician_required": _BOOL,
}
PRIOR_AUTH_KEYS: dict[str, Check] = {"codes": _CODES, "from": _DATE, "to": _DATE, "source": _TEXT}
COVERAGE_START_KEYS: dict[str, Check] = {"date": _DATE, "codes": _CODES, "source": _TEXT}
# tables (checked by their own key lists) are marked by None
TOP_KEYS: dict[str, Check | None] = {
    "name": _NAME, "extends": _TEXT, "description": _TEXT, "source": _TEXT, "date": _DATE,
    "medicare": _BOOL, "medicare_advantage": _BOOL,
    "tms": None, "units_per_day": None, "prior_auth": None, "coverage_start": None,
}


def _check_table(path: str | os.PathLike[str], table: Any, where: str,
                 keys: dict[str, Check] | dict[str, Check | None]) -> None:
    """Check ``table``'s keys against ``keys`` (key -> check of its value; None:
    a table checked on its own), and each value's source and date (``KEY_source``,
    ``KEY_date``; ``source`` and ``date`` of the table itself)."""
    if not isinstance(table, dict):
        name = where.rstrip(".")
        raise ProfileError(path, f"{name} must be a table ([{name}])")
    for k, v in table.items():
        key = f"{where}{k}"
        if k in ("source", "date") and k not in keys:
            bad = (_TEXT if k == "source" else _DATE)(v)
        elif k in keys:
            check = keys[k]
            bad = check(v) if check is not None else None
        elif k.endswith(("_source", "_date")) and k.rsplit("_", 1)[0] in keys:
            bad = (_TEXT if k.endswith("_source") else _DATE)(v)
        else:
            scope = f" in [{where.rstrip('.')}]" if where else ""
            raise ProfileError(path, f"unknown key {key!r} (known{scope}: {', '.join(keys)}; "
                                     f"and KEY_source / KEY_date beside each)")
        if bad is not None:
            raise ProfileError(path, f"{key} = {v!r}: must be {bad}")


def check_profile(path: str | os.PathLike[str], data: dict[str, Any]) -> None:
    """Raise :class:`ProfileError` naming the key if a profile file (its own
    keys, before merging) sets a key the edit pack does not read or a value of
    the wrong kind."""
    top = dict(data)
    tables = {k: top.pop(k) for k in ("tms", "units_per_day", "prior_auth", "coverage_start") if k in top}
    _check_table(path, top, "", TOP_KEYS)
    if "tms" in tables:
        _check_table(path, tables["tms"], "tms.", TMS_KEYS)
    if "units_per_day" in tables:
        ut = tables["units_per_day"]
        codes: dict[str, Check] = {k: _whole(0) for k in (ut if isinstance(ut, dict) else ()) if not is_meta(k)}
        for k in codes:
            if not _PROC.fullmatch(k):
                raise ProfileError(path, f"units_per_day.{k}: not a 5-character procedure code "
                                         f'(like "90868" = 1)')
        _check_table(path, ut, "units_per_day.", codes)
    if "prior_auth" in tables:
        pa = tables["prior_auth"]
        if not isinstance(pa, list):
            raise ProfileError(path, "prior_auth must be a list of [[prior_auth]] entries")
        for i, entry in enumerate(pa):
            _check_table(path, entry, f"prior_auth[{i}].", PRIOR_AUTH_KEYS)
            if "codes" not in entry:
                raise ProfileError(path, f"prior_auth[{i}]: codes is missing (the procedure codes it covers)")
    if "coverage_start" in tables:
        cs = tables["coverage_start"]
        _check_table(path, cs, "coverage_start.", COVERAGE_START_KEYS)
        if "date" not in cs:
            raise ProfileError(path, "coverage_start: date is missing (the first date the payer covers TMS)")


def _read(path: Path, files: list[tuple[str, tuple[int, int]]]) -> dict[str, Any]:
    """A profile file's own keys, checked (:func:`check_profile`)."""
    try:
        with open(path, "rb") as fh:
            files.append((os.path.abspath(path), _stamp(os.fstat(fh.fileno()))))
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as e:
        raise ProfileError(path, f"not valid TOML: {e}") from None
    except OSError as e:
        raise ProfileError(path, f"cannot read: {e.strerror or e}") from None
    check_profile(path, data)
    return data


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
    paths = [path]
    seen = {str(path)}
    while True:
        parent = chain[-1].get("extends")
        if not parent and chain[-1].get("name") != "default" and path.stem != "default" \
                and "extends" not in chain[-1]:
            parent = "default"  # a user's profile fills its gaps from the defaults
        if not parent:
            break
        ppath = _path_for(parent)
        if not ppath.exists():
            raise ProfileError(paths[-1], f"extends = {parent!r}: no such profile "
                                          f"(shipped: {', '.join(shipped_profiles())})")
        if str(ppath) in seen:
            break
        seen.add(str(ppath))
        chain.append(_read(ppath, files))
        paths.append(ppath)
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
