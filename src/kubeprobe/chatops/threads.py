"""Incidents in chat: one message per incident and channel, edited in place as the incident changes.

A loop asks the center for recent incidents every ``incident_poll_seconds`` (as the bot's viewer)
and, for every channel whose scope covers the incident's cluster, posts a message the first time
and edits that same message when state, priority, silencing or cases change (firing →
acknowledged → resolved). Open incidents carry buttons: Ack, Silence 1h, Rerun, Diagnose. One bad
incident or one failed post never stops the loop for the others.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kubeprobe.chatops.actions import Actions
from kubeprobe.chatops.center import CenterError
from kubeprobe.chatops.config import ChatOpsSettings
from kubeprobe.chatops.messages import Button, ChatTransport, Reply

log = logging.getLogger(__name__)
BOT_USER = "kubeprobe-chatops"
ICON = {"firing": "🔥", "acknowledged": "👀", "resolved": "✅"}


def incident_buttons(incident_id: int) -> list[Button]:
    return [
        Button("Ack", f"ack:{incident_id}", "✅"),
        Button("Silence 1h", f"silence-1h:{incident_id}", "🔕"),
        Button("Rerun", f"rerun-incident:{incident_id}", "🔁"),
        Button("Diagnose", f"diagnose-incident:{incident_id}", "🔍"),
    ]


def render_incident(inc: dict[str, Any], actions: Actions) -> Reply:
    state = inc["state"]
    muted = " (silenced)" if inc.get("silenced") else ""
    lines = [
        f"{ICON.get(state, '•')} Incident #{inc['id']} {state.upper()}{muted}: {str(inc['title'])[:300]}",
        f"{inc['priority']} · cause {inc['cause']} · {', '.join(inc.get('clusters') or [])} · "
        f"cases {', '.join((inc.get('cases') or [])[:5])}",
    ]
    if inc.get("acked_by"):
        lines.append(f"acknowledged by {inc['acked_by']}")
    lines.append(actions.link("incidents"))
    buttons = incident_buttons(inc["id"]) if state != "resolved" else []
    return Reply("\n".join(lines), buttons, incident=int(inc["id"]))


def _fingerprint(inc: dict[str, Any]) -> tuple[Any, ...]:
    return (
        inc["state"],
        inc["priority"],
        inc.get("silenced"),
        tuple(inc.get("cases") or ()),
        inc.get("acked_by"),
    )


class IncidentThreads:
    def __init__(
        self, settings: ChatOpsSettings, actions: Actions, transport: ChatTransport, platform: str = ""
    ) -> None:
        self.settings = settings
        self.actions = actions
        self.transport = transport
        #: only channels of this platform (``slack:...``) go through this transport; "" for all
        self.platform = platform
        #: (channel, incident) → (message id, what it showed)
        self.messages: dict[tuple[str, int], tuple[str, tuple[Any, ...]]] = {}

    def channels_for(self, inc: dict[str, Any]) -> list[str]:
        clusters = set(inc.get("clusters") or ([inc["cluster"]] if inc.get("cluster") else []))
        return [
            channel
            for channel, scope in self.settings.channels.items()
            if ("*" in scope or clusters & set(scope))
            and channel.startswith(f"{self.platform}:" if self.platform else "")
        ]

    def incident_of(self, message_id: str) -> int | None:
        """The incident a bot message shows (for reactions and replies on it)."""
        for (_, incident), (mid, _) in self.messages.items():
            if mid == message_id:
                return incident
        return None

    async def sync_once(self) -> None:
        page = await self.actions.center.call(
            "viewer", BOT_USER, "GET", "/api/v1/incidents", params={"limit": 100}
        )
        for inc in reversed(page["items"]):
            for channel in self.channels_for(inc):
                try:
                    await self._show(channel, inc)
                except Exception as exc:
                    log.warning("chatops: incident %s in %s: %s", inc.get("id"), channel, exc)

    async def _show(self, channel: str, inc: dict[str, Any]) -> None:
        key = (channel, int(inc["id"]))
        seen = self.messages.get(key)
        now = _fingerprint(inc)
        if seen is None:
            if inc["state"] == "resolved":
                return  # resolved before we ever showed it: nothing to say
            mid = await self.transport.send(channel, render_incident(inc, self.actions))
            self.messages[key] = (mid, now)
        elif seen[1] != now:
            await self.transport.edit(channel, seen[0], render_incident(inc, self.actions))
            self.messages[key] = (seen[0], now)

    async def run(self) -> None:
        """Forever: sync, wait, again (cancel to stop)."""
        while True:
            try:
                await self.sync_once()
            except CenterError as exc:
                log.warning("chatops: incidents: %s", exc)
            await asyncio.sleep(self.settings.incident_poll_seconds)
