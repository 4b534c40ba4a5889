"""The service loses nothing (issue 15): ``edi837 serve`` killed (SIGKILL) with
uploads in flight and started again finishes every upload it acknowledged
(202), never hands out a control number twice, never answers one upload with
another's files, and never takes an upload for a duplicate of itself.  And
back-pressure: a full queue is 429 with Retry-After."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from service_server import (ALPHA, Server, envelope, generated, segments, upload, wait_done,  # noqa: E402
                            write_config)

from edi837.checks.editpack.history import HistoryStore  # noqa: E402
from edi837.outputs.outfolder import locked  # noqa: E402


def _claims(data: bytes) -> list[str]:
    return [f[1] for f in segments(data) if f[0] == "CLM"]


def test_killed_and_restarted_the_service_finishes_every_acknowledged_upload(tmp_path):
    data = tmp_path / "data"
    cfg = write_config(tmp_path / "service.toml", batch=3)
    sent: dict[str, bytes] = {}  # acknowledged id -> the body

    def post_all(srv: Server, bodies: list[bytes]) -> None:
        with srv.client(ALPHA) as c:
            for b in bodies:
                r = c.post("/v1/interchanges", content=b)
                assert r.status_code == 202, r.text
                sent[r.json()["id"]] = b

    big = [generated(tmp_path / f"g{n}.x12", 300, n, seed=n) for n in range(2001, 2005)]
    small = [upload(n) for n in range(2005, 2011)]
    srv = Server(data, cfg).start()
    post_all(srv, [x for pair in zip(big, small) for x in pair] + small[4:])
    srv.kill()  # wherever the gate is (the big files take it a while)

    srv = Server(data, cfg).start()
    with locked(str(data / "out")):  # the gate waits for the folder: these stay in flight
        post_all(srv, [upload(n) for n in range(2011, 2014)] + [generated(tmp_path / "g5.x12", 300, 2014, seed=5)])
        con = sqlite3.connect(data / "service.sqlite")
        waiting = con.execute("SELECT count(*) FROM uploads WHERE status IN ('queued', 'running')").fetchone()[0]
        con.close()
        assert waiting >= 4
        srv.kill()  # with acknowledged uploads queued and one batch waiting in the gate

    srv = Server(data, cfg).start()
    try:
        with srv.client(ALPHA) as c:
            status = {i: wait_done(c, i) for i in sent}
            files = {i: {k: c.get(u).content for k, u in s.get("files", {}).items()} for i, s in status.items()}
    finally:
        srv.stop()
    assert {i: s["status"] for i, s in status.items()} == {i: "done" for i in sent}

    for i, src in sent.items():
        s, f, env = status[i], files[i], envelope(sent[i])
        assert "S1-ENV-015" not in s["summary"]["findings_by_rule"]  # never a duplicate of itself
        assert s["summary"]["claims"] == len(_claims(src))
        # its own answers: the 999 acknowledges its GS06 and ST02s, to its sender
        e999 = envelope(f["999"])
        assert e999["isa08"] == env["isa06"]
        seg999 = segments(f["999"])
        assert [x[2] for x in seg999 if x[0] == "AK1"] == env["gs06"]
        assert [x[2] for x in seg999 if x[0] == "AK2"] == env["st02"]
        s277 = segments(f["277ca"])
        assert sorted(x[2] for x, p in zip(s277[1:], s277) if x[0] == "TRN" and p[:2] == ["NM1", "QC"]) \
            == sorted(_claims(src))
        assert sorted(_claims(f.get("accepted", b"")) + _claims(f.get("rejected", b""))) == sorted(_claims(src))
        assert json.loads(f["report"])["files"][0]["file"] == i + ".x12"

    # no control number twice, over every output in the folder (all that were ever kept)
    isa13, gs06 = Counter(), Counter()
    out = data / "out"
    for p in out.iterdir():
        if p.name.endswith(".x12"):
            e = envelope(p.read_bytes())
            isa13.update(e["isa"])
            gs06.update(e["gs06"])
    assert isa13 and max(isa13.values()) == 1 and max(gs06.values()) == 1
    assert not [p.name for p in out.iterdir() if p.name.endswith(".part")]
    assert not [p.name for p in (data / "incoming").iterdir() if p.name.endswith(".part")]
    # the history holds each accepted claim once: the killed runs were voided, none twice
    con = sqlite3.connect(data / "history.sqlite")
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    st = HistoryStore(data / "history.sqlite")
    try:
        assert st.count() == sum(s["summary"]["accepted"] for s in status.values())
    finally:
        st.close()


def test_a_full_queue_is_429_with_retry_after(tmp_path):
    data = tmp_path / "data"
    with Server(data, write_config(tmp_path / "service.toml", queue=2, batch=1, retry_after=7)) as srv, \
            srv.client(ALPHA) as c:
        ok, refused = [], None
        with locked(str(data / "out")):  # the gate waits for the folder: nothing drains the queue
            for n in range(3001, 3006):
                r = c.post("/v1/interchanges", content=upload(n))
                if r.status_code == 429:
                    refused = r
                    break
                assert r.status_code == 202
                ok.append(r.json()["id"])
            assert refused is not None and refused.headers["Retry-After"] == "7"
            assert 2 <= len(ok) <= 3  # 2 waiting (and one taken by the gate, waiting for the folder)
            assert httpx.get(srv.url + "/healthz").json()["queued"] == 2 or len(ok) == 3
        assert all(wait_done(c, i)["status"] == "done" for i in ok)
        listed = c.get("/v1/interchanges").json()["interchanges"]
        assert sorted(x["id"] for x in listed) == sorted(ok)  # the refused one was never kept
        assert c.post("/v1/interchanges", content=upload(3010)).status_code == 202  # room again


def _left_running(tmp_path: Path, gated: bool, commit: bool):
    """A data folder as a killed server leaves it: one upload 'running', its
    outputs in place when ``gated``, its history run committed when ``commit``."""
    from edi837.service.store import Store
    from edi837.service.worker import Paths, run_gate

    paths = Paths(str(tmp_path / "data"))
    paths.make()
    st = Store(paths.service)
    body = upload(4001, claims=1)
    Path(paths.upload("a" * 32)).write_bytes(body)
    assert st.add("a" * 32, "alpha", len(body), None, [("EDI837SYNTH", "000004001")], 10)
    assert [u.id for u in st.take(1)] == ["a" * 32]
    if gated:
        import os

        cwd = os.getcwd()
        try:
            run_gate(paths, ["a" * 32], 1, False)
        finally:
            os.chdir(cwd)
        if not commit:  # as if killed between the outputs and the commit: the run is voided
            h = HistoryStore(paths.history)
            h.conn.execute("DELETE FROM claims")
            h.close()
    return paths, st


@pytest.mark.parametrize("gated, commit, outcome", [(False, False, "queued"), (True, False, "queued"),
                                                    (True, True, "done")])
def test_recovery_reruns_an_upload_unless_its_run_was_committed(tmp_path, gated, commit, outcome):
    from edi837.service.worker import recover

    paths, st = _left_running(tmp_path, gated, commit)
    done, again = recover(st, paths)
    u = st.get("a" * 32)
    assert u is not None and u.status == outcome
    assert (done, again) == ((["a" * 32], []) if outcome == "done" else ([], ["a" * 32]))
    # a re-run starts from a clean slate; a done one keeps the outputs it was answered with
    assert Path(paths.output(u.id, "report")).exists() == (outcome == "done")
    if outcome == "done":
        assert u.summary is not None and u.summary["accepted"] == 1 and "999" in u.summary["outputs"]
    st.close()


def test_store_write_that_fails_leaves_no_open_transaction(tmp_path):
    """A write of the upload store that fails (here: a NOT NULL violation) is rolled back and
    raises its own error; the next write works (no transaction left open)."""
    from edi837.service.store import Store

    st = Store(str(tmp_path / "q.sqlite"))
    with pytest.raises(sqlite3.IntegrityError):
        st.add("u1", None, 10, "a.x12", [], max_queued=5)  # type: ignore[arg-type]
    assert not st.conn.in_transaction
    assert st.add("u2", "alpha", 10, "b.x12", [], max_queued=5)
    assert st.add("u3", "alpha", 10, "c.x12", [], max_queued=1) is False  # queue full: nothing written
    assert [u.id for u in st.take(5)] == ["u2"]
    st.close()
