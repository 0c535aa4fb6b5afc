"""The HTTP API (Starlette, served by uvicorn): sensors push, readers read the roll-up.

POST /api/v1/scans           sensor token; a scan document (JSON, optionally gzip)
                             201 stored, 200 already stored, 401 bad token, 422 invalid
GET  /api/v1/rollup          reader token; the roll-up figures (?silent_days=N)
GET  /report                 reader token; the roll-up as HTML, or ?site=NAME: that site's
                             FOI report of its sensors' latest scans
GET  /healthz                no token; 200 when the database answers
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from camscan.output.report import render_html
from camscan.output.rollup import render_rollup_html
from camscan.server.db import make_engine
from camscan.server.rollup import SILENT_DAYS, compute, latest_documents
from camscan.server.store import (
    MAX_DOCUMENT_BYTES,
    InvalidDocument,
    Principal,
    authenticate,
    receive,
)

DB_ENV = "CAMSCAN_SERVER_DB"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _principal(request: Request, role: str) -> Principal | JSONResponse:
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _error(401, "missing bearer token")
    engine: Engine = request.app.state.engine
    who = await run_in_threadpool(authenticate, engine, token.strip())
    if who is None:
        return _error(401, "unknown token")
    if who.role != role:
        return _error(403, f"a {who.role} token cannot do this")
    return who


async def push_scan(request: Request) -> Response:
    """Take one scan document from a sensor."""
    who = await _principal(request, "sensor")
    if isinstance(who, Response):
        return who
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_DOCUMENT_BYTES:
        return _error(413, f"body larger than {MAX_DOCUMENT_BYTES} bytes")
    body = await request.body()
    engine: Engine = request.app.state.engine
    try:
        scan_id, stored = await run_in_threadpool(
            receive, engine, who, body, request.headers.get("content-encoding")
        )
    except InvalidDocument as exc:
        return _error(422, str(exc))
    except SQLAlchemyError:
        return _error(503, "the database is not available; try again later")
    return JSONResponse(
        {"scan_id": scan_id, "status": "stored" if stored else "duplicate"},
        status_code=201 if stored else 200,
    )


def _silent_days(request: Request) -> int | JSONResponse:
    value = request.query_params.get("silent_days", str(SILENT_DAYS))
    if not value.isdigit() or not 0 < int(value) <= 3650:
        return _error(400, "silent_days must be a whole number of days, 1 to 3650")
    return int(value)


async def _reader_days(request: Request) -> int | Response:
    """A reader's request: its `silent_days`, or the refusal to send back."""
    who = await _principal(request, "reader")
    if isinstance(who, Response):
        return who
    return _silent_days(request)


async def rollup_json(request: Request) -> Response:
    """The roll-up figures as JSON."""
    days = await _reader_days(request)
    if isinstance(days, Response):
        return days
    r = await run_in_threadpool(compute, request.app.state.engine, days)
    return JSONResponse(r.to_dict())


async def report_html(request: Request) -> Response:
    """The roll-up as HTML, or one site's full FOI report."""
    days = await _reader_days(request)
    if isinstance(days, Response):
        return days
    engine: Engine = request.app.state.engine
    r = await run_in_threadpool(compute, engine, days)
    site = request.query_params.get("site")
    if site is None:
        return HTMLResponse(await run_in_threadpool(render_rollup_html, r))
    ids = r.latest_scans.get(site)
    if not ids:
        return _error(404, f"no scans for site {site!r}")
    docs = await run_in_threadpool(latest_documents, engine, ids)
    return HTMLResponse(await run_in_threadpool(render_html, docs))


async def healthz(request: Request) -> Response:
    """200 when the database answers."""

    def ping() -> None:
        with request.app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    try:
        await run_in_threadpool(ping)
    except SQLAlchemyError:
        return _error(503, "database unavailable")
    return JSONResponse({"status": "ok"})


def create_app(db_url: str | None = None, engine: Engine | None = None) -> Starlette:
    """The ASGI app on the database at `db_url` (default: $CAMSCAN_SERVER_DB)."""
    if engine is None:
        url = db_url or os.environ.get(DB_ENV)
        if not url:
            raise RuntimeError(f"no database: give --db or set {DB_ENV}")
        engine = make_engine(url)
    routes: list[Any] = [
        Route("/api/v1/scans", push_scan, methods=["POST"]),
        Route("/api/v1/rollup", rollup_json, methods=["GET"]),
        Route("/report", report_html, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.engine = engine
    return app
