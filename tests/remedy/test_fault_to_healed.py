"""Fault to healed, end to end on the sandbox, through a real dispatching center: a controller-owned
pod crash-loops (the fault) → the crash-loop inspection fails → the analysis names the cause and
says self-heal → an incident opens → the policy proposes deleting that pod → an operator approves
→ the defender grants it, the pod is deleted and verified → the inspection passes again → the
incident resolves. Kwok runs no container, so the fault keeps the pod's status crash-looping (as
its kubelet would: `Faults.crash_looping`) until the pod is gone."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kubeprobe.center.settings import CenterSettings
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.waiting import wait_for
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.faults import Faults
from tests.remedy.sandbox_helpers import create_ready, deployment, pods_of
from tests.web.browser import free_port, serving_dashboard

ADMIN = "kp_fault-to-healed-admin"
TERMINAL = {"succeeded", "failed", "timed_out", "error", "cancelled"}
DONE = {"verified", "failed", "unverified", "denied", "precondition", "shadow", "fenced", "error"}
pytestmark = pytest.mark.asyncio(loop_scope="session")


def policy(namespace: str, mode: str) -> str:
    return f"""
name: crash-loop
cause: runtime.crash
mode: {mode}
ladder:
  - action: pod-delete
    timeout_seconds: 60
    params: {{namespace: {namespace}, selector: heal=me}}
"""


async def _ok(resp: httpx.Response, status: int = 200) -> Any:
    assert resp.status_code == status, f"{resp.request.url}: {resp.status_code} {resp.text}"
    return resp.json() if resp.content else None


async def _run(http: httpx.AsyncClient) -> dict[str, Any]:
    run = await _ok(await http.post("/api/v1/runs", json={"case": "crashloops", "cluster": "sandbox"}), 201)

    async def get() -> dict[str, Any]:
        return dict(await _ok(await http.get(f"/api/v1/runs/{run['id']}")))

    return await wait_for(get, lambda r: r["state"] in TERMINAL, timeout=180, what="the inspection run")


async def heal_once(
    http: httpx.AsyncClient,
    kube: KubeClient,
    faults: Faults,
    namespace: str,
    *,
    approve: bool,
    app: str = "healme",
) -> dict[str, float]:
    """One fault → healed (a new Deployment ``app`` whose pod crash-loops): seconds from the fault
    to each milestone, and the incident's id."""
    await create_ready(kube, namespace, deployment(app, 1, labels={"heal": "me"}))
    victim = (await pods_of(kube, namespace, app))[0]
    start = time.monotonic()
    async with faults.crash_looping(namespace, victim["metadata"]["name"]):
        failed = await _run(http)
        assert failed["state"] == "failed", (failed["messages"], failed.get("details"))
        detected = time.monotonic() - start

        async def proposals() -> list[dict[str, Any]]:
            return list(await _ok(await http.get("/api/v1/remediations", params={"limit": 1})))

        name = victim["metadata"]["name"]
        [rem] = await wait_for(
            proposals,
            lambda rs: bool(rs) and rs[0]["incident_id"] is not None and rs[0]["name"] == name,
            timeout=180,
            what="a proposal for the crash-looping pod",
        )
        proposed = time.monotonic() - start
        if approve:
            assert rem["state"] == "awaiting-approval", rem
            assert (await _ok(await http.post(f"/api/v1/remediations/{rem['id']}/approve")))["changed"]

        async def remediation() -> dict[str, Any]:
            return dict(await _ok(await http.get(f"/api/v1/remediations/{rem['id']}")))

        done = await wait_for(remediation, lambda r: r["state"] in DONE, timeout=120, what="the remediation")
        assert done["state"] == "verified", done
    healed_pod = time.monotonic() - start
    assert victim["metadata"]["uid"] not in {
        p["metadata"]["uid"] for p in await pods_of(kube, namespace, app)
    }
    green = await _run(http)
    assert green["state"] == "succeeded", green

    async def incident() -> dict[str, Any]:
        return dict(await _ok(await http.get(f"/api/v1/incidents/{rem['incident_id']}")))

    closed = await wait_for(
        incident, lambda i: i["state"] == "resolved", timeout=120, what="incident resolved"
    )
    assert [(r["id"], r["state"]) for r in closed["remediations"]] == [(rem["id"], "verified")]
    assert closed["cause"] == "runtime.crash"
    return {
        "detected_s": detected,
        "proposed_s": proposed,
        "pod_healed_s": healed_pod,
        "resolved_s": time.monotonic() - start,
        "incident": float(rem["incident_id"]),
    }


@contextlib.asynccontextmanager
async def healing_center(
    folder: Path, sandbox: Sandbox, namespace: str, mode: str
) -> AsyncIterator[httpx.AsyncClient]:
    """A dispatching center with self-healing on and the crash-loop policy, the sandbox registered
    and the crash-loop inspection as a case."""
    (folder / "policies.yaml").write_text(policy(namespace, mode))
    settings = CenterSettings(
        data_dir=folder / "center",
        admin_token=ADMIN,
        port=free_port(),
        runner_mode="local",
        analysis={"self_healing": True},
        remedy={"policies_file": folder / "policies.yaml"},
    )
    with serving_dashboard(settings, dispatch=True, maintenance=False) as base:
        async with httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=60
        ) as http:
            body = {"name": "sandbox", "kubeconfig": sandbox.kubeconfig.read_text()}
            await _ok(await http.post("/api/v1/clusters", json=body), 201)
            params = {"checks": ["pod.crash-looping"], "exclude": ["namespace=kube-*"]}
            case = {"name": "crashloops", "template": "inspect", "params": params}
            await _ok(await http.post("/api/v1/cases", json=case), 201)
            yield http


async def test_a_crash_looping_pod_goes_from_fault_to_healed_through_an_approval(
    sandbox: Sandbox, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    async with healing_center(tmp_path, sandbox, namespace, "approval") as http:
        times = await heal_once(http, kube, Faults(sandbox), namespace, approve=True)
    assert times["resolved_s"] > times["pod_healed_s"] > times["proposed_s"] >= times["detected_s"]
