"""Issue 13 item 10: PHI redaction of reports, and no member id in the history store."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from edi837.checks import Engine
from edi837.checks.editpack.history import MIGRATIONS, HistoryStore
from edi837.checks.editpack.synth import build
from edi837.cli import main
from edi837.outputs.redact import file_values, mask_text
from evs import found  # noqa: E402

MEMBER = "ZQ81726354"  # an invented member id, easy to find in bytes


def store_bytes(path: Path) -> bytes:
    """The store's file with its journal files (WAL, shared memory)."""
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def tms_file(isa: str, claim: str, day: dt.date) -> bytes:
    return build("837P", [{"id": claim, "lines": [{"code": "90868", "date": day.isoformat()}]}],
                 member=MEMBER, isa=isa)


def test_store_keeps_a_keyed_hash_of_the_patient_not_the_member_id(tmp_path):
    hist = tmp_path / "h.sqlite"
    day = dt.date(2025, 3, 3)
    found(Engine(snip="7", history=str(hist)).run_file(tms_file("000000001", "A1", day), file="a.x12"))
    st = HistoryStore(hist)
    assert st.count() == 1
    pid = st.conn.execute("SELECT patient FROM claims").fetchone()[0]
    assert MEMBER not in pid and len(pid) == 64  # HMAC-SHA256, hex
    st.close()
    assert MEMBER.encode() not in store_bytes(hist)
    # the store still finds the patient's earlier claims: the same session on the
    # same day in a later file is a repeat (TMS-003 or MUE), which needs the store
    fs = found(Engine(snip="7", history=str(hist)).run_file(tms_file("000000002", "A2", day), file="b.x12"))
    assert any(f.severity.value == "error" and f.claim_id == "A2" for f in fs)
    fresh = found(Engine(snip="7").run_file(tms_file("000000002", "A2", day), file="b.x12"))
    assert not any(f.severity.value == "error" for f in fresh)
    assert MEMBER.encode() not in store_bytes(hist)


def test_each_store_has_its_own_secret(tmp_path):
    a, b = HistoryStore(tmp_path / "a.sqlite"), HistoryStore(tmp_path / "b.sqlite")
    assert a.patient_hash('["P", "M1"]') != b.patient_hash('["P", "M1"]')
    assert a.patient_hash('["P", "M1"]') == HistoryStore(tmp_path / "a.sqlite").patient_hash('["P", "M1"]')


def test_schema_1_store_with_plain_ids_is_migrated_by_hashing_them(tmp_path):
    hist = tmp_path / "old.sqlite"
    pid = f'["SYNHP1", "{MEMBER}"]'
    con = sqlite3.connect(hist, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    for sql in MIGRATIONS[1]:
        con.execute(sql)
    con.execute("PRAGMA user_version = 1")
    for n in range(40):  # several pages of plain ids
        key = ("EDI837SYNTH", f"{n:09d}", str(n), "0001", f"C{n}")
        con.execute("INSERT INTO claims VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (*key, pid, "837P", "", None, None, 0, 0, "accepted", "old.x12", "2025-01-01"))
        con.execute("INSERT INTO lines VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (*key, 1, pid, "90868", "", "[]", "2025-03-03", None, 1.0, "1324509870", 0))
    con.close()
    assert MEMBER.encode() in store_bytes(hist)
    st = HistoryStore(hist)
    assert st.version == 3
    evs = st.events_for(pid)  # callers still pass the plain patient key
    assert len(evs) == 40 and {e.code for e in evs} == {"90868"}
    assert st.conn.execute("SELECT count(*) FROM claims WHERE patient = ?", (st.patient_hash(pid),)
                           ).fetchone()[0] == 40
    assert st.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    st.close()
    assert MEMBER.encode() not in store_bytes(hist)


# -- redacted reports ------------------------------------------------------------------
# an invented family: every one of these is PHI the reports must not show with --redact
PHI_837 = """\
ISA*00*          *00*          *ZZ*EDI837SYNTH    *ZZ*SYNTHPAYER     *251120*0800*^*00501*000004471*0*T*:~
GS*HC*EDI837SYNTH*SYNTHPAYER*20251120*0800*4471*X*005010X222A1~
ST*837*0001*005010X222A1~
BHT*0019*00*B00014471*20251120*0800*CH~
NM1*41*2*SYNTHETIC CLEARINGHOUSE*****46*SUB0001~
PER*IC*BILLING DESK*TE*2175550100~
NM1*40*2*SYNTHETIC HEALTH PLAN*****46*SYNPLAN01~
HL*1**20*1~
PRV*BI*PXC*2084P0800X~
NM1*85*2*SYNAPSE PSYCHIATRY ASSOCIATES*****XX*1582739409~
N3*400 CORTEX AVE STE 2~
N4*SPRINGFIELD*IL*627040123~
REF*EI*990012345~
HL*2*1*22*1~
SBR*P*18*GRP00417******CI~
NM1*IL*7*QUILLFEATHER*ROSALIND*M***MI*ZQ81726354~
N3*77 LARKSPUR CRESCENT~
N4*BRAMBLETON*ZZ*22148~
DMG*D8*19640412*Q~
NM1*PR*2*SYNTHETIC HEALTH PLAN*****PI*SYNHP1~
HL*3*2*23*0~
PAT*19~
NM1*QC*1*QUILLFEATHER*TOBIAS*J**III*MI*ZQ81726354X~
N3*77 LARKSPUR CRESCENT NORTH BUILDING OF THE WESTERN GARDEN COURTS*APT 4~
N4*BRAMBLETON*VA*2214~
DMG*D8*20100815*M~
CLM*QF7731*450***11:B:1*Y*A*Y*Y~
HI*ABK:F332*ABF:F411~
NM1*82*1*OKAFOR*SAMUEL****XX*1672039488~
PRV*PE*PXC*2084P0800X~
LX*1~
SV1*HC:90867*450*UN*1*11**1~
DTP*472*D8*20251103~
SE*32*0001~
GE*1*4471~
IEA*1*000004471~
"""
PHI_STRINGS = ["QUILLFEATHER", "ROSALIND", "TOBIAS", "ZQ81726354", "LARKSPUR", "BRAMBLETON", "22148",
               "19640412", "20100815", "2010-08-15"]
PHI_WORDS = [r"\b2214\b", r"\bAPT 4\b", r"\bIII\b"]


def phi_file(tmp_path: Path) -> Path:
    p = tmp_path / "family.x12"
    p.write_text(PHI_837)
    return p


def leaks(text: str) -> list[str]:
    return [s for s in PHI_STRINGS if s.lower() in text.lower()] + \
        [w for w in PHI_WORDS if re.search(w, text, re.I)]


def cli(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, list(args))
    return res.exit_code, res.stdout, res.stderr


def places(report: dict) -> list[tuple]:
    return [(f["rule"], f["segment_seq"], f["line"], f["byte_offset"], f["loop"], f["segment_id"],
             f["element"], f["claim_id"], f["line_number"]) for f in report["findings"]]


def test_redacted_json_report_keeps_claim_ids_and_positions(tmp_path):
    p = str(phi_file(tmp_path))
    code, plain, _ = cli("validate", p, "--format", "json")
    assert code == 1
    assert set(leaks(plain)) == set(PHI_STRINGS) | set(PHI_WORDS)  # the fixture shows them all
    code_r, red, _ = cli("validate", p, "--format", "json", "--redact")
    assert code_r == code
    assert leaks(red) == []
    a, b = json.loads(plain), json.loads(red)
    assert places(a) == places(b) and len(places(b)) >= 6
    assert a["claims"] == b["claims"] and b["claims"][0]["claim_id"] == "QF7731"
    assert a["summary"] == b["summary"]
    by = {(f["rule"], f["element"]): f for f in b["findings"]}
    # the quoted segments keep their separators, element count and non-PHI elements
    assert by[("S2-ELE-003", "NM102")]["segment_text"] == \
        "NM1*IL*7*[redacted]*[redacted]*[redacted]***MI*[redacted]"
    assert by[("S2-ELE-002", "NM109")]["value"] == "[redacted]"
    assert by[("S5-ZIP-001", "N403")]["segment_text"] == "N4*[redacted]*VA*[redacted]"
    assert by[("TMS-009", "DMG02")]["segment_text"] == "DMG*D8*[redacted]*M"
    assert "separate patient (2000C, [redacted] [redacted])" in by[("S4-SBR-001", "SBR02")]["message"]
    assert "claim QF7731" in by[("S4-SBR-001", "SBR02")]["message"]


def test_redacted_text_report(tmp_path):
    p = str(phi_file(tmp_path))
    _, plain, _ = cli("validate", p, "--info")
    assert leaks(plain)
    code, red, _ = cli("validate", p, "--info", "--redact")
    assert code == 1
    assert leaks(red) == []
    assert "claim #1 'QF7731': REJECTED" in red
    assert "at line 16, segment 16, NM102, loop 2010BA" in red
    assert "at line 26, segment 26, DMG02, loop 2010CA, service line 1" in red
    # the same lines, only the masked values differ
    assert len(red.splitlines()) == len(plain.splitlines())


def test_gate_report_json_is_redacted_not_the_claims(tmp_path):
    p = str(phi_file(tmp_path))
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["gate", p, "--out", str(out), "--redact", "--now", "2026-01-02T10:00"])
    assert res.exit_code == 1, res.output
    report = (out / "family.report.json").read_text()
    assert leaks(report) == []
    assert json.loads(report)["claims"][0]["claim_id"] == "QF7731"
    assert leaks(res.stdout) == []
    # the split claims go to the payer as they came: they keep the patient's data
    assert "QUILLFEATHER" in (out / "family.rejected.x12").read_text()


def test_mask_text_words_phrases_and_claim_id():
    vals = file_values_of(PHI_837)
    assert mask_text("Larkspur Crescent and 77 larkspur crescent, Brambleton.", [vals]) == \
        "Larkspur Crescent and [redacted], [redacted]."
    assert mask_text("born 08/15/2010 or 2010-08-15", [vals]) == "born [redacted] or [redacted]"
    assert mask_text("claim ZQ81726354 for ZQ81726354", [vals], keep="ZQ81726354") == \
        "claim ZQ81726354 for ZQ81726354"
    assert mask_text("ZQ81726354X, ZQ817263545", [vals]) == "[redacted], ZQ817263545"


def file_values_of(text: str):
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".x12", delete=False) as f:
        f.write(text)
    try:
        return file_values(f.name)
    finally:
        os.unlink(f.name)
