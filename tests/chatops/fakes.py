"""Local stand-ins for the chat SaaS APIs the adapters call (Slack's Web API and Socket Mode, the
Mattermost REST API, DingTalk's OpenAPI, session webhooks and Stream gateway): a real HTTP and
WebSocket server on 127.0.0.1 that records each request and answers as the service does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

Handler = Callable[[dict[str, Any]], Any]


@dataclass
class Call:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeService:
    """Routes ``path`` → a function of the decoded body that returns the JSON answer."""

    routes: dict[str, Handler]
    calls: list[Call] = field(default_factory=list)
    #: WebSocket frames to push to a client that connects to /ws, and the frames it sent back
    push: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    received: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    url: str = ""
    _runner: web.AppRunner | None = None

    def on(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.path == path]

    async def _http(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        if request.content_type == "application/x-www-form-urlencoded":
            body: dict[str, Any] = dict(parse_qsl(raw.decode()))
        else:
            body = json.loads(raw) if raw else {}
        self.calls.append(Call(request.path, dict(request.headers), body))
        handler = self.routes.get(request.path)
        if handler is None:
            return web.json_response({"ok": False, "error": "unknown_method"}, status=404)
        return web.json_response(handler(body))

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)

        async def pushing() -> None:
            while True:
                await ws.send_str(json.dumps(await self.push.get()))

        task = asyncio.create_task(pushing())
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self.received.put(json.loads(msg.data))
        finally:
            task.cancel()
        return ws

    async def start(self) -> FakeService:
        app = web.Application()
        app.router.add_get("/ws", self._ws)
        app.router.add_route("*", "/{tail:.*}", self._http)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
