"""Wiring: settings → center client → bot → adapter, and the loops that run beside it.

:func:`serve` runs one adapter with the bot, the incident threads and a catalog refresh (names
change as clusters and cases are added) until cancelled. One central bot serves every cluster:
the channels' scopes say which channel sees which.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from kubeprobe.chatops.actions import Actions
from kubeprobe.chatops.bot import Bot
from kubeprobe.chatops.center import CenterError, ChatCenter
from kubeprobe.chatops.config import ChatOpsSettings
from kubeprobe.chatops.messages import ChatTransport
from kubeprobe.chatops.threads import IncidentThreads
from kubeprobe.chatops.understanding import Understanding

log = logging.getLogger(__name__)
CATALOG_REFRESH_SECONDS = 60.0


@dataclass
class ChatOps:
    settings: ChatOpsSettings
    center: ChatCenter
    bot: Bot
    threads: IncidentThreads | None = None


def build(settings: ChatOpsSettings, transport: ChatTransport | None = None, platform: str = "") -> ChatOps:
    center = ChatCenter(settings)
    actions = Actions(center, settings.links)
    bot = Bot(settings, actions, Understanding(), transport)
    threads = IncidentThreads(settings, actions, transport, platform) if transport is not None else None
    return ChatOps(settings, center, bot, threads)


async def _refresh_catalog(bot: Bot) -> None:
    while True:
        try:
            await bot.refresh_catalog()
        except CenterError as exc:
            log.warning("chatops: cannot load cluster and case names: %s", exc)
        await asyncio.sleep(CATALOG_REFRESH_SECONDS)


@contextlib.asynccontextmanager
async def running(
    settings: ChatOpsSettings, transport: ChatTransport, platform: str = ""
) -> AsyncIterator[ChatOps]:
    """The bot and its loops (catalog refresh, incident threads in ``platform``'s channels) meanwhile."""
    ops = build(settings, transport, platform)
    await asyncio.to_thread(ops.bot.understanding.parse, "warm up")  # trains the classifier once, off-loop
    tasks = [asyncio.create_task(_refresh_catalog(ops.bot), name="chatops-catalog")]
    if ops.threads is not None:
        tasks.append(asyncio.create_task(ops.threads.run(), name="chatops-incidents"))
    try:
        yield ops
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await ops.bot.aclose()
        await ops.center.aclose()


async def serve_matrix(settings: ChatOpsSettings, ready: Callable[[], Awaitable[None]] | None = None) -> None:
    """Run the Matrix adapter with the bot until cancelled."""
    from kubeprobe.chatops.adapters.matrix import MatrixAdapter, MatrixSettings

    adapter = await MatrixAdapter.login(MatrixSettings())
    try:
        async with running(settings, adapter, "matrix") as ops:
            adapter.bot = ops.bot
            if ready is not None:
                await ready()
            await adapter.run()
    finally:
        await adapter.aclose()


async def serve_platform(settings: ChatOpsSettings, platform: str, host: str, port: int) -> None:
    """Slack, DingTalk or Mattermost: HTTP callbacks on host:port, or Socket Mode / Stream mode."""
    import uvicorn

    from kubeprobe.chatops.adapters.web import adapter_for, callback_app

    adapter = adapter_for(platform)
    name = platform.split("-", maxsplit=1)[0]
    async with running(settings, adapter, name) as ops:
        adapter.bot = ops.bot
        if platform == "slack-socket":
            handler = await adapter.socket_mode()  # type: ignore[union-attr]
            await handler.start_async()
        elif platform == "dingtalk-stream":
            await adapter.stream_client().start()  # type: ignore[union-attr]
        else:
            app = callback_app(adapter)
            server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="info"))
            await server.serve()
