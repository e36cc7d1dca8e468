"""Evidence from the cluster for a failed run: component health and leader leases, node states.

Facts are plain values so rules can test them: ``apiserver_ready`` (bool), ``etcd_healthy``
(bool, from the API server's own etcd check), ``stale_leases`` (components whose leader lease was
not renewed within its duration), ``not_ready_nodes`` and ``pressured_nodes`` (names),
``node_not_ready_taints`` (some node carries the not-ready or unreachable taint). A fact that could
not be read is left out, never guessed; a cluster that does not answer at all gives only
``unreachable`` (the center not reaching it is no proof the API server is down).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.errors import KubeAPIError, KubeConnectionError, KubeError

LEASED = ("kube-scheduler", "kube-controller-manager")
PRESSURES = ("MemoryPressure", "DiskPressure", "PIDPressure")
NODE_PAGE = 2000
NOT_READY_TAINTS = {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"}


async def _check(kube: KubeClient, path: str) -> bool | None:
    """True ready, False not ready (an error status, or a server that accepts but does not answer),
    None when nothing answers at all (refused, no route): then nothing can be said."""
    try:
        await kube.request("GET", path, timeout=5)
    except KubeAPIError:
        return False
    except KubeConnectionError as exc:
        return (
            False
            if isinstance(exc.__cause__, httpx.TimeoutException)
            and not isinstance(exc.__cause__, httpx.ConnectTimeout)
            else None
        )
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
        return {"unreachable": True, "error": "the API server does not answer (connection failed)"}
    facts["apiserver_ready"] = ready
    etcd = await _check(kube, "/readyz/etcd")
    if etcd is not None:
        facts["etcd_healthy"] = etcd
    stale = []
    for name in LEASED:
        try:
            lease = await kube.request(
                "GET", f"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/{name}", timeout=5
            )
        except KubeError:
            continue
        spec = lease.get("spec") or {}
        renewed = _parse_time(spec.get("renewTime"))
        duration = float(spec.get("leaseDurationSeconds") or 15)
        if renewed is None or (now - renewed).total_seconds() > duration:
            stale.append(name)
    facts["stale_leases"] = stale
    try:
        # One bounded page: at fleet scale the first NODE_PAGE nodes say enough about node health.
        nodes = (await kube.request("GET", "/api/v1/nodes", params={"limit": NODE_PAGE}, timeout=10)).get(
            "items"
        ) or []
    except KubeError:
        return facts
    not_ready, pressured = [], []
    tainted = False
    for node in nodes:
        keys = {t.get("key") for t in (node.get("spec") or {}).get("taints") or []}
        tainted = tainted or bool(keys & NOT_READY_TAINTS)
        conds = {c.get("type"): c.get("status") for c in (node.get("status") or {}).get("conditions") or []}
        if conds.get("Ready") != "True":
            not_ready.append(node["metadata"]["name"])
        if any(conds.get(p) == "True" for p in PRESSURES):
            pressured.append(node["metadata"]["name"])
    facts["not_ready_nodes"] = not_ready
    facts["pressured_nodes"] = pressured
    facts["node_not_ready_taints"] = tainted
    return facts
