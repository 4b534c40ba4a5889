"""Issue 13 item 10: PHI redaction of reports, and no member id in the history store."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from edi837.checks import Engine
from edi837.checks.editpack.history import MIGRATIONS, HistoryStore
from edi837.checks.editpack.synth import build
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
    assert st.version == 2
    evs = st.events_for(pid)  # callers still pass the plain patient key
    assert len(evs) == 40 and {e.code for e in evs} == {"90868"}
    assert st.conn.execute("SELECT count(*) FROM claims WHERE patient = ?", (st.patient_hash(pid),)
                           ).fetchone()[0] == 40
    assert st.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    st.close()
    assert MEMBER.encode() not in store_bytes(hist)
