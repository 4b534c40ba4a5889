"""Check the edit pack's run options up front, so a bad one is a usage error
naming the option and the file, not a failure in the middle of a run."""

from __future__ import annotations

import os
from typing import Any


def check_options(options: Any) -> None:
    """Raise ValueError with a plain message if ``profile``, ``mue`` or
    ``history`` cannot be used."""
    prof = options.profile
    if prof:
        from .profiles import Profile, ProfileError, _path_for, load_profile

        if isinstance(prof, Profile):
            pass  # loaded (and checked) already
        elif not isinstance(prof, (str, os.PathLike)):
            raise ValueError(f"profile: a profile name or the path of a TOML file, not {type(prof).__name__}")
        else:
            try:
                load_profile(os.fspath(prof))
            except ProfileError as e:  # names the key; the file only when it is not the one given
                own = os.path.abspath(e.path) == os.path.abspath(_path_for(os.fspath(prof)))
                raise ValueError(f"--profile {prof}: {e.detail if own else e}") from None
            except (OSError, ValueError, KeyError, TypeError) as e:
                raise ValueError(f"--profile {prof}: {e}") from None
    mue = options.mue
    if mue:
        from .mue import load_mue

        try:
            load_mue(mue)
        except (OSError, ValueError, KeyError, UnicodeDecodeError) as e:
            raise ValueError(f"--mue {mue}: cannot read the MUE file: {e}") from None
    hist = options.history
    if hist and isinstance(hist, (str, os.PathLike)):
        d = os.path.dirname(os.path.abspath(hist)) or "."
        if os.path.isdir(hist):
            raise ValueError(f"--history {hist}: is a folder; give the path of an SQLite file")
        if not os.path.isdir(d):
            raise ValueError(f"--history {hist}: folder {d} does not exist")
        if os.path.exists(hist):
            with open(hist, "rb") as f:
                head = f.read(16)
            if head and head != b"SQLite format 3\x00":
                raise ValueError(f"--history {hist}: not an SQLite database")
