"""Running cases end to end: a real center, the dispatcher and runners, a sandbox cluster.

The center is served by uvicorn (the case subprocess reports to it over HTTP); the dispatcher
and scheduler run in the test's loop against the same SQLite database.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
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
from kubeprobe.center.credentials import SecretBox, load_secret_box
from kubeprobe.center.services.builtin import builtin_templates
from kubeprobe.center.services.dispatcher import Dispatcher
from kubeprobe.center.services.scheduler import Scheduler
from kubeprobe.center.settings import CenterSettings
from kubeprobe.center.store.database import Store
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.waiting import wait_for
from kubeprobe.runners.local import LocalRunner
from kubeprobe.runners.pod import NAMESPACE, RUN_LABEL, PodRunner, sweep
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.faults import Faults
from tests.center.server import running_center

TOKEN = "kp_dispatch-test-admin"
RUN_PODS = f"/api/v1/namespaces/{NAMESPACE}/pods"
NOT_DONE = ("pending", "dispatched", "running")


@dataclass
class Center:
    url: str
    http: httpx.AsyncClient
    dispatcher: Dispatcher
    store: Store
    box: SecretBox
    task: asyncio.Task[None]

    async def stop_dispatcher(self) -> None:
        """Stop the fixture's (local) dispatcher, for tests that bring their own."""
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

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
        box = load_secret_box(settings)
        dispatcher = Dispatcher(
            store,
            box,
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
                yield Center(url, http, dispatcher, store, box, task)
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


PROBE_RULES = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]


async def _pod_template(center: Center) -> None:
    """A case run as a pod (sandbox pods never run it: the test plays its kubelet and its report)."""
    bad = await center.http.post(
        "/api/v1/templates",
        json={
            "name": "pod-case",
            "kind": "probe",
            "image": "example/probe:1",
            "rbac_rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "Sudo"]}],
        },
    )
    assert bad.status_code == 422
    assert "rbac_rules[0].verbs[1]" in bad.text
    resp = await center.http.post(
        "/api/v1/templates",
        json={"name": "pod-case", "kind": "probe", "image": "example/probe:1", "rbac_rules": PROBE_RULES},
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["rbac_rules"] == PROBE_RULES
    resp = await center.http.post("/api/v1/cases", json={"name": "pod-case", "template": "pod-case"})
    assert resp.status_code == 201, resp.text


def _pod_dispatcher(center: Center) -> Dispatcher:
    return Dispatcher(
        center.store,
        center.box,
        report_base_url=center.url,
        local=LocalRunner(),
        pod=PodRunner(poll_seconds=0.2),
        runner_mode="auto",
        max_in_flight=20,
        poll_seconds=0.1,
    )


async def _run_pod(kube: KubeClient, run_id: str) -> dict[str, Any]:
    pods = await wait_for(
        lambda: kube.list_all(RUN_PODS, labelSelector=f"{RUN_LABEL}={run_id}"),
        bool,
        timeout=30,
        what="run pod",
    )
    return dict(pods[0])


async def _play_case_and_kubelet(center: Center, kube: KubeClient, pod: dict[str, Any]) -> None:
    """What the case's container would do (report with its run's token), then the kubelet (exit 0)."""
    env = {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"]}
    async with httpx.AsyncClient(timeout=30) as plain:
        report = await plain.post(
            env["KUBEPROBE_REPORT_URL"],
            json={"ok": True, "steps": [{"name": "check", "ok": True, "duration_ms": 1.0}]},
            headers={"Authorization": f"Bearer {env['KUBEPROBE_REPORT_TOKEN']}"},
        )
    assert report.status_code == 200, report.text
    terminated = {"terminated": {"exitCode": 0, "reason": "Completed"}}
    status = {"name": "case", "image": "example/probe:1", "imageID": "", "ready": False, "restartCount": 0}
    await kube.patch(
        f"{RUN_PODS}/{pod['metadata']['name']}/status",
        {"status": {"phase": "Succeeded", "containerStatuses": [{**status, "state": terminated}]}},
        "strategic",
    )


async def test_restart_adopts_pod_runs_and_ends_the_others(center: Center, kube: KubeClient) -> None:
    await center.stop_dispatcher()
    await _pod_template(center)
    first = _pod_dispatcher(center)
    task = asyncio.create_task(first.run_forever())
    resp = await center.http.post("/api/v1/runs", json={"case": "pod-case", "cluster": "sandbox"})
    adopted_id = resp.json()["id"]
    first.wake.set()
    pod = await _run_pod(kube, adopted_id)
    role = await kube.get("/apis/rbac.authorization.k8s.io/v1/clusterroles/kubeprobe:case:pod-case")
    assert role["rules"] == PROBE_RULES
    # A second run that was claimed, but whose pod was never made (the center died in between).
    resp = await center.http.post("/api/v1/runs", json={"case": "pod-case", "cluster": "sandbox"})
    orphan_id = resp.json()["id"]
    # The center stops: its pod runs keep running in the cluster, their runs stay in flight.
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert [c.request.run_id for c in await first.claim(10)] == [orphan_id]
    assert (await _get(center.http, f"/api/v1/runs/{adopted_id}"))["state"] == "dispatched"
    assert await kube.list_all(RUN_PODS, labelSelector=f"{RUN_LABEL}={adopted_id}")
    # A new center starts: it adopts the run whose pod lives and ends the other with the reason.
    second = _pod_dispatcher(center)
    task = asyncio.create_task(second.run_forever())
    try:
        orphan = await center.finished(orphan_id, timeout=30)
        assert orphan["state"] == "error"
        assert orphan["messages"] == ["the center restarted and the run's pod no longer exists"]
        await _play_case_and_kubelet(center, kube, pod)
        adopted = await wait_for(  # the report ends the run; the adopting runner then adds its view
            lambda: _get(center.http, f"/api/v1/runs/{adopted_id}"),
            lambda r: "runner" in r["details"],
            timeout=60,
            what="adopted run followed to its end",
        )
        assert adopted["state"] == "succeeded", adopted
        assert adopted["details"]["runner"]["end"] == "exited"
        await wait_for(  # the adopting runner cleaned up
            lambda: kube.list_all(RUN_PODS, labelSelector=f"{RUN_LABEL}={adopted_id}"),
            lambda p: not p,
            timeout=30,
            what="adopted pod removed",
        )
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await sweep(kube, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=1))  # if the test failed


async def test_no_object_left_after_100_pod_runs(center: Center, kube: KubeClient) -> None:
    await center.stop_dispatcher()
    await _pod_template(center)
    dispatcher = _pod_dispatcher(center)
    task = asyncio.create_task(dispatcher.run_forever())
    played: set[str] = set()
    ids: list[str] = []
    await sweep(kube, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=1))  # what earlier tests left

    async def kubelet() -> None:  # plays the case and the kubelet for every run pod that appears
        while True:
            for pod in await kube.list_all(RUN_PODS, labelSelector=RUN_LABEL):
                name = pod["metadata"]["name"]
                mine = pod["metadata"]["labels"][RUN_LABEL] in ids
                if mine and name not in played and not pod["metadata"].get("deletionTimestamp"):
                    played.add(name)
                    await _play_case_and_kubelet(center, kube, pod)
            await asyncio.sleep(0.2)

    player = asyncio.create_task(kubelet())
    try:
        for _ in range(100):
            resp = await center.http.post("/api/v1/runs", json={"case": "pod-case", "cluster": "sandbox"})
            assert resp.status_code == 201, resp.text
            ids.append(resp.json()["id"])
        dispatcher.wake.set()
        page = await wait_for(
            lambda: _get(center.http, "/api/v1/runs?case=pod-case&limit=200"),
            lambda p: len(p["items"]) == 100 and all(r["state"] not in NOT_DONE for r in p["items"]),
            timeout=300,
            what="100 pod runs done",
        )

        async def in_flight() -> int:  # reports end runs; the runner then still cleans up
            return dispatcher.in_flight

        await wait_for(in_flight, lambda n: n == 0, timeout=60, what="runners done")
    finally:
        for t in (player, task):
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await t
    assert {r["state"] for r in page["items"]} == {"succeeded"}, [r["messages"] for r in page["items"]][:3]
    # Nothing of a run is left; only the scaffolding (namespace, ServiceAccount, RBAC) stays.
    for path in ("/api/v1/pods", "/api/v1/configmaps", "/api/v1/secrets", "/api/v1/services"):
        assert await kube.list_all(path, labelSelector=RUN_LABEL) == [], path
    assert await kube.list_all(RUN_PODS) == []
    configmaps = await kube.list_all("/api/v1/namespaces/kubeprobe-system/configmaps")
    assert {c["metadata"]["name"] for c in configmaps} <= {"kube-root-ca.crt"}
    managed = await kube.list_all("/api/v1/namespaces/kubeprobe-system/serviceaccounts")
    assert "kp-case-pod-case" in {a["metadata"]["name"] for a in managed}


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
