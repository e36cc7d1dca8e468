"""The demo's self-healing act, narrated as it happens: a pod of a Deployment crash-loops (a sandbox
fault), the crash-loop inspection fails, the analysis names the cause, an incident opens, the demo
policy proposes deleting the pod, the demo approves it, the defender grants it, the pod is deleted
and verified, the inspection passes again and the incident resolves."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from kubeprobe.kube.errors import ConflictError
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.faults import Faults

NAMESPACE = "kubeprobe-demo"
APP = "shop"
CASE = "demo-crashloops"
TERMINAL = {"succeeded", "failed", "timed_out", "error", "cancelled"}
DONE = {"verified", "failed", "unverified", "denied", "precondition", "shadow", "fenced", "error"}
POLICY = f"""# kubeprobe demo: a crash-looping pod of the demo's shop is deleted once a person approves
name: demo-crash-loop
cause: runtime.crash
mode: approval
ladder:
  - action: pod-delete
    timeout_seconds: 60
    params: {{namespace: {NAMESPACE}, selector: app={APP}}}
"""


def write_policy(data_dir: Path) -> Path:
    path = data_dir / "demo-policies.yaml"
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(POLICY)
    return path


async def _until(get: Callable[[], Awaitable[Any]], ok: Callable[[Any], bool], timeout: float = 180) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await get()
        if ok(value):
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("the demo waited too long; see the dashboard")
        await asyncio.sleep(1)


async def _json(call: Awaitable[httpx.Response]) -> Any:
    resp = await call
    resp.raise_for_status()
    return resp.json() if resp.content else None


async def _inspect(http: httpx.AsyncClient, cluster: str) -> dict[str, Any]:
    run = await _json(http.post("/api/v1/runs", json={"case": CASE, "cluster": cluster}))
    return dict(
        await _until(lambda: _json(http.get(f"/api/v1/runs/{run['id']}")), lambda r: r["state"] in TERMINAL)
    )


async def _shop(box: Sandbox) -> str:
    """The demo's shop: a Deployment of one pod, ready; its pod's name."""
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": APP},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": APP}},
            "template": {
                "metadata": {"labels": {"app": APP}},
                "spec": {"containers": [{"name": "web", "image": "registry.k8s.io/pause:3.10"}]},
            },
        },
    }
    async with box.client() as kube:
        for path, obj in (
            ("/api/v1/namespaces", {"metadata": {"name": NAMESPACE}}),
            (f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments", dep),
        ):
            with contextlib.suppress(ConflictError):  # there from an earlier demo
                await kube.create(path, obj)

        async def pods() -> list[dict[str, Any]]:
            found = await kube.list_all(f"/api/v1/namespaces/{NAMESPACE}/pods", labelSelector=f"app={APP}")
            return [p for p in found if p.get("status", {}).get("phase") == "Running"]

        return str((await _until(pods, bool))[0]["metadata"]["name"])


async def heal_act(http: httpx.AsyncClient, box: Sandbox, console: Console) -> None:
    """Act 5 of the demo (the center must run with self-healing and :data:`POLICY`)."""
    say = console.print
    params = {"checks": ["pod.crash-looping"], "exclude": ["namespace=kube-*"]}
    created = await http.post("/api/v1/cases", json={"name": CASE, "template": "inspect", "params": params})
    if created.status_code not in (201, 409):
        created.raise_for_status()
    pod = await _shop(box)
    say(f"› fault: pod {NAMESPACE}/{pod} of Deployment {APP} on {box.name} starts crash-looping")
    async with Faults(box).crash_looping(NAMESPACE, pod):
        run = await _inspect(http, box.name)
        say(
            f"› inspection {CASE} on {box.name}: {run['state']}: {'; '.join(run['messages'])[:160]}",
            markup=False,
        )
        rems = await _until(
            lambda: _json(http.get("/api/v1/remediations", params={"limit": 1})),
            lambda rs: bool(rs) and rs[0]["name"] == pod and rs[0]["incident_id"] is not None,
        )
        rem = rems[0]
        incident = await _json(http.get(f"/api/v1/incidents/{rem['incident_id']}"))
        say(f"› incident #{incident['id']} opened: {incident['title']}", markup=False)
        what = f"{rem['action']} {NAMESPACE}/{pod} ({rem['state']})"
        say(f"› remediation #{rem['id']} proposed by {rem['proposed_by']}: {what}", markup=False)
        answer = await _json(http.post(f"/api/v1/remediations/{rem['id']}/approve"))
        say(f"› approved by {answer['remediation']['approver']}; the defender decides and it runs")
        done = await _until(
            lambda: _json(http.get(f"/api/v1/remediations/{rem['id']}")), lambda r: r["state"] in DONE
        )
        say(
            f"› remediation #{rem['id']}: {done['state']} ({'; '.join(done['result'].get('plan', [])[:1])})",
            markup=False,
        )
    run = await _inspect(http, box.name)
    say(f"› inspection {CASE} on {box.name} again: {run['state']}")
    closed = await _until(
        lambda: _json(http.get(f"/api/v1/incidents/{incident['id']}")),
        lambda i: i["state"] == "resolved",
        120,
    )
    say(f"› incident #{closed['id']} {closed['state']}: fault to healed, narrated above")
