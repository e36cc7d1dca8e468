"""The FastAPI application: lifespan (migrate, bootstrap token, built-in cases, maintenance), middleware."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from pathlib import Path

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kubeprobe import __version__
from kubeprobe.alerting.heartbeat import Heartbeat, HeartbeatSettings
from kubeprobe.center.api import alerting as alerting_api
from kubeprobe.center.api import analysis as analysis_api
from kubeprobe.center.api import errors, fleet, gates, ops, resources, runs, silences, triggers
from kubeprobe.center.api import remedy as remedy_api
from kubeprobe.center.api import resident as resident_api
from kubeprobe.center.api.ops import CenterMetrics
from kubeprobe.center.credentials import SecretBox, load_secret_box, private_dir
from kubeprobe.center.errors import ConflictError
from kubeprobe.center.schemas.catalog import TemplateIn
from kubeprobe.center.schemas.tokens import TokenIn
from kubeprobe.center.services.builtin import builtin_templates, register_builtin
from kubeprobe.center.services.leases import LeaseKeeper, default_replica
from kubeprobe.center.services.maintenance import maintain_forever
from kubeprobe.center.services.workers import background_workers
from kubeprobe.center.settings import AnalysisSettings, CenterSettings
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.tokens import count_tokens, create_token

log = logging.getLogger(__name__)


class BodyLimit:
    """Refuses request bodies over `limit` bytes with 413, whether announced or streamed."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await _too_large(send, self.limit)
            return
        seen = 0

        def screen(chunk: bytes) -> Refusal | None:
            nonlocal seen
            seen += len(chunk)
            return functools.partial(_too_large, limit=self.limit) if seen > self.limit else None

        await _screen_body(self.app, scope, receive, send, screen)


class NulRefusal:
    """Refuses a NUL character anywhere in a request's path, query or JSON body with 422.

    No text the center keeps may hold one: PostgreSQL cannot store it (a 500 that reset the
    keep-alive connection), and logs, pages and chat messages must never carry it. In JSON a NUL
    can only be written as the escape ``\\u0000``; the body is scanned as it streams in, before the
    route parses it, so every text field of every route is covered at the edge. An escaped
    backslash followed by ``u0000`` (the six characters ``\\u0000`` of a Windows path or a regex)
    is no NUL and passes: see :func:`nul_escape`.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        target = bytes(scope.get("raw_path") or b"") + b"?" + bytes(scope.get("query_string") or b"")
        if b"%00" in target or b"\x00" in target:
            await _refuse_nul(send, "query")
            return
        tail = b""

        def screen(chunk: bytes) -> Refusal | None:
            nonlocal tail
            found, tail = nul_escape(tail + chunk)
            return functools.partial(_refuse_nul, field="body") if found else None

        await _screen_body(self.app, scope, receive, send, screen)


Refusal = Callable[[Send], Awaitable[None]]


async def _screen_body(
    app: ASGIApp, scope: Scope, receive: Receive, send: Send, screen: Callable[[bytes], Refusal | None]
) -> None:
    """Pass the request on while ``screen`` reads each body chunk as it streams in; the first
    refusal it returns is sent instead of the app's answer, and the app sees the client gone."""
    rejected = False

    async def screened() -> Message:
        nonlocal rejected
        if rejected:
            return {"type": "http.disconnect"}
        message = await receive()
        refusal = screen(message.get("body", b""))
        if refusal is not None:
            rejected = True
            await refusal(send)
            return {"type": "http.disconnect"}
        return message

    async def guarded(message: Message) -> None:
        if not rejected:
            await send(message)

    try:
        await app(scope, screened, guarded)
    except Exception:
        if not rejected:  # after a refusal the app's complaint about the cut body is moot
            raise


_OPEN_ENDS = (b"u000", b"u00", b"u0", b"u", b"")


def nul_escape(data: bytes) -> tuple[bool, bytes]:
    """Whether ``data`` (a JSON body, or a chunk of one after the last call's tail) holds a NUL,
    raw or escaped; and the tail to put before the next chunk.

    An escape ``\\u0000`` is a NUL when its backslash is not itself escaped: the run of
    backslashes that ends with it is odd. The tail keeps an escape split between chunks whole
    (backslashes, then a start of ``u0000``), with that run cut to its parity (one or two). Linear
    time: substring searches and slices only (a regex with a lookbehind took 750 ms for 8 MiB).
    """
    if b"\x00" in data:
        return True, b""
    floor = 0  # a run of backslashes never reaches back past the previous escape's last '0'
    while (at := data.find(b"\\u0000", floor)) != -1:
        if (at + 1 - floor - len(data[floor : at + 1].rstrip(b"\\"))) % 2:
            return True, b""
        floor = at + 6
    for end in _OPEN_ENDS:
        cut = len(data) - len(end)
        if data.endswith(end) and data[cut - 1 : cut] == b"\\":
            run = cut - len(data[:cut].rstrip(b"\\"))
            return False, b"\\" * (2 - run % 2) + end
    return False, b""


async def warm_routes(app: FastAPI) -> None:
    """Have FastAPI build every router's routes now: it does so at the first request into each
    router, which held the event loop for 85 ms of CPU under bench/hostile.py. A request for a
    path no route has walks them all (and ends in a 404 raised here, never sent)."""
    scope: Scope = {
        "type": "http", "method": "GET", "path": "/-/warm", "raw_path": b"/-/warm", "query_string": b"",
        "headers": [], "root_path": "", "scheme": "http", "http_version": "1.1", "app": app,
        "server": ("127.0.0.1", 0), "client": ("127.0.0.1", 0),
    }  # fmt: skip

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        return None

    with contextlib.suppress(HTTPException):
        await app.router(scope, receive, send)


def _with_model_cache(settings: CenterSettings) -> AnalysisSettings:
    """The classifier is cached in the (private) data dir unless set: after a restart, the first
    failure loads the model (tens of ms) instead of training it (seconds of CPU)."""
    if settings.analysis.model_cache is not None:
        return settings.analysis
    return settings.analysis.model_copy(update={"model_cache": Path(settings.data_dir) / "models"})


async def _refuse_nul(send: Send, field: str) -> None:
    body = f'{{"detail":"{field}: a NUL character (\\\\u0000) is not allowed in any text","field":"{field}"}}'
    await send(
        {"type": "http.response.start", "status": 422, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": body.encode()})


async def _too_large(send: Send, limit: int) -> None:
    body = f'{{"detail":"body: larger than {limit} bytes; allowed: at most {limit}","field":"body"}}'.encode()
    await send(
        {"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": body})


async def _start_workers(
    app: FastAPI,
    workers: contextlib.AsyncExitStack,
    store: Store,
    settings: CenterSettings,
    *,
    maintenance: bool,
) -> None:
    """The lease keeper (SQLite: refuses a second live replica) and the dispatching services."""
    app.state.leases = keeper = LeaseKeeper(store, settings.ha)
    await keeper.start()
    keeping = asyncio.create_task(keeper.run_forever(), name="leases")
    workers.push_async_callback(keeper.close)
    workers.push_async_callback(_cancelled, keeping)
    started = await workers.enter_async_context(
        background_workers(
            store,
            app.state.box,
            dispatch=settings.dispatching,
            analysis=_with_model_cache(settings),
            links=settings.links,
            staleness=settings.staleness,
            remedy=settings.remedy,
            keeper=keeper,
            retention=settings.retention if maintenance else None,
        )
    )
    app.state.self_healing = started.healing
    app.state.dispatch_wake = started.dispatcher.wake
    app.state.watches = started.watches


def _start_heartbeat(
    app: FastAPI, workers: contextlib.AsyncExitStack, store: Store, settings: CenterSettings
) -> None:
    """Beat to the external dead man's switch while the store is ready; stops with the app."""
    hb = settings.heartbeat
    assert hb.url is not None
    keeper = getattr(app.state, "leases", None)

    async def healthy() -> bool:
        return await store.ready() is None

    beat = Heartbeat(
        HeartbeatSettings(hb.url, hb.interval_seconds, hb.method, hb.token, hb.timeout_seconds),
        keeper.replica if keeper is not None else default_replica(),
        healthy,
    )
    app.state.heartbeat = beat
    stop = asyncio.Event()
    task = asyncio.create_task(beat.run(stop), name="heartbeat")

    async def stopped() -> None:
        stop.set()
        await _cancelled(task)

    workers.push_async_callback(stopped)


async def _cancelled(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def bootstrap_admin(store: Store, settings: CenterSettings) -> Path | None:
    """On an empty token table, make the admin token; write it to data_dir/admin-token unless given."""
    async with store.transaction() as session:
        if await count_tokens(session):
            return None
        try:
            created = await create_token(
                session,
                TokenIn(name="admin", role="admin", expires_in_days=None),
                None,
                secret=settings.admin_token,
            )
        except ConflictError:  # another replica was first
            return None
    if settings.admin_token:
        return None
    path = private_dir(Path(settings.data_dir)) / "admin-token"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(created.token + "\n")
    return path


#: The API's route modules, in the order of the OpenAPI document.
ROUTES = (
    ops,
    resources,
    runs,
    triggers,
    gates,
    resident_api,
    analysis_api,
    fleet,
    alerting_api,
    silences,
    remedy_api,
)


def create_app(
    settings: CenterSettings,
    *,
    store: Store | None = None,
    box: SecretBox | None = None,
    builtin: Iterable[TemplateIn] | None = None,
    maintenance: bool = True,
    dispatch: bool = False,
) -> FastAPI:
    """The center's app. Without `store` it opens the settings' database; `builtin` defaults to discovery."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = store is None
        app.state.store = the_store = store or Store.connect(
            settings.store.url,
            pool_size=settings.store.pool_size,
            timeout=settings.store.timeout_seconds,
        )
        app.state.box = box or load_secret_box(settings)
        await the_store.migrate()
        path = await bootstrap_admin(the_store, settings)
        if path:
            log.warning("first start: the admin token is in %s", path)
        await register_builtin(the_store, builtin_templates() if builtin is None else builtin)
        # a dispatching center runs maintenance on the HA leader only (see services.workers)
        lone = maintenance and not dispatch
        task = asyncio.create_task(maintain_forever(the_store, settings.retention)) if lone else None
        workers = contextlib.AsyncExitStack()
        if dispatch:
            await _start_workers(app, workers, the_store, settings, maintenance=maintenance)
        if settings.heartbeat.url:
            _start_heartbeat(app, workers, the_store, settings)
        await warm_routes(app)
        try:
            yield
        finally:
            await workers.aclose()
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if own:
                await the_store.close()

    app = FastAPI(
        title="KubeProbe center",
        version=__version__,
        description="Register clusters, define and bind cases, read every result.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics = CenterMetrics()
    errors.install(app)
    for routes in ROUTES:
        app.include_router(routes.router)

    @app.middleware("http")
    async def measure(request, call_next):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        metrics.requests.labels(request.method, route, str(response.status_code)).inc()
        metrics.latency.labels(request.method, route).observe(time.perf_counter() - start)
        return response

    app.add_middleware(NulRefusal)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    return app
