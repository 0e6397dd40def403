"""The web application: the JSON API under ``/api/``, the pages' one HTML shell, and their assets.

Every route reads through :mod:`headwater_ui.views`; the pages are a small script
(``static/app.js``) that draws what the API returns, so the API is the only place anything
is computed. The routes are typed by pydantic models, from which FastAPI writes the OpenAPI
document at ``/api/openapi.json``.
"""

from __future__ import annotations

import datetime as _dt
import email.utils
import gc
import hmac
import http.cookies
import threading
from importlib import resources
from typing import Any, Callable, Optional
from urllib.parse import parse_qs

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
import pydantic_core
from pydantic import TypeAdapter

from headwater.exceptions import AmbiguousRunId, HeadwaterError
from headwater.records import CacheEntryRecord, FlowRunRecord, LogLineRecord
from headwater.states import StateType
from headwater.stores import FlowRunQuery, Store

from . import views

__all__ = ["create_app", "TOKEN_COOKIE"]

TOKEN_COOKIE = "headwater_ui_token"
PAGES = ("/", "/flow-runs/{run_id}", "/task-runs/{run_id}", "/cache", "/limits", "/plugins")
# The pages load nothing but their own script and style: a run name or log line that got into
# the page as markup could still not run a script (defence behind the escaping in app.js).
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
_MAX_OFFSET = 10**9
_RunId = Path(description="A run id (a unique start or end of one, or a flow run's name, also works).", max_length=200)


def _json(model: Any, value: Any) -> Response:
    # pydantic writes the JSON itself (in Rust): for a 10,000-task-run timeline it is several
    # times quicker than FastAPI's own path (to Python objects, then json.dumps).
    return Response(_adapter(model).dump_json(value), media_type="application/json")


class _CollectorPause:
    """Pauses Python's cycle collector while a route reads and builds many records.

    A response of 10,000 task runs makes some 100,000 short-lived objects, and the collector's
    passes over them took a quarter of the request (bench.ui: 420 -> 290 ms for the timeline).
    The records hold no cycles; refcounting frees them. Counted, so that of requests building
    at once on the server's threads, the last to finish turns the collector back on.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._building = 0
        self._paused = False

    def __enter__(self) -> None:
        with self._lock:
            if self._building == 0 and gc.isenabled():
                gc.disable()
                self._paused = True
            self._building += 1

    def __exit__(self, *exc: Any) -> None:
        with self._lock:
            self._building -= 1
            if self._building == 0 and self._paused:
                self._paused = False
                gc.enable()


building = _CollectorPause()
_adapters: dict[Any, TypeAdapter[Any]] = {}


def _adapter(model: Any) -> TypeAdapter[Any]:
    adapter = _adapters.get(model)
    if adapter is None:
        adapter = _adapters[model] = TypeAdapter(model)
    return adapter


def create_app(store: Store, token: Optional[str] = None, allowed_hosts: Optional[set[str]] = None) -> Any:
    """The UI over ``store``. With ``token``, every request must carry it; with ``allowed_hosts``, a
    request naming another host in its Host header is refused (a web page that rebinds its own
    domain to 127.0.0.1 cannot read the API)."""
    api = FastAPI(
        title="headwater UI",
        description="Read-only JSON API over a headwater store: flow runs, task runs, states, logs, the task graph, cache entries, limits and plugins.",
        openapi_url="/api/openapi.json",
        docs_url=None,  # Swagger UI and ReDoc load from a CDN: the UI fetches nothing from outside
        redoc_url=None,
    )

    @api.exception_handler(views.NotFound)
    def not_found(request: Request, exc: views.NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @api.exception_handler(AmbiguousRunId)
    def ambiguous(request: Request, exc: AmbiguousRunId) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @api.exception_handler(HeadwaterError)
    def store_error(request: Request, exc: HeadwaterError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    def run_filters(
        flow_name: Optional[str] = Query(None, max_length=500, description="Runs of this flow only."),
        state: list[StateType] = Query([], description="Runs whose newest state has one of these types."),
        tag: list[str] = Query([], description="Runs that carry every one of these tags."),
        since: Optional[_dt.datetime] = Query(None, description="Runs created at or after this time (UTC when no zone is given)."),
        until: Optional[_dt.datetime] = Query(None, description="Runs created before this time."),
    ) -> FlowRunQuery:
        try:
            return views.flow_run_query(flow_name, state, tag, since, until)
        except (OverflowError, ValueError) as exc:  # a time at the end of the calendar, moved to UTC
            raise HTTPException(422, f"since/until: {exc}") from None

    filtered = Depends(run_filters)

    @api.get("/api/flow-runs", response_model=list[FlowRunRecord], tags=["flow runs"])
    def flow_runs(
        filters: FlowRunQuery = filtered, limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=_MAX_OFFSET)
    ) -> Response:
        """Flow runs, newest first, a page at a time."""
        return _json(list[FlowRunRecord], views.list_flow_runs(store, filters, limit=limit, offset=offset))

    @api.get("/api/flow-run-counts", response_model=list[views.StateCount], tags=["flow runs"])
    def flow_run_counts(filters: FlowRunQuery = filtered) -> Response:
        """How many flow runs the filters match, by newest state type."""
        return _json(list[views.StateCount], views.count_flow_runs(store, filters))

    @api.get("/api/flow-run-histogram", response_model=views.Histogram, tags=["flow runs"])
    def flow_run_histogram(filters: FlowRunQuery = filtered, buckets: int = Query(60, ge=1, le=500)) -> Response:
        """Flow runs over time by newest state type, in about ``buckets`` buckets of a round size."""
        return _json(views.Histogram, views.flow_run_histogram(store, filters, buckets))

    @api.get("/api/flow-runs/{run_id}", response_model=views.FlowRunDetail, tags=["flow runs"])
    def flow_run(run_id: str = _RunId) -> Response:
        """A flow run with its state history, parent and subflow runs, and artifacts."""
        return _json(views.FlowRunDetail, views.flow_run_detail(store, run_id))

    @api.get("/api/flow-runs/{run_id}/task-runs", response_model=list[views.TimelineRow], tags=["flow runs"])
    def task_runs(run_id: str = _RunId) -> Response:
        """The flow run's task runs, oldest first, each with its timeline (a span for each state it was in)."""
        with building:
            return Response(pydantic_core.to_json(views.timeline(store, run_id)), media_type="application/json")

    @api.get("/api/flow-runs/{run_id}/graph", response_model=views.TaskGraph, tags=["flow runs"])
    def graph(run_id: str = _RunId) -> Response:
        """Which of the flow run's task runs fed which (results, states, wait_for), laid out in columns."""
        with building:
            return _json(views.TaskGraph, views.task_graph(store, run_id))

    @api.get("/api/flow-runs/{run_id}/logs", response_model=list[LogLineRecord], tags=["flow runs"])
    def logs(
        run_id: str = _RunId,
        min_level: int = Query(0, ge=0, le=100, description="Lines at this level or above (10 DEBUG, 20 INFO, 30 WARNING, 40 ERROR)."),
        task_run_id: Optional[str] = Query(None, max_length=200, description="Lines of this task run only."),
        after_id: int = Query(0, ge=0, le=2**62, description="Lines after this one: what a page that follows the logs asks for."),
        limit: int = Query(1_000, ge=1, le=10_000),
    ) -> Response:
        """Log lines of the flow run and of every run under it, oldest first."""
        return _json(list[LogLineRecord], views.logs(store, run_id, min_level, task_run_id, after_id, limit))

    @api.get("/api/task-runs/{run_id}", response_model=views.TaskRunDetail, tags=["task runs"])
    def task_run(run_id: str = Path(max_length=200)) -> Response:
        """A task run with its state history, flow run, upstream and downstream task runs, and its result when it is small plain data."""
        return _json(views.TaskRunDetail, views.task_run_detail(store, run_id))

    @api.get("/api/cache-entries", response_model=list[CacheEntryRecord], tags=["cache"])
    def cache_entries(limit: int = Query(1_000, ge=1, le=10_000)) -> Response:
        """Cache entries, newest first."""
        return _json(list[CacheEntryRecord], views.cache_entries(store, limit))

    @api.get("/api/concurrency-limits", response_model=list[views.ConcurrencyLimitView], tags=["concurrency limits"])
    def concurrency_limits() -> Response:
        """Tag concurrency limits and the task runs holding their slots now."""
        return _json(list[views.ConcurrencyLimitView], views.concurrency_limits(store))

    @api.get("/api/plugins", tags=["plugins"])
    def plugins() -> dict[str, Any]:
        """What ``headwater plugins ls --json`` prints."""
        from headwater.cli import describe_plugins

        return describe_plugins()

    shell = resources.files("headwater_ui").joinpath("static/index.html").read_text("utf-8")

    def page() -> HTMLResponse:
        return HTMLResponse(shell)

    for path in PAGES:
        api.add_api_route(path, page, methods=["GET"], include_in_schema=False, response_class=HTMLResponse)
    api.mount("/static", StaticFiles(packages=[("headwater_ui", "static")]), name="static")
    return _Guard(api, token, allowed_hosts)


class _Guard:
    """ASGI middleware: the Host check, the token, and the security headers, on every request."""

    def __init__(self, app: Any, token: Optional[str], allowed_hosts: Optional[set[str]]) -> None:
        self.app = app
        self.token = token
        self.allowed_hosts = allowed_hosts

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        if self.allowed_hosts is not None:
            host = headers.get(b"host", b"").decode("latin-1")
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if name.strip("[]") not in self.allowed_hosts:
                return await _refuse(send, 400, f"Host {host!r} is not one this UI serves; open it at the address `headwater ui` printed.")
        set_cookie = False
        if self.token is not None:
            given, from_query = _given_token(scope, headers)
            if given is None or not hmac.compare_digest(given.encode(), self.token.encode()):
                return await _refuse(send, 401, "This UI needs its token: open the address `headwater ui` printed (it ends in ?token=...), or send 'Authorization: Bearer TOKEN'.")
            set_cookie = from_query  # the printed address: the browser keeps the token for the page's own requests

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                extra = list(SECURITY_HEADERS)
                if not any(name == b"date" for name, _ in message.get("headers", [])):
                    extra.append((b"date", email.utils.formatdate(usegmt=True).encode()))  # see serving.QuietServer
                if set_cookie:
                    cookie = f"{TOKEN_COOKIE}={self.token}; HttpOnly; SameSite=Strict; Path=/"
                    extra.append((b"set-cookie", cookie.encode()))
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _given_token(scope: dict[str, Any], headers: dict[bytes, bytes]) -> tuple[Optional[str], bool]:
    """The token a request carries (a Bearer header, the cookie, or ``?token=``), and whether it came in the query."""
    authorization = headers.get(b"authorization", b"").decode("latin-1")
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip(), False
    cookie = headers.get(b"cookie")
    if cookie:
        jar: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
        try:
            jar.load(cookie.decode("latin-1"))
        except http.cookies.CookieError:
            jar.clear()
        if TOKEN_COOKIE in jar:
            return jar[TOKEN_COOKIE].value, False
    given = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
    return (given[0], True) if given else (None, False)


async def _refuse(send: Callable[..., Any], status: int, detail: str) -> None:
    body = JSONResponse({"detail": detail}).body
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *SECURITY_HEADERS],
        }
    )
    await send({"type": "http.response.body", "body": body})
