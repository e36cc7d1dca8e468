"""Change events in: CloudEvents 1.0 (structured JSON), which cluster they concern, and coalescing.

A release pipeline posts e.g. ``{"specversion": "1.0", "id": "...", "source": "ci/deployer",
"type": "com.example.component.released", "subject": "cluster/prod-eu-1", "data": {...}}``.
The cluster comes from the ``cluster`` extension attribute, ``data.cluster``, or a subject of the
form ``cluster/NAME``. A repeat within the coalescing window starts no second run of a case: the
events route asks the store for the case's recent event runs (so replicas agree).
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
