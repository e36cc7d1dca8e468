"""Watches: the watch manager keeps one standing watch per (cluster, watched resource) for every binding that
names it, started and stopped as bindings, groups and clusters change.

Every ``refresh_seconds`` the manager reads which enabled bindings watch what (a group binding
watches in each of its clusters), starts the watches that are new, stops the ones no binding
needs any more, and restarts a cluster's watches when its credentials change. Spec changes of one
cluster until it has been quiet for ``coalesce_seconds`` are gathered into one firing: each
(binding, case) they concern gets one run, trigger ``watch``, through the normal path
(concurrency policy, deadline, dispatch). An unreachable cluster or a refused watch is retried
with back-off by its :class:`SpecWatcher`; :meth:`WatchManager.status` says how each is doing.

A :class:`SpecWatcher` resumes from its resourceVersion; on 410 Gone it relists and reports what
differs from what it knew (so a change made while the watch was away is not lost). What counts as a
spec change is :mod:`kubeprobe.center.triggers.specs`'s.

In an HA center (``ownership`` given) only the clusters this replica's leases hold are watched, and
a change of ownership refreshes at once. A cluster taken over from another replica is listed
from that replica's last renewal: every object written (not through ``status``) since then counts
as changed, so a spec change made while no replica watched it still starts its run (a label change
then runs the case once too often, and so does a change the old owner saw in its last
``renew_seconds`` before it handed the cluster over; a deletion in that time is not seen).
``tests/center/services/test_watch_ownership.py`` shows both.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from kubeprobe.center.credentials import SecretBox
from kubeprobe.center.store import clusters
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.pending import start_runs
from kubeprobe.center.store.targets import expand
from kubeprobe.center.triggers.specs import Key, Seen, SpecChange, WatchTarget, seen, written_since
from kubeprobe.center.triggers.targets import Target
from kubeprobe.kube.client import KubeClient, resource_path
from kubeprobe.kube.config import parse_kubeconfig
from kubeprobe.kube.errors import GoneError, KubeConfigError, KubeError
from kubeprobe.model import Trigger

log = logging.getLogger(__name__)
WatchState = Literal["starting", "watching", "retrying"]
MAX_CHANGES_IN_DETAILS = 20


OnChange = Callable[[SpecChange], Awaitable[None]]


class Ownership(Protocol):
    """What the watch manager needs of a lease keeper."""

    clusters: frozenset[int]

    async def wait_change(self, timeout: float | None = None) -> bool: ...

    def take_watch_since(self, cluster_id: int) -> dt.datetime | None: ...


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
        since: dt.datetime | None = None,
    ):
        self.kube = kube
        self.since = since  # a takeover: what was written since then counts as changed
        self.target = target
        self.path = resource_path(target.api_version, target.plural, target.namespace)
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
        missed: list[SpecChange] = []  # taken over: what was written while nobody watched
        async for page in self.kube.iter_pages(self.path, **self.target.params()):
            version = (page.get("metadata") or {}).get("resourceVersion") or version
            for obj in page.get("items") or []:
                meta = obj["metadata"]
                key = (meta.get("namespace"), meta["name"])
                now[key] = item = seen(obj, previous.get(key))
                if first and self.since is not None and written_since(obj, self.since):
                    missed.append(SpecChange(self.target, "MODIFIED", key[0], key[1], item.generation))
        self.objects = now
        for change in missed:
            await self.on_change(change)
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
                    self.path,
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
                log.warning("watch of %s failed (%s); retrying in %.1fs", self.path, exc, delay)
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


@dataclass(frozen=True)
class WatchKey:
    cluster_id: int
    target: WatchTarget


@dataclass
class _ClusterWatches:
    name: str
    fingerprint: dt.datetime
    client: KubeClient | None
    error: str = ""
    since: dt.datetime | None = None  # taken over: its first watches start from here


class WatchManager:
    """Keeps the watches that bindings ask for and turns their spec changes into runs."""

    def __init__(
        self,
        store: Store,
        box: SecretBox,
        *,
        refresh_seconds: float = 5.0,
        coalesce_seconds: float = 2.0,
        retry_seconds: float = 1.0,
        max_retry_seconds: float = 60.0,
        on_run: asyncio.Event | None = None,
        ownership: Ownership | None = None,
    ) -> None:
        self.store = store
        self.box = box
        self.ownership = ownership
        self.refresh_seconds = refresh_seconds
        self.coalesce_seconds = coalesce_seconds
        self.retry_seconds = retry_seconds
        self.max_retry_seconds = max_retry_seconds
        self.on_run = on_run
        self.started_runs = 0
        self._clusters: dict[int, _ClusterWatches] = {}
        self._watchers: dict[WatchKey, tuple[SpecWatcher, asyncio.Task[None]]] = {}
        self._wanted: dict[WatchKey, list[Target]] = {}
        self._pending: dict[int, list[SpecChange]] = {}
        self._flushes: dict[int, asyncio.Task[None]] = {}
        self._last_change: dict[int, float] = {}

    async def run_forever(self) -> None:
        try:
            while True:
                try:
                    await self.refresh()
                except Exception:  # the database may be away: keep what runs, retry
                    log.exception("loading watched bindings failed; retrying")
                if self.ownership is None:
                    await asyncio.sleep(self.refresh_seconds)
                else:
                    await self.ownership.wait_change(self.refresh_seconds)
        finally:
            await self.stop()

    async def refresh(self) -> None:
        """Bring the running watches in line with the bindings."""
        wanted: dict[WatchKey, list[Target]] = {}
        owned = self.ownership.clusters if self.ownership is not None else None
        for target in await expand(self.store, periodic=False):
            if owned is not None and target.cluster_id not in owned:
                continue
            for watch in target.watches:
                wanted.setdefault(WatchKey(target.cluster_id, watch), []).append(target)
        cluster_ids = {k.cluster_id for k in wanted}
        current = await clusters.credentials_of(self.store, cluster_ids)
        for cid in list(self._clusters):  # gone, or credentials changed: stop its watches
            if cid not in current or self._clusters[cid].fingerprint != current[cid][2]:
                await self._drop_cluster(cid)
        for cid, (name, creds, updated) in current.items():
            if cid not in self._clusters:
                self._clusters[cid] = self._connect(name, creds, updated)
                if self.ownership is not None:
                    self._clusters[cid].since = self.ownership.take_watch_since(cid)
        for key in [k for k in self._watchers if k not in wanted]:
            await self._stop_watch(key)
        self._wanted = wanted
        for key in wanted:
            cluster = self._clusters.get(key.cluster_id)
            if key not in self._watchers and cluster is not None and cluster.client is not None:
                self._start_watch(key, cluster.client, cluster.since)
        for cluster in self._clusters.values():  # watches added later start from their first list
            cluster.since = None

    def _connect(self, name: str, credentials: bytes, updated: dt.datetime) -> _ClusterWatches:
        try:
            conn = parse_kubeconfig(self.box.decrypt(credentials), source=f"cluster {name} kubeconfig")
        except (KubeConfigError, ValueError) as exc:
            log.warning("cluster %s: cannot watch: %s", name, exc)
            return _ClusterWatches(name, updated, None, f"cannot use the cluster's credentials: {exc}")
        return _ClusterWatches(name, updated, KubeClient(conn))

    def _start_watch(self, key: WatchKey, client: KubeClient, since: dt.datetime | None = None) -> None:
        async def on_change(change: SpecChange) -> None:
            self._changed(key.cluster_id, change)

        watcher = SpecWatcher(
            client,
            key.target,
            on_change,
            retry_seconds=self.retry_seconds,
            max_retry_seconds=self.max_retry_seconds,
            since=since,
        )
        task = asyncio.create_task(watcher.run(), name=f"watch {key.cluster_id} {key.target.describe()}")
        self._watchers[key] = (watcher, task)

    async def _stop_watch(self, key: WatchKey) -> None:
        _, task = self._watchers.pop(key)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _drop_cluster(self, cluster_id: int) -> None:
        for key in [k for k in self._watchers if k.cluster_id == cluster_id]:
            await self._stop_watch(key)
        cluster = self._clusters.pop(cluster_id)
        if cluster.client is not None:
            await cluster.client.close()

    async def stop(self) -> None:
        for task in self._flushes.values():
            task.cancel()
        for cid in list(self._clusters):
            await self._drop_cluster(cid)

    async def wait_ready(self, timeout: float) -> None:
        """Until every current watch has made its first list (for tests and the demo)."""
        async with asyncio.timeout(timeout):
            for watcher, _ in list(self._watchers.values()):
                await watcher.ready.wait()

    # -- changes → runs ------------------------------------------------------------------------
    def _changed(self, cluster_id: int, change: SpecChange) -> None:
        self._pending.setdefault(cluster_id, []).append(change)
        self._last_change[cluster_id] = asyncio.get_running_loop().time()
        if cluster_id not in self._flushes:
            task = asyncio.create_task(self._flush_later(cluster_id))
            self._flushes[cluster_id] = task

    async def _flush_later(self, cluster_id: int) -> None:
        """Fire once the cluster was quiet for ``coalesce_seconds`` (a burst of changes, such as a
        release touching several objects, is one firing), but no later than ten windows after the
        first change."""
        loop = asyncio.get_running_loop()
        latest = loop.time() + 10 * self.coalesce_seconds
        try:
            while True:
                due = min(self._last_change[cluster_id] + self.coalesce_seconds, latest)
                if loop.time() >= due:
                    break
                await asyncio.sleep(due - loop.time())
        finally:
            self._flushes.pop(cluster_id, None)
        changes = self._pending.pop(cluster_id, [])
        try:
            await self.fire(cluster_id, changes)
        except Exception:
            log.exception("starting watch-triggered runs on cluster %d failed", cluster_id)

    async def fire(self, cluster_id: int, changes: list[SpecChange]) -> list[str]:
        """One run per (binding, case) that watches what changed; returns the run ids."""
        targets: dict[tuple[int, int], Target] = {}
        for target_watch in {c.target for c in changes}:
            for t in self._wanted.get(WatchKey(cluster_id, target_watch), []):
                targets.setdefault((t.binding_id, t.case_id), t)
        if not targets:
            return []
        details: dict[str, object] = {
            "watch": [
                {
                    "resource": c.target.describe(),
                    "change": c.kind,
                    "namespace": c.namespace,
                    "name": c.name,
                    "generation": c.generation,
                }
                for c in changes[:MAX_CHANGES_IN_DETAILS]
            ]
        }
        started = await start_runs(self.store, list(targets.values()), Trigger.WATCH, details=details)
        cluster = self._clusters.get(cluster_id)
        log.info(
            "cluster %s: %d spec change(s) (%s) started %d run(s)",
            cluster.name if cluster else cluster_id,
            len(changes),
            ", ".join(sorted({f"{c.target.plural}/{c.name}" for c in changes}))[:300],
            len(started),
        )
        self.started_runs += len(started)
        if started and self.on_run is not None:
            self.on_run.set()
        return started

    def status(self) -> list[dict[str, Any]]:
        """How each watch is doing: cluster, resource, state (starting/watching/retrying/error), message."""
        out: list[dict[str, Any]] = []
        for key in sorted(self._wanted, key=lambda k: (k.cluster_id, k.target.describe())):
            cluster = self._clusters.get(key.cluster_id)
            entry = self._watchers.get(key)
            state: str
            if entry is not None:
                state, message = entry[0].state, entry[0].message
            else:
                state, message = "error", cluster.error if cluster else "cluster not loaded yet"
            out.append(
                {
                    "cluster": cluster.name if cluster else str(key.cluster_id),
                    "resource": key.target.describe(),
                    "targets": len(self._wanted[key]),
                    "state": state,
                    "message": message,
                }
            )
        return out
