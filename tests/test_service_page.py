"""The operator page (issue 15) in a real browser: Debian's headless chromium
(/usr/bin/chromium) driven by Playwright, against the real ``edi837 serve``.
Skipped where chromium or Playwright is missing."""

from __future__ import annotations

import os
import re
import struct
import zlib
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from service_server import ALPHA, BETA, Server, generated, upload, wait_done, write_config  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
W, H = 1280, 900


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("page")
    with Server(d / "data", write_config(d / "service.toml")) as s:
        yield s


@pytest.fixture(scope="module")
def gated(server, tmp_path_factory):
    """An upload with accepted and rejected claims and findings of several rules."""
    body = generated(tmp_path_factory.mktemp("g") / "g.x12", 120, 5001, seed=3)
    with server.client(ALPHA) as c:
        r = c.post("/v1/interchanges", content=body)
        assert r.status_code == 202
        s = wait_done(c, r.json()["id"])
        s["report"] = c.get(s["status_url"]).json()["report"]
    assert s["status"] == "done" and s["summary"]["rejected"] > 0 and s["summary"]["accepted"] > 0
    assert len(s["summary"]["findings_by_rule"]) >= 2
    return s


def png_pixels(data: bytes) -> tuple[int, int, bytes]:
    """(width, height, the decompressed scanlines) of a PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w, h = 8, b"", 0, 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h = struct.unpack(">II", chunk[:8])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + n
    return w, h, zlib.decompress(idat)


@pytest.fixture
def page(server):
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            pg = browser.new_page(viewport={"width": W, "height": H})
            yield pg
        finally:
            browser.close()


def login(page, server, token: str) -> None:
    page.goto(server.url + "/")
    page.fill("#token", token)
    page.click("#login")


def test_login_list_and_report_page_in_chromium(page, server, gated, tmp_path):
    login(page, server, "wrong")
    assert page.locator("#login-error").is_visible()
    login(page, server, ALPHA)
    assert page.inner_text("#submitter") == "alpha"
    page.click(f"a[href='/interchanges/{gated['id']}']")
    assert page.inner_text("#upload-id") == gated["id"]
    s = gated["summary"]
    assert (page.inner_text("#n-claims"), page.inner_text("#n-accepted"), page.inner_text("#n-rejected")) == \
        (str(s["claims"]), str(s["accepted"]), str(s["rejected"]))
    # claims with their verdicts, as the report has them
    rows = page.locator("#claims tr.claim")
    assert rows.count() == s["claims"]
    assert page.locator("#claims tr.claim.rejected").count() == s["rejected"]
    # findings grouped by rule with their counts: one bar per rule, the longest for the most
    bars = page.locator("#chart g.bar")
    got = {bars.nth(i).get_attribute("data-rule"): int(bars.nth(i).get_attribute("data-count"))
           for i in range(bars.count())}
    assert got == s["findings_by_rule"]
    widths = [float(bars.nth(i).locator("rect").get_attribute("width")) for i in range(bars.count())]
    assert widths == sorted(widths, reverse=True) and widths[0] > widths[-1]
    assert page.locator("#chart").is_visible()
    # each finding with its claim, line and message
    found = page.locator("#findings tr.finding")
    assert found.count() == min(500, sum(s["findings_by_rule"].values()))
    first = gated["report"]["findings"][0]
    cells = found.nth(0).locator("td").all_inner_texts()
    assert cells[0] == first["rule"] and cells[2] == (first["claim_id"] or "")
    assert cells[3].startswith(str(first["line"])) and cells[4] == first["message"]
    # links to the acknowledgments, fetched with the page's session
    assert page.locator("#link-999").is_visible() and page.locator("#link-277ca").is_visible()
    r = page.request.get(server.url + page.get_attribute("#link-999", "href"))
    assert r.status == 200 and r.body().startswith(b"ISA*")

    # a screenshot of the report page: a PNG of the viewport's size, not blank
    shot = page.screenshot()
    w, h, px = png_pixels(shot)
    assert (w, h) == (W, H)
    assert len(set(px)) > 16
    (tmp_path / "report-page.png").write_bytes(shot)
    if os.environ.get("EDI837_SCREENSHOT"):  # keep it to look at
        Path(os.environ["EDI837_SCREENSHOT"]).write_bytes(shot)
    chart = page.locator("#chart").screenshot()
    cw, ch, cpx = png_pixels(chart)
    box = page.locator("#chart").bounding_box()
    assert box is not None and abs(cw - box["width"]) <= 1 and abs(ch - box["height"]) <= 1 and cw > 100
    assert len(set(cpx)) > 4  # bars drawn, not an empty box


def test_another_submitters_interchange_page_is_404(server, gated):
    with httpx.Client(base_url=server.url, follow_redirects=False) as c:
        assert c.get(f"/interchanges/{gated['id']}").status_code == 303  # log in first
        c.post("/login", data={"token": BETA})
        assert c.get(f"/interchanges/{gated['id']}").status_code == 404
        assert gated["id"] not in c.get("/").text
        c.post("/login", data={"token": ALPHA})
        assert c.get(f"/interchanges/{gated['id']}").status_code == 200


def test_redact_masks_what_the_page_and_the_report_show(tmp_path):
    body = upload(5002, claims=1)
    member = re.search(rb"\*MI\*([A-Z0-9]+)", body).group(1).decode()
    with Server(tmp_path / "data", write_config(tmp_path / "service.toml"), "--redact") as srv, \
            srv.client(ALPHA) as c:
        # a finding that quotes the member id: an NM1*IL without its last name
        bad = body.replace(b"NM1*IL*1*DOE*JANE", b"NM1*IL*1**JANE")
        s = wait_done(c, c.post("/v1/interchanges", content=bad).json()["id"])
        report = c.get(s["status_url"]).text
        c.cookies.set("edi837_token", ALPHA)
        page = c.get(f"/interchanges/{s['id']}").text
    assert s["summary"]["errors"] > 0
    from edi837.gate import gate  # without --redact, the report quotes them

    (tmp_path / "bad.x12").write_bytes(bad)
    gate([str(tmp_path / "bad.x12")], str(tmp_path / "plain"))
    plain = (tmp_path / "plain" / "bad.report.json").read_text()
    assert "JANE" in plain and member in plain
    for text in (report, page):
        assert "JANE" not in text and member not in text
