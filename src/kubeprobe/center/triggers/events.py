"""Change events in: CloudEvents 1.0 (structured JSON), which cluster they concern, and coalescing.

A release pipeline posts e.g. ``{"specversion": "1.0", "id": "...", "source": "ci/deployer",
"type": "com.example.component.released", "subject": "cluster/prod-eu-1", "data": {...}}``.
The cluster comes from the ``cluster`` extension attribute, ``data.cluster``, or a subject of the
form ``cluster/NAME``. Duplicates for the same cluster and event type within the window coalesce
into the runs already started.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

REQUIRED = ("specversion", "id", "source", "type")


class EventError(ValueError):
    """Not a usable CloudEvent; the message names the attribute."""


@dataclass(frozen=True)
class ChangeEvent:
    id: str
    source: str
    type: str
    cluster: str
    time: dt.datetime | None
    data: Any


def parse(body: Any) -> ChangeEvent:
    if not isinstance(body, dict):
        raise EventError("a CloudEvent must be a JSON object")
    for attr in REQUIRED:
        if not isinstance(body.get(attr), str) or not body[attr]:
            raise EventError(f"CloudEvent attribute {attr!r} is required and must be a non-empty string")
    if body["specversion"] != "1.0":
        raise EventError(f"specversion {body['specversion']!r} is not supported; use '1.0'")
    data = body.get("data")
    cluster = body.get("cluster") or (data.get("cluster") if isinstance(data, dict) else None)
    subject = body.get("subject")
    if not cluster and isinstance(subject, str) and subject.startswith("cluster/"):
        cluster = subject.removeprefix("cluster/")
    if not isinstance(cluster, str) or not cluster:
        raise EventError(
            "the event names no cluster: set the 'cluster' attribute, data.cluster, or subject 'cluster/NAME'"
        )
    when = None
    if body.get("time"):
        try:
            when = dt.datetime.fromisoformat(str(body["time"]).replace("Z", "+00:00"))
        except ValueError as exc:
            raise EventError(f"CloudEvent 'time' {body['time']!r} is not an RFC 3339 time") from exc
    return ChangeEvent(body["id"], body["source"], body["type"], cluster, when, data)


def matches(binding_events: list[str], event_type: str) -> bool:
    """A binding's event filter: exact types, prefixes ending in '*', or '*' for all."""
    for pattern in binding_events:
        if pattern in ("*", event_type):
            return True
        if pattern.endswith("*") and event_type.startswith(pattern[:-1]):
            return True
    return False


class Coalescer:
    """Remembers (cluster, event type) → when it last triggered; a repeat inside ``window`` is dropped."""

    def __init__(self, window_seconds: float) -> None:
        self.window = window_seconds
        self._last: dict[tuple[str, str], float] = {}

    def admit(self, cluster: str, event_type: str, now: float) -> bool:
        key = (cluster, event_type)
        last = self._last.get(key)
        if last is not None and now - last < self.window:
            return False
        self._last[key] = now
        if len(self._last) > 10_000:  # bounded memory: forget entries older than the window
            self._last = {k: t for k, t in self._last.items() if now - t < self.window}
        return True
