"""`NodeHealthView`: a cluster's node health kept current from a watch, for the defender.

The defender asks, per decision, how many nodes a pool and the cluster have, how many are
unhealthy, and whether a given node is. At 10,000 nodes it must not count them each time: the
view keeps counts per pool and updates them by the difference each watch event makes (O(1) per
event, O(1) per question). A node is unhealthy when its ``Ready`` condition is not ``True`` or,
if asked, when a pressure condition is ``True``. Its pool is the value of ``pool_label``.

`follow` lists then watches the nodes, relists when the watch expires (410 Gone), and marks the
view unreachable while the API server cannot be reached: the defender reads that as a storm.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.errors import GoneError, KubeConnectionError, KubeError

log = logging.getLogger(__name__)
DEFAULT_POOL_LABEL = "kubeprobe.io/pool"
PRESSURE = ("MemoryPressure", "DiskPressure", "PIDPressure")


def node_healthy(node: dict[str, Any], *, pressure: bool = False) -> bool:
    conditions = {c.get("type"): c.get("status") for c in (node.get("status") or {}).get("conditions") or []}
    if conditions.get("Ready") != "True":
        return False
    return not (pressure and any(conditions.get(p) == "True" for p in PRESSURE))


class NodeHealthView:
    """Counts of nodes and unhealthy nodes per pool, kept by watch events."""

    def __init__(self, *, pool_label: str = DEFAULT_POOL_LABEL, pressure: bool = False) -> None:
        self.pool_label = pool_label
        self.pressure = pressure
        self._nodes: dict[str, tuple[str, bool]] = {}
        self._total: Counter[str] = Counter()
        self._bad: Counter[str] = Counter()
        self._bad_all = 0
        self.reachable = False
        self.peers_reachable = True
        self.resource_version = ""

    # -- questions of the defender (kubeprobe.remedy.defender.ClusterHealth) --------------------
    def node_count(self, pool: str | None = None) -> int:
        return len(self._nodes) if pool is None else self._total[pool]

    def unhealthy_count(self, pool: str | None = None) -> int:
        return self._bad_all if pool is None else self._bad[pool]

    def is_unhealthy(self, node: str) -> bool:
        entry = self._nodes.get(node)
        return entry is not None and not entry[1]

    def pool_of(self, node: str) -> str:
        entry = self._nodes.get(node)
        return "" if entry is None else entry[0]

    # -- updates -----------------------------------------------------------------------------
    def _forget(self, name: str) -> None:
        old = self._nodes.pop(name, None)
        if old is None:
            return
        self._total[old[0]] -= 1
        if not old[1]:
            self._bad[old[0]] -= 1
            self._bad_all -= 1

    def apply(self, event_type: str, node: dict[str, Any]) -> None:
        """One watch event (``ADDED``, ``MODIFIED``, ``DELETED``) for one Node object."""
        meta = node.get("metadata") or {}
        name = str(meta.get("name") or "")
        if not name:
            return
        self._forget(name)
        if event_type == "DELETED":
            return
        pool = str((meta.get("labels") or {}).get(self.pool_label, ""))
        healthy = node_healthy(node, pressure=self.pressure)
        self._nodes[name] = (pool, healthy)
        self._total[pool] += 1
        if not healthy:
            self._bad[pool] += 1
            self._bad_all += 1

    def replace_all(self, nodes: list[dict[str, Any]]) -> None:
        self._nodes.clear()
        self._total.clear()
        self._bad.clear()
        self._bad_all = 0
        for node in nodes:
            self.apply("ADDED", node)

    async def follow(self, kube: KubeClient, *, retry_seconds: float = 2.0) -> None:
        """List and watch the cluster's nodes until cancelled."""
        while True:
            try:
                page = await kube.get("/api/v1/nodes")
                self.replace_all(page.get("items") or [])
                self.resource_version = str((page.get("metadata") or {}).get("resourceVersion", ""))
                self.reachable = True
                await self._watch(kube)
            except GoneError:
                continue
            except KubeConnectionError as exc:
                self.reachable = False
                log.warning("node watch: %s", exc)
            except KubeError as exc:
                log.warning("node watch: %s", exc)
            await asyncio.sleep(retry_seconds)

    async def _watch(self, kube: KubeClient) -> None:
        while True:
            async for event in kube.watch(
                "/api/v1/nodes", resource_version=self.resource_version, allowWatchBookmarks="true"
            ):
                obj = event.get("object") or {}
                if event.get("type") == "ERROR":
                    if obj.get("code") == 410:
                        raise GoneError(410, "Expired", str(obj.get("message", "")))
                    continue
                rv = (obj.get("metadata") or {}).get("resourceVersion")
                if rv:
                    self.resource_version = str(rv)
                if event.get("type") != "BOOKMARK":
                    self.apply(str(event.get("type")), obj)
