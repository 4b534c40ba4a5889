"""Issue 14 item 10: the on-disk cache is not a way to run code.

A cache entry (a pickle) is loaded only from a folder and a file that no other
user could have written (owned by this user, not group/other-writable, not a
symbolic link); anything else is rebuilt, and the data is still right.  A
planted pickle whose ``__reduce__`` would create a marker file never runs from
an unsafe folder, while the same pickle in a safe folder does (so the marker
does detect a load).  A safe cache is used (the build is not called again).
"""

from __future__ import annotations

import logging
import os
import pickle
import stat
from pathlib import Path

import pytest
from lark import Lark

from edi837 import cache
from edi837 import codesets as cs
from edi837.grammar import parser as gparser
from edi837.guide import load_guide, loader


class Planted:
    """Unpickling it creates ``marker``: what an attacker's pickle would do, harmlessly."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def counting(value):
    calls = []

    def build():
        calls.append(1)
        return value
    return build, calls


def entry(tmp_path: Path, name: str = "thing.pickle") -> Path:
    d = tmp_path / "cache"
    return d / name


def test_safe_cache_is_used_and_private(tmp_path):
    path = entry(tmp_path)
    build, calls = counting({"a": 1})
    assert cache.cached(path, build, lambda o: isinstance(o, dict)) == {"a": 1}
    assert cache.cached(path, build, lambda o: isinstance(o, dict)) == {"a": 1}
    assert len(calls) == 1  # the second came from the file
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(path.parent) == [path.name]  # no temporary left


@pytest.mark.parametrize("unsafe", ["folder 777", "folder 775", "file 666", "file 620", "owner", "symlink"])
def test_unsafe_entry_is_rebuilt(tmp_path, monkeypatch, caplog, unsafe):
    path = entry(tmp_path)
    build, calls = counting([1, 2, 3])
    cache.cached(path, build, lambda o: isinstance(o, list))
    if unsafe.startswith("folder"):
        path.parent.chmod(int(unsafe.split()[1], 8))
    elif unsafe.startswith("file"):
        path.chmod(int(unsafe.split()[1], 8))
    elif unsafe == "owner":  # (files of another user: seen from a uid that is not the owner's)
        monkeypatch.setattr(os, "geteuid", lambda: path.stat().st_uid + 1)
    else:
        real = path.with_name("elsewhere.pickle")
        path.rename(real)
        path.symlink_to(real.name)
    with caplog.at_level(logging.WARNING, logger="edi837.cache"):
        assert cache.cached(path, build, lambda o: isinstance(o, list)) == [1, 2, 3]
    assert len(calls) == 2  # rebuilt, not loaded
    if unsafe.startswith("folder") or unsafe == "owner":
        assert any("cache folder not used" in r.getMessage() for r in caplog.records)


def test_planted_pickle_runs_only_from_a_safe_folder(tmp_path):
    """The control: in a folder that passes the check the planted pickle is loaded (the
    marker appears), so the marker does show a load."""
    path = entry(tmp_path)
    marker = tmp_path / "ran"
    cache.cached(path, lambda: 0, lambda o: True)
    path.write_bytes(pickle.dumps(Planted(marker)))
    path.chmod(0o600)
    cache.cached(path, lambda: 0, lambda o: False)
    assert marker.exists()


@pytest.fixture()
def fresh(monkeypatch, tmp_path):
    """An empty cache folder, and no guide, grammar or ICD table loaded in this process."""
    d = tmp_path / "cache"
    monkeypatch.setenv("EDI837_CACHE_DIR", str(d))

    def clear():
        loader._load_guide_canonical.cache_clear()
        gparser._lark.cache_clear()
        cs._ICD_TABLE = None
        cs.icd10cm_status.cache_clear()

    clear()
    monkeypatch.setattr(cs, "_ICD_TABLE", None)
    yield d, clear
    clear()


def load_all():
    """The guide, the grammar and the ICD table as a run needs them."""
    g = load_guide("837P")
    lk = gparser._lark("837P")
    return g.loop("2300").first_segment.id, type(lk), cs.icd10cm_status("F332")


@pytest.mark.parametrize("how", ["folder 777", "owner"])
def test_planted_pickles_never_run(fresh, monkeypatch, tmp_path, how):
    d, clear = fresh
    assert load_all() == ("CLM", Lark, "billable")
    names = sorted(p.name for p in d.iterdir() if p.suffix == ".pickle")  # (and content-keys.json)
    assert [n.split("-")[0] for n in names] == ["guide", "icd10cm", "lark"]
    marker = tmp_path / "ran"
    for n in names:  # each entry replaced by a pickle that would create the marker
        (d / n).write_bytes(pickle.dumps(Planted(marker)))
    if how == "folder 777":
        d.chmod(0o777)
        for n in names:
            (d / n).chmod(0o666)
    else:  # written by another user: the files and folder are not this uid's
        monkeypatch.setattr(os, "geteuid", lambda: d.stat().st_uid + 1)
    clear()
    assert load_all() == ("CLM", Lark, "billable")  # rebuilt, and right
    assert not marker.exists()


def test_grammar_tables_come_from_the_cache(fresh, monkeypatch):
    d, clear = fresh
    first = gparser._lark("837I")
    (entry_file,) = d.glob("lark-837i_*.pickle")
    clear()

    def no_build(*a, **k):
        raise AssertionError("LALR tables built although the cache was warm")

    monkeypatch.setattr(Lark, "__init__", no_build)
    again = gparser._lark("837I")  # Lark.load does not call __init__
    assert again is not first and again.parser.parser.parser.parse_table.states.keys() \
        == first.parser.parser.parser.parse_table.states.keys()
    assert entry_file.exists()


def test_icd_key_is_the_content_of_the_data(fresh, monkeypatch, tmp_path):
    """The ICD table's entry is named by a hash of the library's data files, not their dates."""
    d, _clear = fresh
    name = cs._icd_cache_file()
    assert name is not None
    import importlib.util

    data = Path(next(iter(importlib.util.find_spec("simple_icd_10_cm").submodule_search_locations))) / "data"
    files = [p for p in data.iterdir() if p.is_file() and not p.name.endswith((".py", ".pyc"))]
    assert files
    # the key is remembered with the files' stat signatures: a second call hashes nothing
    monkeypatch.setattr(Path, "read_bytes", lambda p: pytest.fail(f"{p} read again"))
    assert cs._icd_cache_file() == name


def test_content_key_follows_the_content(fresh, monkeypatch, tmp_path):
    """cache.content_key: the same content gives the same key whatever its dates; other content
    another key; an unchanged file (same stat signature) is not read again."""
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_bytes(b"alpha")
    b.write_bytes(b"beta")
    k1 = cache.content_key("s", [a, b])
    assert len(k1) == 64
    assert cache.content_key("t", [a, b]) != k1  # the salt counts
    os.utime(a, ns=(10**18, 10**18))  # other dates, same content: hashed again, same key
    assert cache.content_key("s", [a, b]) == k1
    a.write_bytes(b"alphb")  # same size, other content (and a new change time)
    k2 = cache.content_key("s", [a, b])
    assert k2 != k1
    real_read = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda p: pytest.fail(f"{p} read again"))
    assert cache.content_key("s", [a, b]) == k2  # remembered
    monkeypatch.setattr(Path, "read_bytes", real_read)
    memo = fresh[0] / "content-keys.json"
    assert stat.S_IMODE(memo.stat().st_mode) == 0o600
    memo.write_text('{"x": ')  # a broken memo is rebuilt, never an error
    assert cache.content_key("s", [a, b]) == k2
