"""The HTTP endpoints Slack, Mattermost and DingTalk call (``kubeprobe chatops serve PLATFORM``).

``POST /slack/events`` (events, slash commands and interactivity alike), ``POST /mattermost/command``
and ``/mattermost/actions``, ``POST /dingtalk/callback``, and ``GET /healthz``. Bodies over 1 MiB are
refused before any parsing; each adapter checks signatures, tokens and replays itself.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from kubeprobe.chatops.adapters.dingtalk import DingTalkAdapter, DingTalkSettings
from kubeprobe.chatops.adapters.mattermost import MattermostAdapter, MattermostSettings
from kubeprobe.chatops.adapters.slack import SlackAdapter, SlackSettings

MAX_BODY = 1 << 20
HttpAdapter = SlackAdapter | MattermostAdapter | DingTalkAdapter
PLATFORMS = ("slack", "slack-socket", "mattermost", "dingtalk", "dingtalk-stream")


def adapter_for(platform: str) -> HttpAdapter:
    """The adapter of a platform, its settings from KUBEPROBE_CHATOPS_<PLATFORM>_* variables."""
    if platform in ("slack", "slack-socket"):
        return SlackAdapter(SlackSettings())  # type: ignore[call-arg]
    if platform == "mattermost":
        return MattermostAdapter(MattermostSettings())  # type: ignore[call-arg]
    if platform in ("dingtalk", "dingtalk-stream"):
        return DingTalkAdapter(DingTalkSettings())  # type: ignore[call-arg]
    raise ValueError(f"unknown platform {platform!r}; one of matrix, {', '.join(PLATFORMS)}")


async def _body(request: Request) -> bytes | None:
    if int(request.headers.get("content-length") or 0) > MAX_BODY:
        return None
    body = await request.body()
    return body if len(body) <= MAX_BODY else None


def _json(status: int, body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, status_code=status)


def callback_app(adapter: HttpAdapter) -> FastAPI:
    app = FastAPI(title="KubeProbe ChatOps callbacks", docs_url=None, redoc_url=None, openapi_url=None)
    too_big = JSONResponse({"error": "body too large"}, status_code=413)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    if isinstance(adapter, SlackAdapter):

        @app.post("/slack/events")
        async def slack(request: Request) -> Response:
            body = await _body(request)
            if body is None:
                return too_big
            status, headers, text = await adapter.handle_http(body, request.headers)
            return Response(text, status_code=status, headers=headers)

    if isinstance(adapter, MattermostAdapter):

        @app.post("/mattermost/command")
        async def command(request: Request) -> Response:
            body = await _body(request)
            return too_big if body is None else _json(*await adapter.handle_command(body))

        @app.post("/mattermost/actions")
        async def actions(request: Request) -> Response:
            body = await _body(request)
            return too_big if body is None else _json(*await adapter.handle_action(body))

    if isinstance(adapter, DingTalkAdapter):

        @app.post("/dingtalk/callback")
        async def dingtalk(request: Request) -> Response:
            body = await _body(request)
            return too_big if body is None else _json(*await adapter.handle_callback(body, request.headers))

    return app
