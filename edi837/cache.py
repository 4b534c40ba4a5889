"""The on-disk cache of compiled reference data (TR3 guides, the ICD-10-CM table, the
LALR tables of the grammars), for start-up speed.

Entries are pickles in ``$EDI837_CACHE_DIR`` (default ``~/.cache/edi837``), each
named by a hash of its source's content (the map XML, the ICD-10-CM data files,
the grammar text) and of the versions of the code that compiles it, so a changed
source gets a new entry.  A missing, corrupt, foreign or unwritable cache is
never an error: the caller compiles the data again.

**The cache is not a way to run code.**  Loading a pickle runs what its writer
chose, so an entry is read only when nobody but this user could have written it
(:func:`_safe_dir`, :func:`_load`):

- the folder is a folder owned by this user (the effective uid) and not
  writable by group or others (``mode & 0o022 == 0``);
- the entry is a regular file in it (never a symbolic link: ``O_NOFOLLOW``),
  owned by this user and not writable by group or others;
- both checks are made on the open descriptors that are then read (the file is
  opened relative to the checked folder), so nothing can be swapped between the
  check and the load.

The folder is created ``0700`` and entries are written ``0600`` (a unique
temporary name, then an atomic rename).  A folder that fails the check (say
``chmod 777``, a shared folder, another user's) is neither read nor written, with
one warning in the log: every run compiles the data, as without a cache.  Where
ownership cannot be checked (no ``os.geteuid``, e.g. Windows) the cache is not
used.  The folders above the cache folder are not checked: they are the user's
(``~/.cache``) or chosen by whoever sets ``EDI837_CACHE_DIR``.
"""

from __future__ import annotations

import logging
import os
import pickle
import re
import secrets
import stat
from pathlib import Path
from typing import IO, Any, Callable, TypeVar, cast

from . import logs

T = TypeVar("T")
log = logs.get("cache")

_POSIX = hasattr(os, "geteuid") and hasattr(os, "O_DIRECTORY") and os.open in os.supports_dir_fd
_warned: set[str] = set()


def cache_dir() -> Path:
    d = os.environ.get("EDI837_CACHE_DIR")
    return Path(d) if d else Path.home() / ".cache" / "edi837"


def _mine(st: os.stat_result) -> bool:
    """Owned by this user, and neither group nor others may write it."""
    return st.st_uid == os.geteuid() and not st.st_mode & 0o022


def _safe_dir(d: Path, create: bool = False) -> int | None:
    """An open descriptor of the cache folder ``d`` (created ``0700`` when ``create``) if it
    passes the check of the module doc, else None."""
    if not _POSIX:
        return None
    try:
        if create:
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:  # missing or not a folder: nothing to read, nowhere to write
        return None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode) and _mine(st):
            return fd
    except OSError:
        pass
    os.close(fd)
    if str(d) not in _warned:
        _warned.add(str(d))
        logs.log(log, logging.WARNING, "cache folder not used: not yours, or writable by others "
                 "(make it yours, mode 700)", folder=str(d))
    return None


def _load(dfd: int, name: str, load: Callable[[IO[bytes]], Any]) -> tuple[bool, Any]:
    """``(True, load(entry))`` for the entry ``name`` of the checked folder ``dfd`` when it is a
    regular file that only this user could have written, else ``(False, None)``."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
    except OSError:
        return False, None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not (stat.S_ISREG(st.st_mode) and _mine(st)):
            return False, None
        return True, load(f)


def _store(dfd: int, name: str, obj: Any, dump: Callable[[Any, IO[bytes]], None]) -> None:
    """Write ``obj`` as the entry ``name`` of the checked folder ``dfd``: mode 0600, under a
    unique temporary name, then renamed over the entry."""
    tmp = f".{name}-{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                 dir_fd=dfd)
    try:
        with os.fdopen(fd, "wb") as f:
            dump(obj, f)
        os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=dfd)
        except OSError:
            pass
        raise


def _pickle(obj: Any, f: IO[bytes]) -> None:
    pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)


def cached(path: Path | None, build: Callable[[], T], valid: Callable[[Any], bool], *,
           dump: Callable[[Any, IO[bytes]], None] = _pickle,
           load: Callable[[IO[bytes]], Any] = pickle.load) -> T:
    """The object stored at ``path`` if it may be read (module doc) and ``valid(obj)``, else
    ``build()`` (stored there for next time).  ``dump``/``load`` write and read an entry
    (default: pickle)."""
    if path is not None:
        dfd = _safe_dir(path.parent)
        if dfd is not None:
            try:
                found, loaded = _load(dfd, path.name, load)
                if found and valid(loaded):
                    return cast(T, loaded)
            except Exception:  # noqa: BLE001 - a bad cache entry is rebuilt
                pass
            finally:
                os.close(dfd)
    obj = build()
    if path is not None:
        dfd = _safe_dir(path.parent, create=True)
        if dfd is not None:
            try:
                _store(dfd, path.name, obj, dump)
            except Exception:  # noqa: BLE001 - unwritable cache: fine
                pass
            finally:
                os.close(dfd)
    return obj


def _json_dump(obj: Any, f: IO[bytes]) -> None:
    import json

    f.write(json.dumps(obj).encode())


def dist_version(name: str, package_dir: Path | None = None) -> str:
    """The installed version of distribution ``name`` (a cache key's part), read from the
    name of its ``NAME-VERSION.dist-info`` folder beside ``package_dir`` (the package's
    folder) when there is exactly one: ``importlib.metadata`` costs about 20 ms of
    imports (``email``, ``zipfile``) on every start-up for the same answer.  Anything
    else (an egg, an editable or zipped install) asks ``importlib.metadata``."""
    if package_dir is not None:
        norm = re.sub(r"[-_.]+", "_", name).lower()
        try:
            found = [d.name for d in package_dir.parent.iterdir()
                     if d.name.endswith(".dist-info") and d.name.lower().startswith(norm + "-")]
        except OSError:
            found = []
        if len(found) == 1:
            return found[0][len(norm) + 1:-len(".dist-info")]
    from importlib.metadata import version

    return version(name)


def content_key(salt: str, files: list[Path]) -> str:
    """A hash of ``salt`` and the names and contents of ``files``, the key of a cache entry
    compiled from them.

    Hashing the files (the ICD-10-CM data: about 10 MB) on each start-up costs more than
    loading the entry, so the key is remembered in the cache folder with each file's
    ``stat`` signature (device, inode, size, modification and change time in ns), as git's
    index does: while every file's signature is unchanged, the remembered key is used;
    otherwise the files are hashed again.  The memo is JSON (it cannot run code) and is read
    under the same checks as every entry."""
    import hashlib
    import json

    sigs = []
    for p in files:
        st = p.stat()
        sigs.append([str(p), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns])
    memo_name = "content-keys.json"
    ident = hashlib.sha256(json.dumps([salt, sigs]).encode()).hexdigest()
    memo: dict[str, str] = {}
    try:
        dfd = _safe_dir(cache_dir())
    except RuntimeError:  # no home folder
        dfd = None
    if dfd is not None:
        try:
            found, got = _load(dfd, memo_name, json.load)
            if found and isinstance(got, dict):
                memo = {k: v for k, v in got.items() if isinstance(k, str) and isinstance(v, str)}
        except Exception:  # noqa: BLE001 - a bad memo is rebuilt
            pass
        finally:
            os.close(dfd)
    key = memo.get(ident)
    if key is not None:
        return key
    h = hashlib.sha256(salt.encode())
    for p in files:
        h.update(f"|{p.name}|".encode())
        h.update(hashlib.sha256(p.read_bytes()).digest())
    key = h.hexdigest()
    if len(memo) >= 64:
        memo = {}
    memo[ident] = key
    try:
        dfd = _safe_dir(cache_dir(), create=True)
    except RuntimeError:
        dfd = None
    if dfd is not None:
        try:
            _store(dfd, memo_name, memo, _json_dump)
        except Exception:  # noqa: BLE001 - unwritable cache: fine
            pass
        finally:
            os.close(dfd)
    return key
