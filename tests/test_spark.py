"""edi837.spark on a real local Spark session (skipped without pyspark / Java).

Spark's rows must equal the command line's (``edi837 validate --format json`` /
``edi837 lines``) over the same files in one run, cross-claim rules included,
with the cross-claim stage grouped by patient on the executors.  One session
(local[2]) serves the whole module."""

from __future__ import annotations

import glob
import json
import os
import shutil
import sys

import pytest

pyspark = pytest.importorskip("pyspark")
if not (shutil.which("java") or os.environ.get("JAVA_HOME")):  # pragma: no cover
    pytest.skip("Spark needs Java", allow_module_level=True)

from click.testing import CliRunner  # noqa: E402

import edi837  # noqa: E402
from edi837 import api  # noqa: E402
from edi837 import spark as es  # noqa: E402
from edi837.checks.engine import Engine, RunOptions  # noqa: E402
from edi837.checks.registry import RULES  # noqa: E402
from edi837.cli import main  # noqa: E402
from edi837.outputs.tables import COLUMN_NAMES  # noqa: E402
from evs import found  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
FILES = sorted(glob.glob(os.path.join(ROOT, "fixtures", "*.x12")))
INVALID = sorted(glob.glob(os.path.join(ROOT, "fixtures", "invalid", "*.x12")))


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    # the Python workers must import edi837 from this checkout
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    s = (SparkSession.builder.master("local[2]").appName("edi837-test")
         .config("spark.ui.enabled", "false")
         .config("spark.sql.shuffle.partitions", "2")
         .config("spark.default.parallelism", "2")
         .config("spark.driver.memory", "1g")
         .config("spark.sql.execution.arrow.pyspark.enabled", "false")
         .getOrCreate())
    s.sparkContext.setLogLevel("ERROR")
    yield s
    s.stop()


def _cli(*args: str) -> str:
    res = CliRunner().invoke(main, list(args))
    assert res.exit_code in (0, 1), res.output
    return res.stdout


def _cli_report(files, *opts: str) -> tuple[list[tuple], list[tuple]]:
    """(verdict rows, finding rows) of ``edi837 validate --format json FILES``: ONE run."""
    rep = json.loads(_cli("validate", "--format", "json", *opts, *files))
    names = es.finding_fields()
    return ([(c["file"], c["claim_seq"], c["claim_id"], c["verdict"]) for c in rep["claims"]],
            [es.finding_tuple(f, names) for f in rep["findings"]])


def _rows(df) -> list[tuple]:
    return [tuple(r) for r in df.collect()]


def _pids(files) -> dict[tuple[str, int], str]:
    """(file, claim_seq) -> the patient key string Spark partitions by."""
    return {(c.file, c.seq): es._pid(c.patient_key) for f in files for tx in edi837.read(f) for c in tx.claims}


def test_claim_lines_equal_cli_lines(spark):
    assert FILES
    df = es.claim_lines(spark, FILES)
    assert df.columns == COLUMN_NAMES
    assert dict(df.dtypes)["claim_seq"] == "int"
    assert all(t == "string" for c, t in df.dtypes if c != "claim_seq")
    want = [es.line_tuple(json.loads(x)) for x in _cli("lines", "--format", "jsonl", *FILES).splitlines()]
    assert want == [es.line_tuple(r) for r in api.lines(FILES)]
    assert _rows(df) == want  # parallelize/flatMap keep the file order
    # a folder gives the same rows as api.lines on that folder
    folder = os.path.join(ROOT, "fixtures")
    assert sorted(_rows(es.claim_lines(spark, folder, num_slices=3)), key=repr) == \
        sorted((es.line_tuple(r) for r in api.lines(folder)), key=repr)


def test_verdicts_and_findings_equal_cli_on_all_fixtures(spark):
    files = FILES + INVALID
    want_v, want_f = _cli_report(files)
    names = es.finding_fields()
    v = es.verdicts(spark, files, partitions=3)
    assert v.columns == ["file", "claim_seq", "claim_id", "verdict"]
    assert _rows(v) == want_v
    f = es.findings(spark, files, partitions=3)
    assert f.columns == names
    assert _rows(f) == want_f
    assert _rows(es.verdicts(spark, [])) == [] and _rows(es.findings(spark, [], history=None)) == []
    with pytest.raises(ValueError):
        es.verdicts(spark, files, snip="9")  # on the driver, at the call
    # the invalid/ copies repeat the fixtures' TMS claim (same patient, CLM01, lines): each
    # copy is DUP-001, found only because earlier files were read in the same run (one cause,
    # one finding: not also a repeated 90867 or units over the limit)
    alone = {es.finding_tuple(x.to_dict(), names) for x in found(Engine().run(INVALID[-1:]))}
    cross = [r for r in want_f if RULES[r[0]].cross_claim]
    assert "DUP-001" in {r[0] for r in cross}
    assert [r for r in cross if r[3] == INVALID[-1] and r not in alone]


def _synth_files(tmp_path) -> tuple[list[str], str, str]:
    """Two files, each with an interchange for patient A and one for patient B:
    A's 90867 in file 2 repeats file 1's (TMS-003), B's 90868 in file 2 falls on
    the day of file 1's 90869 (TMS-001)."""
    from edi837.checks.editpack.synth import build

    def tms(cid: str, code: str, date: str) -> dict:
        return {"id": cid, "lines": [{"code": code, "date": date}]}

    one, two = tmp_path / "one.x12", tmp_path / "two.x12"
    one.write_bytes(build("837P", [tms("A1", "90867", "2024-12-02")], member="SYNA001", isa="000000101")
                    + build("837P", [tms("B1", "90869", "2024-12-02")], member="SYNB002", isa="000000102"))
    two.write_bytes(build("837P", [tms("B2", "90868", "2024-12-02")], member="SYNB002", isa="000000103")
                    + build("837P", [tms("A2", "90867", "2024-12-05")], member="SYNA001", isa="000000104"))
    files = [str(one), str(two)]
    pids = _pids(files)
    return files, pids[(files[1], 2)], pids[(files[1], 1)]


def test_cross_file_findings_of_two_patients_on_different_partitions(spark, tmp_path, monkeypatch):
    files, pid_a, pid_b = _synth_files(tmp_path)
    assert pid_a != pid_b
    # a partition count that puts A and B in different partitions of the patient stage
    parts = next(n for n in (2, 3, 4, 5, 6, 7) if es.patient_partition((pid_a, 0, 0)) % n
                 != es.patient_partition((pid_b, 0, 0)) % n)
    # ... and Spark's shuffle does put their claims there
    placed = es.by_patient(spark, files, 2, parts, RunOptions(), ("claim",)).glom().collect()
    where = {key[0]: n for n, part in enumerate(placed) for key, _ in part}
    assert where[pid_a] != where[pid_b]
    want_v, want_f = _cli_report(files)
    by_rule = {(r[0], r[11]): r for r in want_f}  # (rule, claim_id)
    assert "on claim A1" in by_rule[("TMS-003", "A2")][2]  # needs file one's claim of patient A
    assert "on claim B1" in by_rule[("TMS-001", "B2")][2]  # needs file one's claim of patient B
    # file two's claims are rejected by those cross-claim errors alone
    assert [r[2:] for r in want_v] == [("A1", "accepted"), ("B1", "accepted"), ("B2", "rejected"),
                                       ("A2", "rejected")]
    # the cross-claim stage runs on the executors (separate Python workers): on the
    # driver it would fail
    from edi837.checks.engine import Engine as E

    def driver(*a, **k):
        raise AssertionError("cross-claim rules ran on the driver")

    monkeypatch.setattr(E, "complete_claim", driver)
    assert _rows(es.verdicts(spark, files, partitions=parts, num_slices=2)) == want_v
    assert _rows(es.findings(spark, files, partitions=parts, num_slices=2)) == want_f


def test_history_and_on_verdict_match_cli(spark, tmp_path):
    """With a history store (or verdict callbacks) the cross-claim stage runs on the
    driver, in file order; a later run sees the claims the earlier one recorded."""
    files, _, _ = _synth_files(tmp_path)
    mine, cli = str(tmp_path / "spark.sqlite"), str(tmp_path / "cli.sqlite")
    seen: list = []
    got = _rows(es.verdicts(spark, files[:1], history=mine, on_verdict=seen.append))
    assert got == _cli_report(files[:1], "--history", cli)[0]
    assert [(c.claim_id, c.verdict) for c in seen] == [(r[2], r[3]) for r in got]
    want_v, want_f = _cli_report(files[1:], "--history", cli)
    assert any(r[0] == "TMS-003" and r[11] == "A2" for r in want_f)  # from the store
    assert _rows(es.findings(spark, files[1:], history=mine)) == want_f
