"""edi837.parallel: --jobs N gives exactly the rows of one job."""

from __future__ import annotations

import glob
import os

from edi837 import api, parallel
import attrs

from evs import claims, found, verdicts as verdicts_of  # noqa: E402

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


# -- validate --jobs N ---------------------------------------------------------------
def _cli_report(tmp_path, files, jobs, name):
    from click.testing import CliRunner

    from edi837.cli import main

    out = tmp_path / name
    res = CliRunner().invoke(main, ["validate", "--format", "json", "--output", str(out),
                                    "--jobs", str(jobs), *files])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.output
    return res.exit_code, out.read_bytes()


def tms_course_files(tmp_path):
    """One patient's TMS course over two files, a.x12 and b.x12: a second 90867 in file 2
    (TMS-003).  Also used by test_gate."""
    from edi837.checks.editpack.synth import build

    a, b = tmp_path / "a.x12", tmp_path / "b.x12"
    a.write_bytes(build("837P", [{"id": "C1", "lines": [{"code": "90867", "date": "2025-01-06"},
                                                        {"code": "90868", "date": "2025-01-07"}]}],
                        isa="000000101"))
    b.write_bytes(build("837P", [{"id": "C2", "lines": [{"code": "90868", "date": "2025-01-08"},
                                                        {"code": "90867", "date": "2025-01-09"}]}],
                        isa="000000102"))
    return [str(a), str(b)]


def test_validate_jobs2_report_identical_all_fixtures(tmp_path):
    files = FILES + INVALID
    code1, one = _cli_report(tmp_path, files, 1, "one.json")
    code2, two = _cli_report(tmp_path, files, 2, "two.json")
    assert two == one
    assert code2 == code1
    assert b'"TMS-' in one  # cross-claim rules ran


def test_validate_jobs2_cross_file_tms(tmp_path):
    import json

    files = tms_course_files(tmp_path)
    code1, one = _cli_report(tmp_path, files, 1, "one.json")
    code2, two = _cli_report(tmp_path, files, 2, "two.json")
    assert two == one and code2 == code1
    rep = json.loads(one)
    text = one.decode()
    assert "TMS-003" in text and "C2" in text
    # the split engines alone: the skip half misses TMS-003, the merge restores it
    from edi837.checks.engine import Engine

    skip = [o.rule for p in files for o in found(Engine(cross_claim="skip").run_file(p))]
    assert "TMS-003" not in skip
    evs = list(parallel.validate(files, jobs=2, tmpdir=str(tmp_path)))
    ref = list(Engine().run(files))
    assert [_plain(e) for e in evs] == [_plain(e) for e in ref]
    verdicts = {o.claim_id: o.verdict for o in verdicts_of(evs)}
    assert verdicts["C2"] == "rejected"
    assert rep


def test_claim_pickle_is_small():
    from edi837.model.build import stream

    path = os.path.join(FIXTURES, "multi_envelope.x12")
    read = claims(stream(path))
    assert read
    for c in read:
        back = parallel.load_claim(parallel.dump_claim(c))
        assert (back.claim_id, back.seq, back.control, back.patient_key, len(back.lines)) == \
            (c.claim_id, c.seq, c.control, c.patient_key, len(c.lines))
        assert back.transaction.claims == []


def test_a_dying_worker_is_a_message_not_a_traceback(tmp_path, monkeypatch):
    """validate/lines --jobs: a worker process killed mid-run (BrokenProcessPool in
    the parent) ends with exit 2, a message, and no output file."""
    from concurrent.futures.process import BrokenProcessPool

    from click.testing import CliRunner

    from edi837.cli import main

    def dies(*a, **k):
        if False:
            yield
        raise BrokenProcessPool("A process in the process pool was terminated abruptly")

    monkeypatch.setattr(parallel, "validate", dies)
    monkeypatch.setattr(parallel, "lines", dies)
    for cmd in (["validate", "--format", "json"], ["lines", "--format", "csv"]):
        out = tmp_path / "out"
        res = CliRunner().invoke(main, [*cmd, "--jobs", "2", "-o", str(out), *FILES[:2]])
        assert res.exit_code == 2, (cmd, res.output)
        assert "a worker process stopped" in res.output and "Traceback" not in res.output
        assert list(tmp_path.iterdir()) == []


def _plain(ev):
    """An event as comparable data: its class and its payload's fields."""
    v = next(iter(attrs.asdict(ev, recurse=False).values()))
    return type(ev).__name__, v.to_dict() if hasattr(v, "to_dict") else repr(v)
