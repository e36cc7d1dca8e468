"""Waiting inside probes: poll an object until a condition holds, or fail in the cluster's own words."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from kubeprobe.cases.context import ProbeFailure
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.errors import NotFoundError

Obj = dict[str, Any]


async def until(
    kube: KubeClient,
    path: str,
    done: Callable[[Obj | None], bool],
    *,
    timeout: float,
    explain: Callable[[Obj | None], str],
    interval: float = 0.1,
) -> Obj | None:
    """Poll ``path`` until ``done(obj)`` (obj is None once it is gone); ProbeFailure with ``explain``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            obj: Obj | None = await kube.get(path)
        except NotFoundError:
            obj = None
        if done(obj):
            return obj
        if time.monotonic() >= deadline:
            raise ProbeFailure(explain(obj))
        await asyncio.sleep(interval)


def condition(obj: Obj | None, kind: str) -> Obj | None:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


async def warning_events(kube: KubeClient, namespace: str, name: str, limit: int = 3) -> list[str]:
    """The latest Warning events about an object, as "Reason: message"."""
    events = await kube.list_all(
        f"/api/v1/namespaces/{namespace}/events",
        fieldSelector=f"involvedObject.name={name},type=Warning",
    )
    events.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    return [f"{e.get('reason')}: {e.get('message')}" for e in events[-limit:]]
