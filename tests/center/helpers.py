"""Small builders shared by the center tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

KUBECONFIG = """
apiVersion: v1
kind: Config
current-context: ctx
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: "very-secret-token"}
contexts:
- name: ctx
  context: {cluster: c, user: u}
"""

TEMPLATE: dict[str, Any] = {
    "name": "pod-lifecycle",
    "kind": "probe",
    "entry_point": "kubeprobe.cases.probes.pod_lifecycle:run",
    "params_schema": {
        "type": "object",
        "properties": {
            "namespace": {"type": "string", "default": "kubeprobe"},
            "replicas": {"type": "integer", "minimum": 1, "default": 1},
        },
    },
    "timeout_seconds": 60,
}


async def ok(resp: httpx.Response, status: int = 200) -> Any:
    """The decoded body after checking the status (async only so that call sites read alike)."""
    assert resp.status_code == status, f"{resp.status_code} {resp.text}"
    return resp.json() if resp.content else None


async def seed(client: httpx.AsyncClient, clusters: int = 2) -> None:
    """Clusters c0.., a template, cases pod (defaults) and pod3 (replicas=3), a suite."""
    for i in range(clusters):
        body = {"name": f"c{i}", "kubeconfig": KUBECONFIG, "labels": {"env": "prod" if i % 2 == 0 else "dev"}}
        await ok(await client.post("/api/v1/clusters", json=body), 201)
    await ok(await client.post("/api/v1/templates", json=TEMPLATE), 201)
    await ok(await client.post("/api/v1/cases", json={"name": "pod", "template": "pod-lifecycle"}), 201)
    body = {"name": "pod3", "template": "pod-lifecycle", "params": {"replicas": 3}}
    await ok(await client.post("/api/v1/cases", json=body), 201)
    await ok(await client.post("/api/v1/suites", json={"name": "basic", "cases": ["pod", "pod3"]}), 201)


def result(
    case: str, cluster: str, state: str, finished: dt.datetime, ms: float = 100.0, **extra: Any
) -> dict[str, Any]:
    started = finished - dt.timedelta(milliseconds=ms)
    body: dict[str, Any] = {
        "case": case,
        "cluster": cluster,
        "state": state,
        "started": started.isoformat(),
        "finished": finished.isoformat(),
        "messages": [] if state == "succeeded" else ["it broke"],
    }
    body.update(extra)
    return body
