"""edi837.parallel: --jobs N gives exactly the rows of one job."""

from __future__ import annotations

import glob
import os

from edi837 import api, parallel

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")
FILES = sorted(glob.glob(os.path.join(FIXTURES, "*.x12")))
INVALID = sorted(glob.glob(os.path.join(FIXTURES, "invalid", "*.x12")))


def _key(f):
    return (f.rule, f.file, f.segment_seq, f.message)


def _square(x: int) -> int:
    return x * x


def test_map_files_order():
    assert list(parallel.map_files(_square, range(20), jobs=2, window=3)) == [x * x for x in range(20)]
    assert list(parallel.map_files(_square, [3], jobs=4)) == [9]
    assert list(parallel.map_files(_square, [], jobs=2)) == []


def test_jobs2_equals_jobs1_all_fixtures(tmp_path):
    files = FILES + INVALID
    assert FILES
    f1: list = []
    f2: list = []
    one = list(parallel.lines(files, jobs=1, findings=f1))
    two = list(parallel.lines(files, jobs=2, findings=f2, tmpdir=str(tmp_path)))
    assert one == list(api.lines(files))
    assert two == one
    assert [_key(f) for f in f2] == [_key(f) for f in f1]
    assert list(tmp_path.iterdir()) == []  # part files cleaned up


def test_folder_and_early_close(tmp_path):
    rows = list(parallel.lines([FIXTURES], jobs=2))
    assert rows == list(api.lines([FIXTURES]))
    it = parallel.lines(FILES, jobs=2, tmpdir=str(tmp_path))
    next(it)
    it.close()
    assert list(tmp_path.iterdir()) == []
