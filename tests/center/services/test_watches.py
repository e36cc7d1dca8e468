"""Watch triggers end to end: a binding with ``watch`` → the watch manager → runs with trigger
``watch``, against a real API server (the sandbox) and both stores."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from kubeprobe.center.credentials import SecretBox
from kubeprobe.center.services.watches import WatchManager
from kubeprobe.center.store.database import Store
from kubeprobe.cli.catalog import parse_watch
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.waiting import wait_for
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.faults import Faults
from tests.center.conftest import ADMIN_TOKEN, Client

UNREACHABLE = """apiVersion: v1
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
users: [{name: u, user: {token: x}}]
"""


def test_cli_watch_format() -> None:
    assert parse_watch("daemonsets.apps/kube-system") == {
        "resource": "daemonsets",
        "api_version": "apps/v1",
        "namespace": "kube-system",
    }
    assert parse_watch("deployments.v1.apps/kube-system/coredns?k8s-app=kube-dns") == {
        "resource": "deployments",
        "api_version": "apps/v1",
        "namespace": "kube-system",
        "name": "coredns",
        "label_selector": "k8s-app=kube-dns",
    }
    assert parse_watch("configmaps/*") == {"resource": "configmaps", "api_version": "v1"}
    with pytest.raises(Exception, match="not RESOURCE"):
        parse_watch("deployments")


def _deployment(name: str, image: str) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": image}]},
            },
        },
    }


async def _ok(resp: httpx.Response) -> dict[str, Any]:
    assert resp.status_code < 300, resp.text
    return dict(resp.json())


@pytest.fixture
async def http(api: Client, sandbox: Sandbox) -> httpx.AsyncClient:
    client = api(ADMIN_TOKEN)
    await _ok(
        await client.post(
            "/api/v1/clusters", json={"name": "sandbox", "kubeconfig": sandbox.kubeconfig.read_text()}
        )
    )
    await _ok(
        await client.post(
            "/api/v1/templates",
            json={"name": "watched", "kind": "probe", "image": "example/probe:1", "timeout_seconds": 60},
        )
    )
    await _ok(await client.post("/api/v1/cases", json={"name": "watched", "template": "watched"}))
    return client


@contextlib.asynccontextmanager
async def manager(store: Store, box: SecretBox) -> AsyncIterator[WatchManager]:
    watches = WatchManager(store, box, refresh_seconds=0.3, coalesce_seconds=1.0, max_retry_seconds=2)
    task = asyncio.create_task(watches.run_forever())
    try:
        yield watches
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _watching(watches: WatchManager, count: int = 1) -> list[dict[str, Any]]:
    async def status() -> list[dict[str, Any]]:
        return watches.status()

    return await wait_for(
        status,
        lambda s: len(s) == count and all(w["state"] == "watching" for w in s),
        timeout=20,
        what="watches running",
    )


async def _watch_runs(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    page = await _ok(await http.get("/api/v1/runs", params={"cluster": "sandbox", "limit": 100}))
    return [r for r in page["items"] if r["trigger"] == "watch"]


async def test_spec_change_runs_the_case_and_status_or_labels_do_not(
    http: httpx.AsyncClient, store: Store, box: SecretBox, kube: KubeClient, namespace: str
) -> None:
    deps = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    await kube.create(deps, _deployment("web", "img:1"))
    await _ok(
        await http.post(
            "/api/v1/bindings",
            json={
                "name": "on-change",
                "case": "watched",
                "cluster": "sandbox",
                "concurrency": "allow",
                "watch": [{"resource": "deployments", "api_version": "apps/v1", "namespace": namespace}],
            },
        )
    )
    got = await _ok(await http.get("/api/v1/bindings/on-change"))
    assert got["watch"][0]["namespace"] == namespace
    async with manager(store, box) as watches:
        status = await _watching(watches)
        assert status[0]["resource"] == f"deployments.apps/{namespace}"
        # The controllers write the status (replicas available): not a spec change.
        await wait_for(
            lambda: kube.get(f"{deps}/web"),
            lambda d: d.get("status", {}).get("availableReplicas") == 1,
            timeout=60,
            what="deployment available",
        )
        # Labels and annotations change metadata, not the spec: no new generation.
        await kube.patch(f"{deps}/web", {"metadata": {"labels": {"team": "a"}, "annotations": {"x": "1"}}})
        # Three coalescing windows: proving that nothing fires needs time to pass.
        await asyncio.sleep(3)
        early = await _watch_runs(http)
        assert early == []
        # A spec change (new image: generation 2) runs the bound case once.
        await kube.patch(
            f"{deps}/web",
            {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "img:2"}]}}}},
            "strategic",
        )
        runs = await wait_for(lambda: _watch_runs(http), bool, timeout=20, what="a watch-triggered run")
        assert len(runs) == 1
        run = await _ok(await http.get(f"/api/v1/runs/{runs[0]['id']}"))
        assert run["case"] == "watched"
        # (A Deployment's generation moved on the annotation too: only the spec's content counts.)
        assert run["details"]["watch"] == [
            {
                "resource": f"deployments.apps/{namespace}",
                "change": "MODIFIED",
                "namespace": namespace,
                "name": "web",
                "generation": 3,
            }
        ]
        # A burst: three spec changes in a row coalesce into one run.
        for replicas in (2, 3, 4):
            await kube.patch(f"{deps}/web", {"spec": {"replicas": replicas}})
        runs = await wait_for(lambda: _watch_runs(http), lambda r: len(r) >= 2, timeout=20, what="second run")
        await asyncio.sleep(3)  # no third run may follow
        runs = await _watch_runs(http)
        assert len(runs) == 2, runs
        # The binding goes: its watch stops.
        await _ok(await http.put("/api/v1/bindings/on-change", json={**_binding(namespace), "watch": []}))
        await wait_for(lambda: _status(watches), lambda s: s == [], timeout=10, what="watch stopped")


def _binding(namespace: str) -> dict[str, Any]:
    return {
        "name": "on-change",
        "case": "watched",
        "cluster": "sandbox",
        "concurrency": "allow",
        "events": ["never"],
        "watch": [{"resource": "deployments", "api_version": "apps/v1", "namespace": namespace}],
    }


async def _status(watches: WatchManager) -> list[dict[str, Any]]:
    return watches.status()


async def test_unreachable_cluster_is_retried_with_a_clear_state(
    http: httpx.AsyncClient, store: Store, box: SecretBox
) -> None:
    await _ok(await http.post("/api/v1/clusters", json={"name": "gone", "kubeconfig": UNREACHABLE}))
    await _ok(
        await http.post(
            "/api/v1/bindings",
            json={
                "name": "watch-gone",
                "case": "watched",
                "cluster": "gone",
                "watch": [{"resource": "daemonsets", "api_version": "apps/v1", "namespace": "kube-system"}],
            },
        )
    )
    async with manager(store, box) as watches:
        status = await wait_for(
            lambda: _status(watches),
            lambda s: bool(s) and s[0]["state"] == "retrying",
            timeout=20,
            what="retrying",
        )
        assert status[0]["cluster"] == "gone"
        assert "cannot reach the API server" in status[0]["message"]
        assert "retrying in" in status[0]["message"]
        listed = await http.get("/api/v1/watches")
        assert listed.status_code == 200
        assert listed.json() == []  # this app does not dispatch: it keeps no watches


async def test_watch_survives_an_apiserver_restart(  # noqa: PLR0917 (fixtures)
    http: httpx.AsyncClient,
    store: Store,
    box: SecretBox,
    kube: KubeClient,
    namespace: str,
    sandbox: Sandbox,
) -> None:
    if store.engine.dialect.name != "sqlite":
        pytest.skip("one API server restart is enough: the store does not matter here")
    deps = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    await kube.create(deps, _deployment("api", "img:1"))
    await _ok(await http.post("/api/v1/bindings", json=_binding(namespace)))
    async with manager(store, box) as watches:
        await _watching(watches)
        faults = Faults(sandbox)
        faults.stop("kube-apiserver")
        try:
            await wait_for(
                lambda: _status(watches), lambda s: s[0]["state"] == "retrying", timeout=30, what="retrying"
            )
        finally:
            await faults.start("kube-apiserver")
        await _watching(watches)
        await wait_for(
            lambda: _patch_image(kube, f"{deps}/api", "img:2"), bool, timeout=60, what="spec changed"
        )
        runs = await wait_for(lambda: _watch_runs(http), bool, timeout=30, what="run after the restart")
        assert len(runs) == 1


async def _patch_image(kube: KubeClient, path: str, image: str) -> bool:
    await kube.patch(
        path, {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}}, "strategic"
    )
    return True
