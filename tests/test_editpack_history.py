"""Cross-claim edits over a history store, the MUE loader and the rules command."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading

from click.testing import CliRunner

from edi837.checks import Engine
from edi837.cli import rules
from edi837.checks.editpack.history import SCHEMA_VERSION, HistoryStore
from edi837.checks.editpack.mue import read_mue
from edi837.checks.editpack.synth import build
from evs import found  # noqa: E402


def run_one(data, name, **opts):
    eng = Engine(snip="7", **opts)
    return found(eng.run_file(data, file=name))


def sessions(start: dt.date, n: int):
    out, d = [], start
    while len(out) < n:
        if d.weekday() < 5:
            out.append(d)
        d += dt.timedelta(days=1)
    return out


def test_series_across_files_with_history(tmp_path):
    hist = str(tmp_path / "h.sqlite")
    days = sessions(dt.date(2025, 3, 3), 40)
    # file 1: the initial session
    f1 = build("837P", [{"id": "S1", "lines": [{"code": "90867", "date": days[0].isoformat()}]}], isa="000000001")
    fs = run_one(f1, "f1.x12", history=hist)
    assert not [f for f in fs if f.severity.value == "error"]
    # files 2..: 90868 sessions, one file per week, each run on its own engine
    seen = []
    n = 1
    isa = 2
    for week in range(0, 35, 5):
        lines = [{"code": "90868", "date": d.isoformat()} for d in days[1 + week:1 + week + 5]]
        data = build("837P", [{"id": f"W{isa}", "lines": lines}], isa=f"{isa:09d}")
        seen += run_one(data, f"f{isa}.x12", history=hist)
        n += len(lines)
        isa += 1
    assert n == 36
    assert "TMS-004" not in {f.rule for f in seen}
    assert "TMS-005" not in {f.rule for f in seen}
    # a second 90867 inside the course is rejected
    data = build("837P", [{"id": "DUP", "lines": [{"code": "90867", "date": days[36].isoformat()}]}], isa="000000050")
    fs = run_one(data, "dup.x12", history=hist)
    assert "TMS-003" in {f.rule for f in fs}
    # the 37th session warns (the rejected duplicate was not recorded)
    data = build("837P", [{"id": "S37", "lines": [{"code": "90868", "date": days[37].isoformat()}]}], isa="000000051")
    fs = run_one(data, "s37.x12", history=hist)
    assert [f.severity.value for f in fs if f.rule == "TMS-005"] == ["warning"]
    assert "TMS-004" not in {f.rule for f in fs}
    # without the store the later file on its own lacks the initial session
    fs = run_one(data, "s37.x12")
    assert "TMS-004" in {f.rule for f in fs}


def test_rerun_does_not_count_twice(tmp_path):
    hist = str(tmp_path / "h.sqlite")
    data = build("837P", [{"id": "A", "lines": [{"code": "90867", "date": "2025-03-03"}]},
                          {"id": "B", "lines": [{"code": "90868", "date": "2025-03-04"}]}])
    for _ in range(3):
        fs = run_one(data, "same.x12", history=hist)
        assert not {"TMS-003", "TMS-004", "MUE-001"} & {f.rule for f in fs}
    st = HistoryStore(hist)
    assert st.count() == 2 and st.version == SCHEMA_VERSION


def test_only_accepted_claims_recorded_unless_all(tmp_path):
    bad = build("837P", [{"id": "R", "lines": [{"code": "90871", "date": "2025-03-03"}]},
                         {"id": "OK", "lines": [{"code": "90867", "date": "2025-03-03"}]}])
    h1, h2 = str(tmp_path / "a.sqlite"), str(tmp_path / "b.sqlite")
    run_one(bad, "x.x12", history=h1)
    run_one(bad, "x.x12", history=h2, history_record="all")
    assert HistoryStore(h1).count() == 1
    assert HistoryStore(h2).count() == 2


def test_cross_claim_within_one_engine_across_files():
    eng = Engine(snip="7")
    a = build("837P", [{"id": "A", "lines": [{"code": "90867", "date": "2025-03-03"}]}], isa="000000001")
    b = build("837P", [{"id": "B", "lines": [{"code": "90868", "date": "2025-03-04"},
                                            {"code": "90867", "date": "2025-03-05"}]}], isa="000000002")
    out = [o for src, n in ((a, "a"), (b, "b")) for o in found(eng.run_file(src, file=n))]
    assert "TMS-004" not in {f.rule for f in out}
    assert [(f.claim_id, f.line_number) for f in out if f.rule == "TMS-003"] == [("B", 2)]


def test_concurrent_runs_share_one_store(tmp_path):
    hist = str(tmp_path / "h.sqlite")
    errors = []

    def work(i):
        try:
            data = build("837P", [{"id": f"C{j}", "lines": [{"code": "90867", "date": "2025-03-03"}]}
                                  for j in range(20)], member=f"M{i}", isa=f"{i + 1:09d}")
            run_one(data, f"f{i}.x12", history=hist)
        except Exception as e:  # pragma: no cover
            errors.append(e)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    con = sqlite3.connect(hist)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # claim 1 of each file is accepted; 2..20 repeat 90867 on one date (TMS-003/MUE-001) and are rejected
    assert con.execute("SELECT count(*) FROM claims").fetchone()[0] == 4


MUE_CSV = """CMS Medically Unlikely Edits
Practitioner Services MUE Table - Effective 2026-01-01
"CPT codes, descriptions and other data only are copyright American Medical Association."

HCPCS/CPT Code,Practitioner Services MUE Values,MUE Adjudication Indicator,MUE Rationale
90867,1,2 Date of Service Edit: Policy,Nature of Service/Procedure
90868,1,3 Date of Service Edit: Clinical,Clinical: Data
90870,2,1 Line Edit,Nature of Service/Procedure
"""


def test_mue_file(tmp_path):
    p = tmp_path / "mue.csv"
    p.write_text(MUE_CSV)
    t = read_mue(p)
    assert t["90868"].value == 1 and t["90868"].mai == 3 and t["90868"].table == "practitioner"
    # 90870 MUE 2 with MAI 1: two lines of 1 each pass, one line of 3 fails
    two = build("837P", [{"id": "A", "pos": "22", "lines": [{"code": "90870", "date": "2025-03-03"},
                                                            {"code": "90870", "date": "2025-03-03"}]}])
    assert "MUE-001" not in {f.rule for f in run_one(two, "m.x12", mue=str(p))}
    assert "MUE-001" in {f.rule for f in run_one(two, "m.x12")}  # default profile limit 1 per day
    three = build("837P", [{"id": "A", "pos": "22", "lines": [{"code": "90870", "date": "2025-03-03", "units": 3}]}])
    fs = [f for f in run_one(three, "m.x12", mue=str(p)) if f.rule == "MUE-001"]
    assert fs and "CMS MUE practitioner table" in fs[0].message
    # MAI 3 sums across claims
    split = build("837P", [{"id": "A", "lines": [{"code": "90868", "date": "2025-03-03"}]},
                           {"id": "B", "lines": [{"code": "90868", "date": "2025-03-03"}]}])
    assert [f.claim_id for f in run_one(split, "m.x12", mue=str(p)) if f.rule == "MUE-001"] == ["B"]


def test_rules_command_lists_catalog():
    r = CliRunner().invoke(rules, ["--snip", "7"])
    assert r.exit_code == 0, r.output
    for rid in ("TMS-001", "ECT-010", "ANE-004", "PA-002", "MOD-004", "EM-001"):
        assert rid in r.output
    assert "SNIP 7" in r.output and "source:" in r.output
