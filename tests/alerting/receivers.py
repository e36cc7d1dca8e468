"""Local stand-ins for the services notifiers talk to. Each checks the request as the real service
would (Slack Block Kit shape, DingTalk signature, PagerDuty Events v2 fields) and answers as it does."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

SLACK_BLOCK_TYPES = {"header", "section", "actions", "divider", "context"}
PD_SEVERITIES = {"critical", "error", "warning", "info"}
ROUTING_KEY = "R0123456789ABCDEF0123456789ABCDE"  # 32 characters, like a real integration key
DINGTALK_SECRET = "SEC0123456789abcdef"


@dataclass
class Recorded:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


def slack_problems(body: Any) -> list[str]:
    problems = []
    if not isinstance(body.get("text"), str) or not body["text"]:
        problems.append("text missing")
    for block in body.get("blocks", []):
        kind = block.get("type")
        if kind not in SLACK_BLOCK_TYPES:
            problems.append(f"block type {kind}")
        if kind == "header" and (block["text"]["type"] != "plain_text" or len(block["text"]["text"]) > 150):
            problems.append("header")
        if kind == "section":
            fields = block.get("fields", [])
            if len(fields) > 10 or any(f["type"] not in ("mrkdwn", "plain_text") for f in fields):
                problems.append("section fields")
            if not fields and "text" not in block:
                problems.append("empty section")
        if kind == "actions" and any(e.get("type") != "button" or "url" not in e for e in block["elements"]):
            problems.append("actions")
    return problems


def pagerduty_problems(body: Any) -> list[str]:
    problems = []
    if body.get("routing_key") != ROUTING_KEY:
        problems.append("routing_key")
    action = body.get("event_action")
    if action not in ("trigger", "acknowledge", "resolve"):
        problems.append("event_action")
    if not body.get("dedup_key") or len(body["dedup_key"]) > 255:
        problems.append("dedup_key")
    if action == "trigger":
        payload = body.get("payload") or {}
        if not payload.get("summary") or len(payload["summary"]) > 1024:
            problems.append("payload.summary")
        if not payload.get("source"):
            problems.append("payload.source")
        if payload.get("severity") not in PD_SEVERITIES:
            problems.append("payload.severity")
    return problems


def dingtalk_sign_ok(query: dict[str, str]) -> bool:
    ts = query.get("timestamp", "")
    string = f"{ts}\n{DINGTALK_SECRET}".encode()
    expected = base64.b64encode(hmac.new(DINGTALK_SECRET.encode(), string, hashlib.sha256).digest()).decode()
    return bool(ts) and hmac.compare_digest(query.get("sign", ""), expected)  # aiohttp has url-decoded it


@dataclass
class Receivers:
    """An HTTP server with Slack, DingTalk, PagerDuty and plain webhook endpoints; `fail` queues errors."""

    requests: list[Recorded] = field(default_factory=list)
    fail: deque[int] = field(default_factory=deque)
    url: str = ""
    _runner: web.AppRunner | None = None

    def on(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(Recorded(request.path, dict(request.query), dict(request.headers), body))
        if self.fail:
            return web.Response(status=self.fail.popleft(), text="upstream trouble")
        handler: Callable[[web.Request, Any], web.StreamResponse] = ROUTES[request.path]
        return handler(request, body)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def _slack_webhook(request: web.Request, body: Any) -> web.StreamResponse:
    problems = slack_problems(body)
    return web.Response(status=400, text="invalid_blocks") if problems else web.Response(text="ok")


def _slack_api(request: web.Request, body: Any) -> web.StreamResponse:
    if request.headers.get("Authorization") != "Bearer xoxb-test-token":
        return web.json_response({"ok": False, "error": "invalid_auth"})
    if not body.get("channel"):
        return web.json_response({"ok": False, "error": "channel_not_found"})
    if slack_problems(body):
        return web.json_response({"ok": False, "error": "invalid_blocks"})
    return web.json_response({"ok": True, "channel": body["channel"], "ts": "1700000000.000100"})


def _dingtalk(request: web.Request, body: Any) -> web.StreamResponse:
    if request.query.get("access_token") != "tok":
        return web.json_response({"errcode": 300001, "errmsg": "token is not exist"})
    if not dingtalk_sign_ok(dict(request.query)):
        return web.json_response({"errcode": 310000, "errmsg": "sign not match"})
    md = body.get("markdown") or {}
    if body.get("msgtype") != "markdown" or not md.get("title") or not md.get("text"):
        return web.json_response({"errcode": 40035, "errmsg": "missing parameter"})
    return web.json_response({"errcode": 0, "errmsg": "ok"})


def _pagerduty(request: web.Request, body: Any) -> web.StreamResponse:
    problems = pagerduty_problems(body)
    if problems:
        return web.json_response({"status": "invalid event", "errors": problems}, status=400)
    return web.json_response(
        {"status": "success", "message": "Event processed", "dedup_key": body["dedup_key"]}, status=202
    )


def _webhook(request: web.Request, body: Any) -> web.StreamResponse:
    return web.json_response({"received": True})


ROUTES: dict[str, Callable[[web.Request, Any], web.StreamResponse]] = {
    "/slack/webhook": _slack_webhook,
    "/api/chat.postMessage": _slack_api,
    "/robot/send": _dingtalk,
    "/v2/enqueue": _pagerduty,
    "/hook": _webhook,
    "/heartbeat": _webhook,
}
