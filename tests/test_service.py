"""The gate as a service (issue 15): the real ``edi837 serve`` on 127.0.0.1,
driven over HTTP with httpx.  Uploads, polling and the files the gate wrote;
tokens and submitters kept apart; limits; duplicates; the same verdicts as
the command-line gate.  (Kill and restart: test_service_killed.py; the page in
a browser: test_service_page.py.)"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from service_server import (ALPHA, ALPHA_SENDER, BETA, BETA_SENDER, ROOT, Server, envelope,  # noqa: E402
                            generated, segments, upload, wait_done, write_config)

MAX_BODY = 200_000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("svc")
    with Server(d / "data", write_config(d / "service.toml", max_body=MAX_BODY, batch=4)) as s:
        yield s


@pytest.fixture
def alpha(server):
    with server.client(ALPHA) as c:
        yield c


@pytest.fixture
def beta(server):
    with server.client(BETA) as c:
        yield c


def post(c, data: bytes, **params):
    return c.post("/v1/interchanges", content=data, params=params)


def done(c, data: bytes) -> dict:
    r = post(c, data)
    assert r.status_code == 202, r.text
    body = wait_done(c, r.json()["id"])
    assert body["status"] == "done", body
    return body


def test_upload_poll_and_fetch(alpha):
    src = upload(1001, claims=3)
    r = post(alpha, src)
    assert r.status_code == 202
    ack = r.json()
    assert re.fullmatch(r"[0-9a-f]{32}", ack["id"]) and ack["status_url"].endswith("/v1/interchanges/" + ack["id"])
    body = wait_done(alpha, ack["id"])
    assert body["status"] == "done"
    assert body["interchanges"] == [{"sender": ALPHA_SENDER, "control_number": "000001001"}]
    assert body["summary"]["claims"] == 3 and body["summary"]["accepted"] + body["summary"]["rejected"] == 3

    # the status with the JSON report: the schema of `validate --format json`
    full = alpha.get(ack["status_url"]).json()
    import jsonschema

    schema = json.loads((ROOT / "docs" / "report.schema.json").read_text())
    jsonschema.validate(full["report"], schema)
    assert sorted(c["claim_id"] for c in full["report"]["claims"]) == ["U1001C0", "U1001C1", "U1001C2"]
    assert full["report"]["files"][0]["file"] == ack["id"] + ".x12"  # no path of the server

    # the 999 answers this upload: its ISA08 is the sender, AK1 its GS06, AK2 its ST02
    r999 = alpha.get(f"/v1/interchanges/{ack['id']}/999")
    assert r999.status_code == 200
    env, src_env = envelope(r999.content), envelope(src)
    assert env["isa08"] == [ALPHA_SENDER]
    segs = segments(r999.content)
    assert [f[2] for f in segs if f[0] == "AK1"] == src_env["gs06"]
    assert [f[2] for f in segs if f[0] == "AK2"] == src_env["st02"]
    assert "00" == segs[0][1] and segs[0][2].strip() == ""  # ISA01-02 never echoed
    # the 277CA names each claim of this upload; the split files hold them
    r277 = alpha.get(f"/v1/interchanges/{ack['id']}/277ca")
    s277 = segments(r277.content)
    trn2 = sorted(f[2] for f, prev in zip(s277[1:], s277) if f[0] == "TRN" and prev[:2] == ["NM1", "QC"])
    assert trn2 == ["U1001C0", "U1001C1", "U1001C2"]
    split = []
    for kind in ("accepted", "rejected"):
        rr = alpha.get(f"/v1/interchanges/{ack['id']}/{kind}")
        assert rr.status_code == (200 if kind in body["files"] else 404)
        if rr.status_code == 200:
            split += [f[1] for f in segments(rr.content) if f[0] == "CLM"]
    assert sorted(split) == trn2
    # the gate wrote no TA1 for a sound interchange
    assert alpha.get(f"/v1/interchanges/{ack['id']}/ta1").status_code == 404
    assert alpha.get(f"/v1/interchanges/{ack['id']}/nonsense").status_code == 404


def test_same_verdicts_as_the_command_line_gate(alpha, tmp_path):
    from edi837.gate import gate

    src = (ROOT / "fixtures" / "837p_ect_anesthesia.x12").read_bytes()
    body = done(alpha, src)
    rep = alpha.get(body["status_url"]).json()["report"]
    f = tmp_path / "in.x12"
    f.write_bytes(src)
    res = gate([str(f)], str(tmp_path / "out"))
    mine = json.loads((tmp_path / "out" / "in.report.json").read_text())
    assert [(c["claim_id"], c["verdict"], c["reasons"]) for c in rep["claims"]] == \
        [(c["claim_id"], c["verdict"], c["reasons"]) for c in mine["claims"]]
    assert sorted(x["rule"] for x in rep["findings"]) == sorted(x["rule"] for x in mine["findings"])
    assert body["summary"]["accepted"] == res.files[0].result.accepted


def test_multipart_upload_and_gzip(alpha):
    r = alpha.post("/v1/interchanges", files={"file": ("claims.x12", upload(1002), "application/edi-x12")})
    assert r.status_code == 202, r.text
    b = wait_done(alpha, r.json()["id"])
    assert b["status"] == "done" and b["filename"] == "claims.x12" and b["summary"]["claims"] == 2
    b = done(alpha, gzip.compress(upload(1003)))
    assert b["interchanges"][0]["control_number"] == "000001003" and b["summary"]["claims"] == 2


def test_a_token_is_needed_and_submitters_are_kept_apart(server, alpha, beta):
    a = done(alpha, upload(1004))
    b = done(beta, upload(1005, sender=BETA_SENDER))
    with server.client(None) as anon, server.client("not-a-token") as wrong:
        for c in (anon, wrong):
            assert post(c, upload(1006)).status_code == 401
            assert c.get(f"/v1/interchanges/{a['id']}").status_code == 401
            assert c.get("/v1/interchanges").status_code == 401
    # another submitter's id is not found, nor its files
    assert beta.get(f"/v1/interchanges/{a['id']}").status_code == 404
    assert beta.get(f"/v1/interchanges/{a['id']}/999").status_code == 404
    assert alpha.get(f"/v1/interchanges/{b['id']}/report").status_code == 404
    assert alpha.get(f"/v1/interchanges/{a['id']}/999").status_code == 200
    mine = {x["id"] for x in alpha.get("/v1/interchanges").json()["interchanges"]}
    theirs = {x["id"] for x in beta.get("/v1/interchanges").json()["interchanges"]}
    assert a["id"] in mine and b["id"] in theirs and not mine & theirs
    # since: only those received from then on
    later = alpha.get("/v1/interchanges", params={"since": a["received"]}).json()["interchanges"]
    assert a["id"] in {x["id"] for x in later}
    assert all(x["received"] >= a["received"] for x in later)
    assert alpha.get("/v1/interchanges", params={"since": "yesterday"}).status_code == 400


def test_an_isa06_of_another_submitter_is_refused(alpha, beta):
    r = post(alpha, upload(1007, sender=BETA_SENDER))
    assert r.status_code == 403 and "BETASENDER" in r.json()["detail"]
    r = post(beta, upload(1008))
    assert r.status_code == 403 and ALPHA_SENDER in r.json()["detail"]
    assert 1008 not in {int(x["interchanges"][0]["control_number"])
                        for x in beta.get("/v1/interchanges").json()["interchanges"]}


def test_size_limit(alpha, server, tmp_path):
    big = generated(tmp_path / "big.x12", 600, 1009, seed=9)
    assert len(big) > MAX_BODY
    r = post(alpha, big)
    assert r.status_code == 413
    # streamed without a length: refused once past the limit, nothing left behind
    r = alpha.post("/v1/interchanges", content=iter([big[i:i + 65536] for i in range(0, len(big), 65536)]))
    assert r.status_code == 413
    assert not [p for p in (server.data / "incoming").iterdir() if p.name.endswith(".part")]


@pytest.mark.parametrize("body, reason", [
    (b"", "empty"),
    (b"hello, this is not an 837", "does not start with an ISA"),
    (b'{"claims": []}', "does not start with an ISA"),
    (b"ISA*00*short~", "no ISA segment with 16 elements"),
    (gzip.compress(b"PK\x03\x04 a zip"), "after gzip"),
    (b"\x1f\x8b\x08\x00broken", "gzip"),
])
def test_a_body_that_is_not_x12_is_400_with_the_reason(alpha, body, reason):
    r = post(alpha, body)
    assert r.status_code == 400
    assert reason in r.json()["detail"]


def test_a_duplicate_interchange_gets_ta1_025(alpha):
    first = done(alpha, upload(1010, claims=1))
    assert first["summary"]["accepted"] == 1 and "ta1" not in first["files"]
    again = done(alpha, upload(1010, claims=1))  # the same ISA06 + ISA13, a later upload
    assert again["summary"]["accepted"] == 0 and again["summary"]["rejected"] == 1
    ta1 = [f for f in segments(alpha.get(f"/v1/interchanges/{again['id']}/ta1").content) if f[0] == "TA1"]
    assert [(f[1], f[4], f[5]) for f in ta1] == [("000001010", "R", "025")]
    assert "S1-ENV-015" in again["summary"]["findings_by_rule"]
    assert "accepted" not in again["files"]


def test_health_and_metrics(server, alpha):
    h = httpx.get(server.url + "/healthz").json()
    assert h["status"] == "ok" and h["gate_alive"] is True
    before = httpx.get(server.url + "/metrics").text
    b = done(alpha, upload(1011, claims=3))
    text = httpx.get(server.url + "/metrics").text

    def value(t: str, name: str) -> float:
        m = re.search(rf"^{re.escape(name)} (\S+)$", t, re.M)
        return float(m.group(1)) if m else 0.0

    for name, plus in (("edi837_files_total", 1), ('edi837_uploads_total{status="202"}', 1),
                       ('edi837_claims_total{verdict="accepted"}', b["summary"]["accepted"]),
                       ('edi837_claims_total{verdict="rejected"}', b["summary"]["rejected"])):
        assert value(text, name) - value(before, name) >= plus, name
    assert value(text, "edi837_upload_latency_seconds_count") >= 1
    assert 'edi837_uploads_total{status="400"}' in text  # the refusals above
    assert "edi837_queue_uploads" in text and "edi837_http_request_seconds_bucket" in text
    assert httpx.get(server.url + "/openapi.json").json()["paths"]["/v1/interchanges"]["post"]
    assert httpx.get(server.url + "/docs").status_code == 200


def test_no_phi_or_token_in_the_log(server, alpha):
    done(alpha, upload(1012))
    log = server.log.read_text()
    assert "upload queued" in log and "upload done" in log
    for secret in ("SYN001012", "JANE", "DOE", "12 EXAMPLE LANE", "19800101", ALPHA, BETA):
        assert secret not in log
