"""Evidence from the cluster for a failed run: component health and leader leases, node states.

Facts are plain values so rules can test them: ``apiserver_ready`` (bool), ``etcd_healthy``
(bool, from the API server's own etcd check), ``stale_leases`` (components whose leader lease was
not renewed within its duration), ``not_ready_nodes`` and ``pressured_nodes`` (names). A fact that
could not be read is left out, never guessed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.errors import KubeAPIError, KubeConnectionError, KubeError

LEASED = ("kube-scheduler", "kube-controller-manager")
PRESSURES = ("MemoryPressure", "DiskPressure", "PIDPressure")


async def _check(kube: KubeClient, path: str) -> bool | None:
    try:
        await kube.request("GET", path, timeout=5)
    except KubeAPIError:
        return False
    except KubeConnectionError:
        return None
    return True


def _parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


async def component_evidence(kube: KubeClient, now: dt.datetime | None = None) -> dict[str, Any]:
    now = now or dt.datetime.now(dt.UTC)
    facts: dict[str, Any] = {}
    ready = await _check(kube, "/readyz")
    if ready is None:
        facts["apiserver_ready"] = False
        return facts
    facts["apiserver_ready"] = ready
    etcd = await _check(kube, "/readyz/etcd")
    if etcd is not None:
        facts["etcd_healthy"] = etcd
    stale = []
    for name in LEASED:
        try:
            lease = await kube.get(f"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/{name}")
        except KubeError:
            continue
        spec = lease.get("spec") or {}
        renewed = _parse_time(spec.get("renewTime"))
        duration = float(spec.get("leaseDurationSeconds") or 15)
        if renewed is None or (now - renewed).total_seconds() > duration:
            stale.append(name)
    facts["stale_leases"] = stale
    try:
        nodes = await kube.list_all("/api/v1/nodes")
    except KubeError:
        return facts
    not_ready, pressured = [], []
    for node in nodes:
        conds = {c.get("type"): c.get("status") for c in (node.get("status") or {}).get("conditions") or []}
        if conds.get("Ready") != "True":
            not_ready.append(node["metadata"]["name"])
        if any(conds.get(p) == "True" for p in PRESSURES):
            pressured.append(node["metadata"]["name"])
    facts["not_ready_nodes"] = not_ready
    facts["pressured_nodes"] = pressured
    return facts
