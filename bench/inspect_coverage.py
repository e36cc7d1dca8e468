"""Is the k8sgpt comparison fair? Pods it must report, seeded into the cluster, and its report read back.

k8sgpt's pod analyzer reports a Pending pod whose PodScheduled condition says ``Unschedulable``
with a message. The benchmark creates ``count`` such pods (a node selector no node has), spread
over the cluster's namespaces with the last namespaces first, so a LIST cut short would miss them,
and waits until the scheduler has marked each one. After k8sgpt ran, :func:`k8sgpt_coverage`
counts how many of every pod that should be reported (the seeded ones and any other unschedulable
pod the cluster has) its report names.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.errors import ConflictError

SEED_LABEL = "kubeprobe.io/bench-unschedulable"


def _unschedulable(pod: dict[str, Any]) -> bool:
    if (pod.get("status") or {}).get("phase") != "Pending":
        return False
    return any(
        c.get("type") == "PodScheduled" and c.get("reason") == "Unschedulable" and c.get("message")
        for c in (pod.get("status") or {}).get("conditions") or []
    )


async def expected_pods(kube: KubeClient) -> set[str]:
    """namespace/name of every pod k8sgpt's pod analyzer should report as unschedulable."""
    found = set()
    async for page in kube.iter_pages("/api/v1/pods", limit=500, fieldSelector="status.phase=Pending"):
        for pod in page.get("items") or []:
            if _unschedulable(pod):
                found.add(f"{pod['metadata']['namespace']}/{pod['metadata']['name']}")
    return found


async def seed_unschedulable(kube: KubeClient, count: int, timeout: float = 300) -> set[str]:
    """Create ``count`` pods no node can take (idempotent) and wait until all are marked so."""
    namespaces = sorted(n["metadata"]["name"] for n in await kube.list_all("/api/v1/namespaces", limit=500))
    names = []
    for i in range(count):
        namespace = namespaces[-1 - i % len(namespaces)]
        pod = {
            "metadata": {"name": f"bench-unschedulable-{i}", "labels": {SEED_LABEL: "true"}},
            "spec": {
                "nodeSelector": {SEED_LABEL: "no-such-node"},
                "containers": [{"name": "main", "image": "registry.k8s.io/pause:3.10"}],
            },
        }
        with contextlib.suppress(ConflictError):  # seeded by an earlier run on this sandbox
            await kube.create(f"/api/v1/namespaces/{namespace}/pods", pod)
        names.append(f"{namespace}/bench-unschedulable-{i}")
    deadline = time.monotonic() + timeout
    while True:
        marked = {
            f"{p['metadata']['namespace']}/{p['metadata']['name']}"
            for p in await kube.list_all("/api/v1/pods", labelSelector=SEED_LABEL)
            if _unschedulable(p)
        }
        if marked >= set(names):
            return set(names)
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(set(names) - marked)} seeded pods not marked unschedulable")
        await asyncio.sleep(2)


def k8sgpt_report(output: bytes) -> dict[str, Any]:
    """k8sgpt's JSON report (after any log lines before it), or {}."""
    start = output.find(b"\n{")
    start = start + 1 if start >= 0 else output.find(b"{")
    try:
        doc = json.loads(output[start:]) if start >= 0 else {}
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def k8sgpt_coverage(output: bytes, expected: set[str]) -> tuple[dict[str, int], list[str]]:
    """Coverage metrics, and the analyzers' errors k8sgpt lists in its report (an analyzer whose
    LIST failed reports nothing, yet k8sgpt exits 0)."""
    doc = k8sgpt_report(output)
    reported = {str(r.get("name")) for r in doc.get("results") or [] if r.get("kind") == "Pod"}
    errors = [str(e) for e in doc.get("errors") or []]
    return {
        "k8sgpt_pods_expected": len(expected),
        "k8sgpt_pods_reported_of_expected": len(expected & reported),
        "k8sgpt_pods_reported": len(reported),
        "k8sgpt_report_errors": len(errors),
        "k8sgpt_pod_analyzer_failed": int(any(e.startswith("[Pod]") for e in errors)),
    }, errors
