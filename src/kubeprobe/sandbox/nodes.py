"""kwok nodes of a sandbox: their manifests, creating many at once, waiting for them to be Ready."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.errors import ConflictError, NotFoundError
from kubeprobe.sandbox.components import KWOK_ANNOTATION
from kubeprobe.sandbox.errors import StartupError
from kubeprobe.sandbox.versions import KUBERNETES_VERSION

NODE_PREFIX = "kwok-node-"


def pod_cidr(index: int) -> str:
    """A /24 per node out of 10.128.0.0/9: room for 32,768 nodes, clear of the service range."""
    if not 0 <= index < 128 * 256:
        raise ValueError(f"node index {index} is out of the sandbox's pod range (max 32767)")
    return f"10.{128 + index // 256}.{index % 256}.0/24"


def node_manifest(name: str, index: int, labels: dict[str, str] | None = None) -> dict[str, Any]:
    capacity = {"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "1Ti"}
    cidr = pod_cidr(index)
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {KWOK_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
                **(labels or {}),
            },
        },
        "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
        "status": {
            "allocatable": capacity,
            "capacity": capacity,
            "nodeInfo": {
                "kubeletVersion": KUBERNETES_VERSION,
                "kubeProxyVersion": KUBERNETES_VERSION,
                "operatingSystem": "linux",
                "architecture": "amd64",
                "containerRuntimeVersion": "kwok",
            },
        },
    }


def is_ready(node: dict[str, Any]) -> bool:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


async def create_nodes(
    kube: KubeClient,
    first_index: int,
    count: int,
    *,
    labels: dict[str, str] | None = None,
    concurrency: int = 32,
    progress: Callable[[int], None] | None = None,
) -> list[str]:
    """Create ``count`` kwok nodes (existing ones are kept); return their names."""
    names = [f"{NODE_PREFIX}{i}" for i in range(first_index, first_index + count)]
    sem = asyncio.Semaphore(concurrency)
    done = 0

    async def one(i: int, name: str) -> None:
        nonlocal done
        async with sem:
            with contextlib.suppress(ConflictError):
                await kube.create("/api/v1/nodes", node_manifest(name, i, labels))
        done += 1
        if progress:
            progress(done)

    await asyncio.gather(*(one(first_index + k, n) for k, n in enumerate(names)))
    return names


async def wait_ready(kube: KubeClient, names: list[str], timeout: float) -> None:
    """Poll until every named node is Ready; StartupError naming the stragglers otherwise."""
    want = set(names)
    deadline = time.monotonic() + timeout
    not_ready = want
    while time.monotonic() < deadline:
        nodes = await kube.list_all("/api/v1/nodes", labelSelector="type=kwok")
        ready = {n["metadata"]["name"] for n in nodes if is_ready(n)}
        not_ready = want - ready
        if not not_ready:
            return
        await asyncio.sleep(0.5)
    sample = ", ".join(sorted(not_ready)[:5])
    raise StartupError(
        f"{len(not_ready)} of {len(want)} nodes are not Ready after {timeout:.0f}s ({sample}...); "
        "check the kwok log of this sandbox"
    )


async def wait_for_service_account(kube: KubeClient, namespace: str, timeout: float = 60.0) -> None:
    """Pods need the namespace's default ServiceAccount, which the controller-manager creates."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            await kube.get(f"/api/v1/namespaces/{namespace}/serviceaccounts/default")
            return
        except NotFoundError:
            await asyncio.sleep(0.2)
    raise StartupError(
        f"the default ServiceAccount of namespace {namespace!r} did not appear in {timeout:.0f}s: "
        "is the controller-manager running?"
    )
