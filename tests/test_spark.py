"""edi837.spark on a real local Spark session (skipped without pyspark / Java)."""

from __future__ import annotations

import glob
import os
import shutil
import sys

import pytest

pyspark = pytest.importorskip("pyspark")
if not (shutil.which("java") or os.environ.get("JAVA_HOME")):  # pragma: no cover
    pytest.skip("Spark needs Java", allow_module_level=True)

from edi837 import api  # noqa: E402
from edi837 import spark as es  # noqa: E402
from edi837.checks.engine import Engine  # noqa: E402
from edi837.outputs.tables import COLUMN_NAMES  # noqa: E402

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


def test_claim_lines_equal_api_lines(spark):
    assert FILES
    df = es.claim_lines(spark, FILES)
    assert df.columns == COLUMN_NAMES
    assert dict(df.dtypes)["claim_seq"] == "int"
    assert all(t == "string" for c, t in df.dtypes if c != "claim_seq")
    got = [tuple(r) for r in df.collect()]
    want = [es.line_tuple(r) for r in api.lines(FILES)]
    assert got == want  # parallelize/flatMap keep the file order
    # a folder gives the same rows as api.lines on that folder
    folder = os.path.join(ROOT, "fixtures")
    assert sorted(map(tuple, es.claim_lines(spark, folder, num_slices=3).collect()),
                  key=repr) == sorted((es.line_tuple(r) for r in api.lines(folder)), key=repr)


def _want(files):
    want_v, want_f = [], []
    names = es.finding_fields()
    for kind, obj in Engine().run(files):  # ONE run: cross-claim rules see every file
        if kind == "claim":
            want_v.append((obj.file, obj.claim_seq, obj.claim_id, obj.verdict))
        elif kind == "finding":
            want_f.append(es.finding_tuple(obj.to_dict(), names))
    return want_v, want_f


def test_verdicts_and_findings_equal_engine(spark):
    files = FILES + INVALID
    want_v, want_f = _want(files)
    names = es.finding_fields()
    v = es.verdicts(spark, files)
    assert v.columns == ["file", "claim_seq", "claim_id", "verdict"]
    assert [tuple(r) for r in v.collect()] == want_v
    f = es.findings(spark, files)
    assert f.columns == names
    assert [tuple(r) for r in f.collect()] == want_f
    assert any(r[0].startswith("TMS-") for r in want_f)


def test_cross_file_tms(spark, tmp_path):
    from edi837.checks.editpack.synth import build

    a, b = tmp_path / "a.x12", tmp_path / "b.x12"
    a.write_bytes(build("837P", [{"id": "C1", "lines": [{"code": "90867", "date": "2025-01-06"},
                                                        {"code": "90868", "date": "2025-01-07"}]}],
                        isa="000000101"))
    b.write_bytes(build("837P", [{"id": "C2", "lines": [{"code": "90868", "date": "2025-01-08"},
                                                        {"code": "90867", "date": "2025-01-09"}]}],
                        isa="000000102"))
    files = [str(a), str(b)]
    want_v, want_f = _want(files)
    assert any(r[0] == "TMS-003" for r in want_f)
    assert [tuple(r) for r in es.verdicts(spark, files, num_slices=2).collect()] == want_v
    assert [tuple(r) for r in es.findings(spark, files, num_slices=2).collect()] == want_f
