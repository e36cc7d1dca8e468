"""Watch triggers: run a binding's cases when the spec of watched objects in its cluster changes.

A spec change is a change of what the object asks for: everything but ``metadata`` and
``status`` (the ``spec``; ``data`` of a ConfigMap). A status update, a label or an annotation is
not one, so a DaemonSet rolling its pods does not re-trigger. ``metadata.generation`` is the cheap
test (the API server bumps it on spec changes), but not the only one: a Deployment's generation
also moves on annotation changes, and a ConfigMap has none, so when it moved (or is absent) the
content is compared by hash. Objects created or deleted count as changes.

The watch resumes from its resourceVersion; on 410 Gone it relists and reports what differs from
what it knew (so a change made while the watch was away is not lost). Connection failures and
refusals are retried with exponential back-off; ``state`` and ``message`` say how it is doing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from kubeprobe.kube.client import KubeClient, resource_path
from kubeprobe.kube.errors import GoneError, KubeError

log = logging.getLogger(__name__)
WatchState = Literal["starting", "watching", "retrying"]
Key = tuple[str | None, str]
IGNORED = frozenset({"metadata", "status", "apiVersion", "kind"})


@dataclass(frozen=True)
class Seen:
    generation: int | None
    content: str  # hash of the object without metadata and status


def seen(obj: dict[str, Any], before: Seen | None = None) -> Seen:
    generation = (obj.get("metadata") or {}).get("generation")
    if before is not None and generation is not None and generation == before.generation:
        return before  # same generation: the spec did not change
    text = json.dumps({k: v for k, v in obj.items() if k not in IGNORED}, sort_keys=True, default=str)
    return Seen(generation, hashlib.sha256(text.encode()).hexdigest())


@dataclass(frozen=True)
class WatchTarget:
    """Objects to watch: e.g. WatchTarget("apps/v1", "daemonsets", "kube-system")."""

    api_version: str
    plural: str
    namespace: str | None = None
    label_selector: str | None = None
    name: str | None = None

    @property
    def path(self) -> str:
        return resource_path(self.api_version, self.plural, self.namespace)

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if self.label_selector:
            params["labelSelector"] = self.label_selector
        if self.name:
            params["fieldSelector"] = f"metadata.name={self.name}"
        return params

    def describe(self) -> str:
        group = self.api_version.rpartition("/")[0]
        what = f"{self.plural}.{group}" if group else self.plural
        where = f"{self.namespace or '*'}" + (f"/{self.name}" if self.name else "")
        return f"{what}/{where}" + (f"?{self.label_selector}" if self.label_selector else "")


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
        self,
        kube: KubeClient,
        target: WatchTarget,
        on_change: OnChange,
        *,
        retry_seconds: float = 1.0,
        max_retry_seconds: float = 60.0,
    ):
        self.kube = kube
        self.target = target
        self.on_change = on_change
        self.retry_seconds = retry_seconds
        self.max_retry_seconds = max_retry_seconds
        self.objects: dict[Key, Seen] = {}
        self.ready = asyncio.Event()
        self.state: WatchState = "starting"
        self.message = ""
        self.failures = 0

    async def _list(self) -> str:
        version = ""
        previous, first = self.objects, not self.ready.is_set()
        now: dict[Key, Seen] = {}
        async for page in self.kube.iter_pages(self.target.path, **self.target.params()):
            version = (page.get("metadata") or {}).get("resourceVersion") or version
            for obj in page.get("items") or []:
                meta = obj["metadata"]
                key = (meta.get("namespace"), meta["name"])
                now[key] = seen(obj, previous.get(key))
        self.objects = now
        if not first:  # a relist: what changed while we were not watching
            for key, item in now.items():
                if key not in previous or previous[key].content != item.content:
                    kind = "ADDED" if key not in previous else "MODIFIED"
                    await self.on_change(SpecChange(self.target, kind, key[0], key[1], item.generation))
            for key in previous.keys() - now.keys():
                await self.on_change(
                    SpecChange(self.target, "DELETED", key[0], key[1], previous[key].generation)
                )
        return version

    async def run(self) -> None:
        version = ""
        while True:
            try:
                if not version:
                    version = await self._list()
                    self.ready.set()
                self._ok()
                async for event in self.kube.watch(
                    self.target.path,
                    resource_version=version,
                    allowWatchBookmarks="true",
                    **self.target.params(),
                ):
                    version = await self._handle(event) or version
                    self._ok()
            except GoneError:
                version = ""  # too old: relist and compare
            except (KubeError, ValueError) as exc:  # ValueError: a line cut off when the stream broke
                self.failures += 1
                delay = min(self.retry_seconds * 2 ** (self.failures - 1), self.max_retry_seconds)
                self.state, self.message = "retrying", f"{exc}; retrying in {delay:.0f}s"
                log.warning("watch of %s failed (%s); retrying in %.1fs", self.target.path, exc, delay)
                await asyncio.sleep(delay)

    def _ok(self) -> None:
        if self.state != "watching":
            log.info("watching %s", self.target.describe())
        self.state, self.message, self.failures = "watching", "", 0

    async def _handle(self, event: dict[str, object]) -> str | None:
        kind = str(event.get("type"))
        obj = event.get("object")
        if not isinstance(obj, dict):
            return None
        meta = obj.get("metadata") or {}
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise GoneError(410, "Expired", str(obj.get("message")))
            raise KubeError(f"watch error {obj.get('code')}: {obj.get('message')}")
        if kind == "BOOKMARK":
            return str(meta.get("resourceVersion") or "") or None
        key = (meta.get("namespace"), str(meta.get("name")))
        before = self.objects.get(key)
        if kind == "DELETED":
            self.objects.pop(key, None)
            changed = True
        else:
            item = seen(obj, before)
            self.objects[key] = item
            changed = before is None or before.content != item.content
        if changed:
            generation = meta.get("generation")
            await self.on_change(SpecChange(self.target, kind, key[0], key[1], generation))
        return str(meta.get("resourceVersion") or "") or None
