"""The operator page: server-rendered HTML (Jinja2, no build step).

``/`` shows the submitter's recent interchanges (a login form first: the
token is kept in an HttpOnly, SameSite=Strict cookie); ``/interchanges/{id}``
one interchange: its claims accepted and rejected, its findings grouped by
rule with their counts (a small SVG bar chart), each finding's claim, line and
message, and links to the acknowledgments.  What it shows comes from the
gate's report, masked when the service runs with ``redact``.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from .app import COOKIE, FETCHABLE, need_submitter, own_upload, submitter_of
from .config import ServiceConfig

MAX_FINDINGS = 500  # findings listed on one page (all are counted in the chart)

_env = Environment(loader=PackageLoader("edi837.service", "templates"), autoescape=select_autoescape())


def render(name: str, **ctx: Any) -> HTMLResponse:
    return HTMLResponse(_env.get_template(name).render(**ctx))


def report_view(path: str) -> dict[str, Any]:
    """What the interchange page shows of a report."""
    with open(path, encoding="utf-8") as fh:
        rep = json.load(fh)
    findings = rep.get("findings", [])
    counts = Counter(f["rule"] for f in findings)
    sev = {f["rule"]: f["severity"] for f in findings}
    top = max(counts.values(), default=1)
    rules = [{"rule": r, "count": n, "severity": sev[r], "width": max(2, round(300 * n / top))}
             for r, n in sorted(counts.items(), key=lambda x: (-x[1], x[0]))]
    return {"summary": rep.get("summary", {}), "claims": rep.get("claims", []), "rules": rules,
            "findings": findings[:MAX_FINDINGS], "more": max(0, len(findings) - MAX_FINDINGS)}


def add_page(app: FastAPI) -> None:
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index(request: Request) -> Response:
        sub = submitter_of(request)
        if sub is None:
            return render("login.html", error=request.query_params.get("error"))
        ups = request.app.state.store.of_submitter(sub.name, None, 100)
        return render("index.html", submitter=sub.name, uploads=ups)

    @app.post("/login", include_in_schema=False)
    async def login(request: Request, token: str = Form(...)) -> Response:
        cfg: ServiceConfig = request.app.state.config
        if cfg.submitter_for(token.strip()) is None:
            return RedirectResponse("/?error=1", status_code=303)
        resp = RedirectResponse("/", status_code=303)
        resp.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
        return resp

    @app.post("/logout", include_in_schema=False)
    async def logout() -> Response:
        resp = RedirectResponse("/", status_code=303)
        resp.delete_cookie(COOKIE)
        return resp

    @app.get("/interchanges/{id}", response_class=HTMLResponse, include_in_schema=False)
    async def interchange_page(request: Request, id: str) -> Response:
        if submitter_of(request) is None:
            return RedirectResponse("/", status_code=303)
        sub = need_submitter(request)
        u = own_upload(request, id, sub)
        view = None
        rep = request.app.state.paths.output(id, "report")
        if u.status == "done" and os.path.exists(rep):
            view = report_view(rep)
        links = [k for k in FETCHABLE if k in ((u.summary or {}).get("outputs") or [])]
        return render("interchange.html", submitter=sub.name, u=u, view=view, links=links)
