"""The watch manager of an HA center watches only the clusters its replica holds a lease for, and
when a lease moves the watch moves with it: two replicas (real lease keepers on both stores), two
clusters (both the sandbox's API server), one watch binding on each. A spec change starts one run on
each cluster, each from its owner; after one replica leaves, the other watches both and a change
again starts exactly one run per cluster, including a change made while nobody watched."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from sqlalchemy import select

from kubeprobe.center.credentials import SecretBox
from kubeprobe.center.services.leases import LeaseKeeper
from kubeprobe.center.services.watches import WatchManager
from kubeprobe.center.settings import HaSettings
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.tables import Cluster
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.waiting import wait_for
from kubeprobe.sandbox.cluster import Sandbox
from tests.center.conftest import ADMIN_TOKEN, Client
from tests.center.services.test_watches import _deployment, _ok, _patch_image

#: Long enough that nothing lapses by itself during the test: rounds are driven by hand.
HA = HaSettings(lease_seconds=60.0, renew_seconds=20.0)
CLUSTERS = ("east", "west")


async def _setup(api: Client, sandbox: Sandbox, namespace: str) -> httpx.AsyncClient:
    http = api(ADMIN_TOKEN)
    for name in CLUSTERS:
        body = {"name": name, "kubeconfig": sandbox.kubeconfig.read_text()}
        await _ok(await http.post("/api/v1/clusters", json=body))
    template = {"name": "watched", "kind": "probe", "image": "example/probe:1", "timeout_seconds": 60}
    await _ok(await http.post("/api/v1/templates", json=template))
    await _ok(await http.post("/api/v1/cases", json={"name": "watched", "template": "watched"}))
    for name in CLUSTERS:
        binding = {
            "name": f"on-{name}",
            "case": "watched",
            "cluster": name,
            "concurrency": "allow",
            "watch": [{"resource": "deployments", "api_version": "apps/v1", "namespace": namespace}],
        }
        await _ok(await http.post("/api/v1/bindings", json=binding))
    return http


@contextlib.asynccontextmanager
async def _managers(store: Store, box: SecretBox, *keepers: LeaseKeeper) -> AsyncIterator[list[WatchManager]]:
    managers = [
        WatchManager(store, box, refresh_seconds=30, coalesce_seconds=0.5, max_retry_seconds=2, ownership=k)
        for k in keepers
    ]
    tasks = [asyncio.create_task(m.run_forever()) for m in managers]
    try:
        yield managers
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _watched(manager: WatchManager, clusters: set[str]) -> None:
    async def status() -> list[dict[str, Any]]:
        return manager.status()

    await wait_for(
        status,
        lambda s: {w["cluster"] for w in s} == clusters and all(w["state"] == "watching" for w in s),
        timeout=20,
        what=f"watching {sorted(clusters)}",
    )


async def _runs_by_cluster(http: httpx.AsyncClient) -> dict[str, int]:
    page = await _ok(await http.get("/api/v1/runs", params={"limit": 100}))
    out: dict[str, int] = {}
    for run in page["items"]:
        if run["trigger"] == "watch":
            out[run["cluster"]] = out.get(run["cluster"], 0) + 1
    return out


async def test_watches_follow_the_cluster_leases(  # noqa: PLR0917 (fixtures)
    api: Client, store: Store, box: SecretBox, kube: KubeClient, namespace: str, sandbox: Sandbox
) -> None:
    http = await _setup(api, sandbox, namespace)
    async with store.transaction() as session:
        names = dict((await session.execute(select(Cluster.id, Cluster.name))).all())
    deps = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    await kube.create(deps, _deployment("web", "img:1"))
    a, b = LeaseKeeper(store, HA, replica="a"), LeaseKeeper(store, HA, replica="b")
    for keeper in (a, b, a, b):  # b joins: a lets go of one cluster, b takes it
        await keeper.round()
    owned_a, owned_b = {names[c] for c in a.clusters}, {names[c] for c in b.clusters}
    assert len(owned_a) == len(owned_b) == 1
    assert owned_a | owned_b == set(CLUSTERS)
    async with _managers(store, box, a, b) as (watch_a, watch_b):
        await _watched(watch_a, owned_a)  # each watches its own cluster only
        await _watched(watch_b, owned_b)
        await _patch_image(kube, f"{deps}/web", "img:2")
        runs = await wait_for(
            lambda: _runs_by_cluster(http), lambda r: sum(r.values()) >= 2, timeout=20, what="two runs"
        )
        assert runs == dict.fromkeys(CLUSTERS, 1), runs  # one per cluster, by its owner
        assert (watch_a.started_runs, watch_b.started_runs) == (1, 1)
        # b leaves (its leases lapse at once) and stops watching; a spec change while nobody
        # watches b's cluster; a's next round takes it: a watches both at once (a change of
        # ownership refreshes without waiting for refresh_seconds), b none, and what was written
        # since b's last renewal counts as changed: the change still runs on b's cluster
        await b.close()
        await _watched(watch_b, set())
        await _patch_image(kube, f"{deps}/web", "img:3")
        await a.round()
        assert {names[c] for c in a.clusters} == set(CLUSTERS)
        await _watched(watch_a, set(CLUSTERS))
        runs = await wait_for(
            lambda: _runs_by_cluster(http), lambda r: sum(r.values()) >= 4, timeout=20, what="two more runs"
        )
        await asyncio.sleep(1.5)  # three coalescing windows: no third run may follow
        assert await _runs_by_cluster(http) == dict.fromkeys(CLUSTERS, 2)
        assert (watch_a.started_runs, watch_b.started_runs) == (3, 1)
