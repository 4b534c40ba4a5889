"""The on-disk cache of compiled reference data (TR3 guides, the ICD-10-CM table).

Entries are pickles in ``$EDI837_CACHE_DIR`` (default ``~/.cache/edi837``),
named by a key that changes when their source changes.  A missing, corrupt or
unwritable cache is never an error: the caller compiles the data again.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import Any, Callable, TypeVar, cast

T = TypeVar("T")


def cache_dir() -> Path:
    d = os.environ.get("EDI837_CACHE_DIR")
    return Path(d) if d else Path.home() / ".cache" / "edi837"


def cached(path: Path | None, build: Callable[[], T], valid: Callable[[Any], bool]) -> T:
    """The object pickled at ``path`` if ``valid(obj)``, else ``build()`` (pickled
    there atomically for next time)."""
    if path is not None:
        try:
            with open(path, "rb") as f:
                loaded: Any = pickle.load(f)
            if valid(loaded):
                return cast(T, loaded)
        except Exception:  # noqa: BLE001 - a bad cache entry is rebuilt
            pass
    obj = build()
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.stem + "-", suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as f:
                    pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(tmp, path)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
        except Exception:  # noqa: BLE001 - unwritable cache: fine
            pass
    return obj
