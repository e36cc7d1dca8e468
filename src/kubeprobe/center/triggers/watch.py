"""Watch triggers: run a binding's cases when the spec of watched objects in its cluster changes.

A spec change is a new ``metadata.generation`` (the API server bumps it on spec changes only, not
on status updates), so a DaemonSet rolling its pods does not re-trigger; objects created or
deleted count as changes. The watch resumes from its resourceVersion and relists on 410 Gone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from kubeprobe.kube.client import KubeClient, resource_path
from kubeprobe.kube.errors import GoneError, KubeConnectionError, KubeError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WatchTarget:
    """Objects to watch: e.g. WatchTarget("apps/v1", "daemonsets", "kube-system")."""

    api_version: str
    plural: str
    namespace: str | None = None
    label_selector: str | None = None

    @property
    def path(self) -> str:
        return resource_path(self.api_version, self.plural, self.namespace)


@dataclass(frozen=True)
class SpecChange:
    target: WatchTarget
    kind: str  # ADDED (after the initial list), MODIFIED, DELETED
    namespace: str | None
    name: str
    generation: int | None


OnChange = Callable[[SpecChange], Awaitable[None]]


class SpecWatcher:
    """Watches one target and calls ``on_change`` for each spec change, until cancelled."""

    def __init__(
        self, kube: KubeClient, target: WatchTarget, on_change: OnChange, *, retry_seconds: float = 2.0
    ):
        self.kube = kube
        self.target = target
        self.on_change = on_change
        self.retry_seconds = retry_seconds
        self.generations: dict[tuple[str | None, str], int | None] = {}
        self.ready = asyncio.Event()

    async def _list(self) -> str:
        params: dict[str, Any] = {}
        if self.target.label_selector:
            params["labelSelector"] = self.target.label_selector
        version = ""
        seen: dict[tuple[str | None, str], int | None] = {}
        async for page in self.kube.iter_pages(self.target.path, **params):
            version = (page.get("metadata") or {}).get("resourceVersion") or version
            for obj in page.get("items") or []:
                meta = obj["metadata"]
                seen[(meta.get("namespace"), meta["name"])] = meta.get("generation")
        self.generations = seen
        return version

    async def run(self) -> None:
        params: dict[str, Any] = {}
        if self.target.label_selector:
            params["labelSelector"] = self.target.label_selector
        version = ""
        while True:
            try:
                if not version:
                    version = await self._list()
                    self.ready.set()
                async for event in self.kube.watch(self.target.path, resource_version=version, **params):
                    version = await self._handle(event) or version
            except GoneError:
                version = ""  # too old: relist (changes in the gap are not reported as changes)
            except (KubeConnectionError, KubeError) as exc:
                log.warning("watch of %s failed (%s); retrying", self.target.path, exc)
                await asyncio.sleep(self.retry_seconds)

    async def _handle(self, event: dict[str, object]) -> str | None:
        kind = str(event.get("type"))
        obj = event.get("object")
        if not isinstance(obj, dict):
            return None
        meta = obj.get("metadata") or {}
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise GoneError(410, "Expired", str(obj.get("message")))
            return None
        if kind == "BOOKMARK":
            return str(meta.get("resourceVersion") or "") or None
        key = (meta.get("namespace"), str(meta.get("name")))
        generation = meta.get("generation")
        old = self.generations.get(key, "absent")
        if kind == "DELETED":
            self.generations.pop(key, None)
        else:
            self.generations[key] = generation
        if kind == "DELETED" or old == "absent" or old != generation:
            await self.on_change(SpecChange(self.target, kind, key[0], key[1], generation))
        return str(meta.get("resourceVersion") or "") or None
