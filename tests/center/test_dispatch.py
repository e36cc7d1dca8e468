"""Running cases end to end: a real center, the dispatcher and runners, a sandbox cluster.

The center is served by uvicorn (the case subprocess reports to it over HTTP); the dispatcher
and scheduler run in the test's loop against the same SQLite database.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from kubeprobe.cases.registry import builtin_registry
from kubeprobe.center.builtin import builtin_templates
from kubeprobe.center.credentials import load_secret_box
from kubeprobe.center.dispatch import Dispatcher
from kubeprobe.center.scheduling import Scheduler
from kubeprobe.center.settings import CenterSettings
from kubeprobe.center.store.database import Store
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.waiting import wait_for
from kubeprobe.runners.local import LocalRunner
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.faults import Faults
from tests.center.server import running_center

TOKEN = "kp_dispatch-test-admin"


@dataclass
class Center:
    url: str
    http: httpx.AsyncClient
    dispatcher: Dispatcher
    store: Store

    async def run(self, case: str, cluster: str = "sandbox", timeout: float = 120) -> dict[str, Any]:
        resp = await self.http.post("/api/v1/runs", json={"case": case, "cluster": cluster})
        assert resp.status_code == 201, resp.text
        self.dispatcher.wake.set()
        return await self.finished(resp.json()["id"], timeout)

    async def finished(self, run_id: str, timeout: float = 120) -> dict[str, Any]:
        async def get() -> dict[str, Any]:
            r = await self.http.get(f"/api/v1/runs/{run_id}")
            return dict(r.json())

        terminal = {"succeeded", "failed", "timed_out", "error", "cancelled"}
        return await wait_for(
            get, lambda r: r["state"] in terminal, timeout=timeout, what=f"run {run_id} done"
        )


@pytest.fixture
async def center(tmp_path: Path, sandbox: Sandbox) -> AsyncIterator[Center]:
    settings = CenterSettings(data_dir=tmp_path / "data", admin_token=TOKEN)
    with running_center(settings, builtin_templates()) as url:
        store = Store.connect(settings.resolved_database_url())
        builtin = frozenset(t.name for t in builtin_registry().all())
        dispatcher = Dispatcher(
            store,
            load_secret_box(settings),
            report_base_url=url,
            local=LocalRunner(builtin),
            runner_mode="local",
        )
        task = asyncio.create_task(dispatcher.run_forever())
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        ) as http:
            resp = await http.post(
                "/api/v1/clusters", json={"name": "sandbox", "kubeconfig": sandbox.kubeconfig.read_text()}
            )
            assert resp.status_code == 201, resp.text
            try:
                yield Center(url, http, dispatcher, store)
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                await store.close()


async def test_manual_run_succeeds_with_steps(center: Center) -> None:
    run = await center.run("pod-lifecycle")
    assert run["state"] == "succeeded", run
    assert [s["name"] for s in run["steps"]] == ["create", "scheduled", "running", "delete"]
    assert run["trigger"] == "manual"


async def test_fault_makes_the_run_fail_with_the_cause(center: Center, sandbox: Sandbox) -> None:
    faults = Faults(sandbox)
    await faults.failing_webhook("kubeprobe-system", timeout_seconds=2)
    try:
        run = await center.run("pod-lifecycle")
    finally:
        await faults.remove_failing_webhook()
    assert run["state"] == "failed"
    assert "failed calling webhook" in run["messages"][0]


async def test_unreachable_cluster_is_error_not_failed(center: Center) -> None:
    kubeconfig = """
apiVersion: v1
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
users: [{name: u, user: {token: x}}]
"""
    resp = await center.http.post("/api/v1/clusters", json={"name": "gone", "kubeconfig": kubeconfig})
    assert resp.status_code == 201, resp.text
    run = await center.run("pod-lifecycle", cluster="gone")
    assert run["state"] == "error"
    assert "could not run pod-lifecycle on cluster gone" in run["messages"][0]


async def test_event_runs_bound_cases_once_per_window(center: Center) -> None:
    await center.http.post(
        "/api/v1/bindings",
        json={"name": "on-release", "case": "pod-lifecycle", "cluster": "sandbox", "events": ["component.*"]},
    )
    event = {
        "specversion": "1.0",
        "id": uuid.uuid4().hex,
        "source": "ci",
        "type": "component.released",
        "subject": "cluster/sandbox",
    }
    first = await center.http.post("/api/v1/events", json=event)
    assert first.status_code == 202, first.text
    second = await center.http.post("/api/v1/events", json={**event, "id": "dup"})
    assert len(first.json()["runs"]) == 1
    assert second.json()["runs"] == []
    assert second.json()["coalesced"] == 1
    run = await center.finished(first.json()["runs"][0])
    assert run["state"] == "succeeded"
    assert run["trigger"] == "event"
    bad = await center.http.post(
        "/api/v1/events", json={"specversion": "1.0", "id": "x", "source": "s", "type": "t"}
    )
    assert bad.status_code == 422
    assert "names no cluster" in bad.text


async def test_gate_passes_then_blocks_under_a_fault(center: Center, sandbox: Sandbox) -> None:
    bound = await center.http.post(
        "/api/v1/bindings",
        json={"name": "gate-pods", "case": "pod-lifecycle", "cluster": "sandbox", "events": ["release.*"]},
    )
    assert bound.status_code == 201, bound.text

    async def gate(change: str) -> dict[str, Any]:
        resp = await center.http.post("/api/v1/gates", json={"cluster": "sandbox", "change_id": change})
        assert resp.status_code == 201, resp.text
        center.dispatcher.wake.set()
        return await wait_for(
            lambda: _get(center.http, f"/api/v1/gates/sandbox/{change}"),
            lambda g: g["state"] != "pending",
            timeout=120,
            what=f"gate {change}",
        )

    assert (await gate("release-1"))["state"] == "pass"
    faults = Faults(sandbox)
    await faults.failing_webhook("kubeprobe-system", timeout_seconds=2)
    try:
        blocked = await gate("release-2")
    finally:
        await faults.remove_failing_webhook()
    assert blocked["state"] == "block"
    assert "failed calling webhook" in blocked["failing"][0]["messages"][0]


async def test_scheduled_binding_fires_and_forbids_overlap(center: Center) -> None:
    await center.http.post(
        "/api/v1/bindings",
        json={"name": "every-10s", "case": "pod-lifecycle", "cluster": "sandbox", "interval_seconds": 10},
    )
    scheduler = Scheduler(center.store, refresh_seconds=2, on_run=center.dispatcher.wake)
    task = asyncio.create_task(scheduler.run_forever())
    try:
        runs = await wait_for(
            lambda: _get(center.http, "/api/v1/runs?case=pod-lifecycle&cluster=sandbox"),
            lambda page: any(r["trigger"] == "schedule" for r in page["items"]),
            timeout=40,
            what="a scheduled run",
        )
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    scheduled = [r for r in runs["items"] if r["trigger"] == "schedule"]
    assert (await center.finished(scheduled[0]["id"]))["state"] == "succeeded"


async def test_kuberhealthy_report_is_accepted(center: Center, sandbox: Sandbox) -> None:
    """A check that reports exactly as Kuberhealthy's client does: POST {"OK","Errors"} with kh-run-uuid."""
    script = (
        "import json, os, urllib.request as u;"
        "body = json.dumps({'OK': False, 'Errors': ['dns is down']}).encode();"
        "headers = {'Content-Type': 'application/json', 'kh-run-uuid': os.environ['KH_RUN_UUID']};"
        "req = u.Request(os.environ['KH_REPORTING_URL'], data=body, method='POST', headers=headers);"
        "u.urlopen(req)"
    )
    resp = await center.http.post(
        "/api/v1/templates",
        json={
            "name": "kh-check",
            "kind": "probe",
            "image": "kuberhealthy/dns-resolution-check:v1.5.0",
            "command": [sys.executable, "-c", script],
            "timeout_seconds": 60,
        },
    )
    assert resp.status_code == 201, resp.text
    await center.http.post("/api/v1/cases", json={"name": "kh-check", "template": "kh-check"})
    run = await center.run("kh-check")
    assert run["state"] == "failed", (run["messages"], run["details"])
    assert run["messages"] == ["dns is down"]


async def test_restart_reconciles_in_flight_runs(center: Center) -> None:
    resp = await center.http.post("/api/v1/runs", json={"case": "pod-lifecycle", "cluster": "sandbox"})
    run_id = resp.json()["id"]
    (claimed,) = [c for c in await center.dispatcher.claim(10) if c.request.run_id == run_id] or [None]
    assert claimed is not None
    # The center dies here; a new one starts and reconciles.
    assert await center.dispatcher.reconcile() >= 1
    run = await center.finished(run_id, timeout=5)
    assert run["state"] == "error"
    assert "center restarted" in run["messages"][0]


async def test_no_objects_left_after_many_runs(center: Center, kube: KubeClient) -> None:
    for _ in range(5):
        resp = await center.http.post("/api/v1/runs", json={"case": "pod-lifecycle", "cluster": "sandbox"})
        assert resp.status_code == 201
    center.dispatcher.wake.set()
    page = await wait_for(
        lambda: _get(center.http, "/api/v1/runs?case=pod-lifecycle"),
        lambda p: all(r["state"] not in ("pending", "dispatched", "running") for r in p["items"]),
        timeout=180,
        what="all runs done",
    )
    assert all(r["state"] == "succeeded" for r in page["items"][:5])
    leftovers = await kube.list_all(
        "/api/v1/namespaces/kubeprobe-system/pods", labelSelector="kubeprobe.io/run-id"
    )
    anchors = await kube.list_all(
        "/api/v1/namespaces/kubeprobe-system/configmaps", labelSelector="kubeprobe.io/run-id"
    )
    assert leftovers == []
    assert anchors == []


async def _get(http: httpx.AsyncClient, path: str) -> dict[str, Any]:
    resp = await http.get(path)
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


async def test_cli_run_and_gate_wait_for_the_result(center: Center) -> None:
    bound = await center.http.post(
        "/api/v1/bindings",
        json={"name": "cli-gate", "case": "pod-lifecycle", "cluster": "sandbox", "events": ["release.*"]},
    )
    assert bound.status_code == 201, bound.text
    env = {**os.environ, "KUBEPROBE_URL": center.url, "KUBEPROBE_TOKEN": TOKEN}

    async def kubeprobe(*args: str) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "kubeprobe.cli.main", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    ran = await kubeprobe("run", "pod-lifecycle", "--cluster", "sandbox", "--wait")
    assert ran.returncode == 0, ran.stderr
    assert "succeeded" in ran.stdout
    gated = await kubeprobe("gate", "--cluster", "sandbox", "--change", "cli-1", "--wait")
    assert gated.returncode == 0, gated.stderr
    assert "pass" in gated.stdout
    unknown = await kubeprobe("run", "no-such-case", "--cluster", "sandbox")
    assert unknown.returncode == 1
    assert "no-such-case" in unknown.stderr
