"""The center's heartbeat: a dead man's switch outside it notices when the center goes quiet.

Every ``interval_s`` the center tells a configured receiver (a dead man's switch: a healthchecks-
style ping URL, a PagerDuty or Opsgenie heartbeat, an Alertmanager watchdog receiver) that it is
alive, but only while it is healthy: ``healthy()`` (the center passes its readiness check: the
database answers, the schema is current) must say so first. A center that died, hangs or lost its
database stops beating, and the receiver, which expects a beat every interval, raises the alarm.
Every replica beats; the switch fires when none does.

The body (POST) is JSON ``{"source": "kubeprobe", "status": "alive", "replica", "at", "seq"}``;
``method="GET"`` sends a bare request, as ping URLs expect. A failed beat is logged and retried at
the next interval; it never stops the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import httpx

log = logging.getLogger(__name__)
Healthy = Callable[[], Awaitable[bool]]


@dataclass(frozen=True)
class HeartbeatSettings:
    url: str
    interval_s: float = 60.0
    method: Literal["POST", "GET"] = "POST"
    token: str | None = None  # sent as a bearer token when set
    timeout_s: float = 10.0


class Heartbeat:
    """Beats while healthy, until stopped. ``beats``/``failures`` count what happened."""

    def __init__(
        self,
        settings: HeartbeatSettings,
        replica: str,
        healthy: Healthy,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        if settings.interval_s <= 0:
            raise ValueError("heartbeat interval must be > 0")
        self.settings = settings
        self.replica = replica
        self.healthy = healthy
        self._client = client
        self.beats = 0
        self.failures = 0

    async def beat(self) -> bool:
        """One beat if healthy; whether the receiver took it."""
        if not await self.healthy():
            log.warning("heartbeat skipped: the center is not healthy")
            return False
        s = self.settings
        headers = {"Authorization": f"Bearer {s.token}"} if s.token else {}
        body = {
            "source": "kubeprobe",
            "status": "alive",
            "replica": self.replica,
            "at": dt.datetime.now(dt.UTC).isoformat(),
            "seq": self.beats + 1,
        }
        client = self._client or httpx.AsyncClient(timeout=s.timeout_s)
        try:
            if s.method == "GET":
                resp = await client.get(s.url, headers=headers)
            else:
                resp = await client.post(s.url, json=body, headers=headers)
            resp.raise_for_status()
        except httpx.HTTPError as exc:
            self.failures += 1
            log.warning("heartbeat to %s failed: %s", httpx.URL(s.url).host, exc)
            return False
        finally:
            if self._client is None:
                await client.aclose()
        self.beats += 1
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Beat now and then every interval until ``stop`` is set."""
        while not stop.is_set():
            try:
                await self.beat()
            except Exception:  # a broken health check must not end the heartbeat loop for good
                self.failures += 1
                log.exception("heartbeat failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.settings.interval_s)
