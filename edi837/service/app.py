"""The HTTP API and operator page of the gate service (FastAPI on uvicorn).

``create_app(data, config)`` builds the app; ``edi837.service:app`` builds it
from the environment (EDI837_SERVICE_DATA, EDI837_SERVICE_CONFIG) for any ASGI
server.  See docs/service.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import gzip
import json
import logging
import os
import time
import uuid
import zlib
from typing import Any, AsyncIterator, Awaitable, Callable

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response

from .. import logs
from ..outputs.outfolder import fsync_dir
from ..reader.interchanges import interchange_ids
from .config import ServiceConfig, Submitter, load_or_create
from .metrics import Metrics
from .store import Store, Upload
from .worker import KINDS, Paths, Worker, recover

log = logs.get("service")
COOKIE = "edi837_token"
CHUNK = 1 << 16
FETCHABLE = ("999", "277ca", "ta1", "accepted", "rejected", "report")
MEDIA = {"report": "application/json"}


class Refused(Exception):
    """An upload answered with an error status (the reason is said to the client)."""

    def __init__(self, status: int, reason: str, headers: dict[str, str] | None = None):
        super().__init__(reason)
        self.status, self.reason, self.headers = status, reason, headers


# -- authentication ---------------------------------------------------------------------
def _token(request: Request) -> str | None:
    h = request.headers.get("authorization", "")
    if h[:7].lower() == "bearer ":
        return h[7:].strip() or None
    return request.cookies.get(COOKIE) or None


def submitter_of(request: Request) -> Submitter | None:
    t = _token(request)
    if t is None:
        return None
    cfg: ServiceConfig = request.app.state.config
    return cfg.submitter_for(t)


def need_submitter(request: Request) -> Submitter:
    """The request's submitter, from its bearer token (or the page's cookie); else 401."""
    s = submitter_of(request)
    if s is None:
        raise HTTPException(401, "a valid bearer token is required (Authorization: Bearer TOKEN)",
                            headers={"WWW-Authenticate": "Bearer"})
    return s


def own_upload(request: Request, id: str, sub: Submitter) -> Upload:
    """The submitter's upload ``id``; 404 for an unknown id and for another submitter's."""
    st: Store = request.app.state.store
    u = st.get(id) if len(id) == 32 and all(c in "0123456789abcdef" for c in id) else None
    if u is None or u.submitter != sub.name:
        raise HTTPException(404, "no such interchange")
    return u


# -- the upload ---------------------------------------------------------------------------
def x12_start(head: bytes) -> str | None:
    """Why ``head`` (the first bytes of an upload) is not an X12 interchange, or None."""
    if head[:2] == b"\x1f\x8b":
        return None  # gzip: looked at once decompressed
    body = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not body:
        return "the body is empty"
    if not body.startswith(b"ISA"):
        return "not an X12 interchange: the body does not start with an ISA segment"
    if len(body) >= 4 and body[3:4].isalnum():
        return "not an X12 interchange: ISA is not followed by an element separator"
    return None


def scan_interchanges(path: str, limit: int) -> list[tuple[str, str]]:
    """(ISA06, ISA13) of each interchange of an upload (gzip decompressed, at
    most ``limit`` bytes of it); Refused when it is not X12."""
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    if not gz:
        return interchange_ids(path)
    try:
        with gzip.open(path, "rb") as g:
            data = g.read(limit + 1)
    except (OSError, EOFError, zlib.error):
        raise Refused(400, "gzip: cannot decompress the body") from None
    if len(data) > limit:
        raise Refused(413, f"the decompressed body is larger than {limit} bytes")
    why = x12_start(data[:1024])
    if why is not None:
        raise Refused(400, why + " (after gzip decompression)")
    return interchange_ids(data)


async def _receive(request: Request, part: str, max_body: int) -> tuple[int, str | None]:
    """Stream the body (or the first file of a multipart form) to ``part``;
    (bytes, file name given)."""
    ctype = request.headers.get("content-type", "")
    size, name = 0, None
    head = b""
    with open(part, "wb") as fh:
        if ctype.startswith("multipart/form-data"):
            form = await request.form(max_files=1, max_fields=10, max_part_size=max_body)
            up = next((v for v in form.values() if not isinstance(v, str)), None)
            if up is None:
                raise Refused(400, "the multipart form has no file")
            name = os.path.basename(up.filename or "") or None
            while chunk := await up.read(CHUNK):
                size += len(chunk)
                if size > max_body:
                    raise Refused(413, f"the body is larger than {max_body} bytes")
                if len(head) < 1024:
                    head += chunk[:1024]
                fh.write(chunk)
            await form.close()
        else:
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_body:
                    raise Refused(413, f"the body is larger than {max_body} bytes")
                if len(head) < 1024:
                    head += chunk[:1024]
                    why = x12_start(head) if len(head) >= 4 else None
                    if why is not None:
                        raise Refused(400, why)
                fh.write(chunk)
        why = x12_start(head)
        if why is not None:
            raise Refused(400, why)
        fh.flush()
        await asyncio.to_thread(os.fsync, fh.fileno())
    return size, name


async def accept_upload(request: Request, sub: Submitter) -> Upload:
    app = request.app
    cfg: ServiceConfig = app.state.config
    paths: Paths = app.state.paths
    store: Store = app.state.store
    full = Refused(429, "the queue of uploads is full; send again later",
                   {"Retry-After": str(cfg.retry_after)})
    n = request.headers.get("content-length")
    if n is not None and n.isdigit() and int(n) > cfg.max_body:
        raise Refused(413, f"the body is larger than {cfg.max_body} bytes")
    if store.count("queued") >= cfg.queue:
        raise full
    id = uuid.uuid4().hex
    part = os.path.join(paths.incoming, f".{id}.part")
    final = paths.upload(id)
    try:
        size, name = await _receive(request, part, cfg.max_body)
        ics = await asyncio.to_thread(scan_interchanges, part, cfg.max_body * 20)
        if not ics:
            raise Refused(400, "not an X12 interchange: no ISA segment with 16 elements")
        for isa06, _ in ics:
            if not sub.owns(isa06):
                raise Refused(403, f"ISA06 sender {isa06!r} does not belong to submitter {sub.name!r}")
        os.rename(part, final)
        await asyncio.to_thread(fsync_dir, paths.incoming)
        if not store.add(id, sub.name, size, name, ics, cfg.queue):
            os.unlink(final)
            raise full
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(part)
        raise
    app.state.worker.wake.set()
    got = store.get(id)
    assert got is not None
    return got


# -- what the API answers ----------------------------------------------------------------
def status_url(request: Request, id: str) -> str:
    return str(request.url_for("interchange_status", id=id))


def status_body(request: Request, u: Upload) -> dict[str, Any]:
    d: dict[str, Any] = {"id": u.id, "status": u.status, "status_url": status_url(request, u.id),
                         "submitter": u.submitter, "received": u.received, "started": u.started,
                         "finished": u.finished, "size": u.size, "filename": u.filename,
                         "interchanges": [{"sender": s, "control_number": c} for s, c in u.interchanges]}
    if u.status == "done" and u.summary is not None:
        d["summary"] = {k: v for k, v in u.summary.items() if k != "outputs"}
        d["files"] = {k: str(request.url_for("interchange_file", id=u.id, kind=k))
                      for k in u.summary.get("outputs", []) if k in FETCHABLE}
    if u.error:
        d["error"] = u.error
    return d


class Pulse:
    """Wakes the requests waiting for uploads to be done when the dispatcher
    (another thread) finishes a batch."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()

    def fire(self) -> None:  # from any thread
        self.loop.call_soon_threadsafe(self._fire)

    def _fire(self) -> None:
        self.event.set()
        self.event = asyncio.Event()

    async def wait(self, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.event.wait(), seconds)


async def wait_done(request: Request, id: str, seconds: float) -> Upload | None:
    store: Store = request.app.state.store
    pulse: Pulse = request.app.state.pulse
    end = time.monotonic() + min(max(seconds, 0.0), 120.0)
    u = store.get(id)
    while u is not None and u.status in ("queued", "running") and (left := end - time.monotonic()) > 0:
        await pulse.wait(min(left, 1.0))
        u = store.get(id)
    return u


def _json_with_report(body: dict[str, Any], report: str) -> Response:
    """``body`` with its ``report`` member the report file as it is (not re-encoded)."""
    head = json.dumps(body)[:-1].encode()
    with open(report, "rb") as fh:
        rep = fh.read()
    return Response(head + b', "report": ' + rep.strip() + b"}", media_type="application/json")


# -- the app ------------------------------------------------------------------------------
def create_app(data: str, config: str | None = None, *, jobs: int | None = None,
               redact: bool | None = None, max_body: int | None = None, queue: int | None = None,
               batch: int | None = None) -> FastAPI:
    """The service on data folder ``data`` (made when missing), configured by
    ``config`` (a service.toml; default DATA/service.toml, made on first use);
    keyword arguments override the file's [service] values."""
    import attrs

    paths = Paths(data)
    paths.make()
    cfg, token = load_or_create(paths.data, config)
    over: dict[str, Any] = {k: v for k, v in dict(jobs=jobs, redact=redact, max_body=max_body,
                                                  queue=queue, batch=batch).items() if v is not None}
    cfg = attrs.evolve(cfg, **over)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = Store(paths.service)
        metrics = Metrics(lambda: store.count("queued"), lambda: store.count("running"))

        pulse = Pulse()

        def done(u: Upload, summary: dict[str, Any]) -> None:
            t = _dt.datetime.fromisoformat(u.received)
            metrics.done(summary, (_dt.datetime.now(_dt.timezone.utc) - t).total_seconds())

        def batch_done(n: int, seconds: float) -> None:
            metrics.batch.observe(seconds)
            pulse.fire()

        await asyncio.to_thread(recover, store, paths)
        worker = Worker(store, paths, jobs=cfg.jobs, batch=cfg.batch, redact=cfg.redact, on_done=done,
                        on_batch=batch_done,
                        on_failed=lambda u: metrics.failed.inc())
        app.state.store, app.state.metrics, app.state.worker, app.state.pulse = store, metrics, worker, pulse
        worker.start()
        logs.log(log, logging.INFO, "service start", data=paths.data, jobs=cfg.jobs, queue=cfg.queue,
                 submitters=len(cfg.submitters))
        try:
            yield
        finally:
            await asyncio.to_thread(worker.stop)
            store.close()

    app = FastAPI(title="edi837 gate service", version="1", lifespan=lifespan,
                  description="Post X12 837 files to the clearinghouse gate and fetch the 999, 277CA, "
                              "TA1 and split files it writes. See docs/service.md.")
    app.state.config, app.state.paths, app.state.first_token = cfg, paths, token

    @app.middleware("http")
    async def timing(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        t0 = time.monotonic()
        resp = await call_next(request)
        route = request.scope.get("route")
        name = getattr(route, "path", "other")
        m: Metrics | None = getattr(request.app.state, "metrics", None)
        if m is not None:
            m.requests.labels(name, request.method).observe(time.monotonic() - t0)
        return resp

    @app.post("/v1/interchanges", status_code=202, summary="Post an 837 to the gate",
              responses={200: {"description": "done within ?wait= seconds: the status"},
                         400: {"description": "not X12"}, 401: {"description": "no valid token"},
                         403: {"description": "an ISA06 not of this submitter"},
                         413: {"description": "body too large"}, 429: {"description": "queue full"}})
    async def post_interchange(request: Request, wait: float = Query(0, ge=0, le=120,
                               description="wait up to this many seconds for the result (200 when done)"),
                               sub: Submitter = Depends(need_submitter)) -> Response:
        """The 837 is the body (or the file of a multipart form); it is on disk and synced
        before the answer: ``202 {id, status_url}``."""
        m: Metrics = request.app.state.metrics
        try:
            u = await accept_upload(request, sub)
        except Refused as e:
            m.uploads.labels(str(e.status)).inc()
            logs.log(log, logging.INFO, "upload refused", submitter=sub.name, status=e.status)
            return JSONResponse({"detail": e.reason}, e.status, headers=e.headers)
        m.uploads.labels("202").inc()
        logs.log(log, logging.INFO, "upload queued", id=u.id, submitter=sub.name, bytes=u.size)
        if wait > 0:
            got = await wait_done(request, u.id, wait)
            if got is not None and got.status in ("done", "failed"):
                return JSONResponse(status_body(request, got), 200)
        return JSONResponse({"id": u.id, "status": u.status, "status_url": status_url(request, u.id)}, 202)

    @app.get("/v1/interchanges", summary="The submitter's interchanges, newest first")
    async def list_interchanges(request: Request, since: str | None = Query(
            None, description="ISO date-time: only those received since then"),
            limit: int = Query(100, ge=1, le=1000),
            sub: Submitter = Depends(need_submitter)) -> dict[str, Any]:
        if since is not None:
            try:
                t = _dt.datetime.fromisoformat(since)
            except ValueError:
                raise HTTPException(400, f"since: {since!r} is not an ISO date-time") from None
            if t.tzinfo is None:
                t = t.replace(tzinfo=_dt.timezone.utc)
            since = t.astimezone(_dt.timezone.utc).isoformat(timespec="milliseconds")
        ups = request.app.state.store.of_submitter(sub.name, since, limit)
        return {"interchanges": [status_body(request, u) for u in ups]}

    @app.get("/v1/interchanges/{id}", name="interchange_status", summary="Status and JSON report")
    async def get_interchange(request: Request, id: str,
                              report: bool = Query(True, description="include the JSON report when done"),
                              wait: float = Query(0, ge=0, le=120, description="wait for it to be done"),
                              sub: Submitter = Depends(need_submitter)) -> Response:
        """The status (queued, running, done, failed); once done, the counts, the
        links to the files the gate wrote and the report (docs/report.schema.json)."""
        u = own_upload(request, id, sub)
        if wait > 0:
            u = await wait_done(request, id, wait) or u
        body = status_body(request, u)
        rep = request.app.state.paths.output(id, "report")
        if report and u.status == "done" and os.path.exists(rep):
            return _json_with_report(body, rep)
        return JSONResponse(body)

    @app.get("/v1/interchanges/{id}/{kind}", name="interchange_file", summary="A file the gate wrote",
             responses={404: {"description": "no such interchange, or the gate wrote no such file"},
                        409: {"description": "not done yet"}})
    async def get_file(request: Request, id: str, kind: str,
                       sub: Submitter = Depends(need_submitter)) -> Response:
        """``999``, ``277ca``, ``ta1``, ``accepted``, ``rejected`` (X12) or ``report`` (JSON)."""
        u = own_upload(request, id, sub)
        if kind not in FETCHABLE:
            raise HTTPException(404, f"no file {kind!r}; one of {', '.join(FETCHABLE)}")
        if u.status != "done":
            raise HTTPException(409, f"the interchange is {u.status}, not done")
        path = request.app.state.paths.output(id, kind)
        if kind not in (u.summary or {}).get("outputs", []) or not os.path.exists(path):
            raise HTTPException(404, f"the gate wrote no {kind} file for this interchange")
        return FileResponse(path, media_type=MEDIA.get(kind, "application/edi-x12"),
                            filename=f"{id}{KINDS[kind]}")

    @app.get("/healthz", summary="Liveness")
    async def healthz(request: Request) -> dict[str, Any]:
        st: Store = request.app.state.store
        return {"status": "ok", "queued": st.count("queued"), "running": st.count("running"),
                "gate_alive": request.app.state.worker.thread.is_alive()}

    @app.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics(request: Request) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(request.app.state.metrics.text(), media_type=CONTENT_TYPE_LATEST)

    from .page import add_page

    add_page(app)
    return app


def app_from_env() -> FastAPI:
    """The app of ``edi837.service:app``: data folder EDI837_SERVICE_DATA
    (default ./edi837-data), config EDI837_SERVICE_CONFIG (optional)."""
    return create_app(os.environ.get("EDI837_SERVICE_DATA", "edi837-data"),
                      os.environ.get("EDI837_SERVICE_CONFIG") or None)
