"""Filling a sandbox with many nodes and pods, fast: for scale benchmarks of inspections and the center.

Pods are created already bound to a node (``spec.nodeName``), spread evenly, so the scheduler is
not the bottleneck; kwok still moves each one to Running. Creation runs with bounded concurrency
and reports progress; waiting polls with field selectors instead of listing everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.errors import ConflictError
from kubeprobe.sandbox.cluster import Sandbox, wait_for_service_account
from kubeprobe.sandbox.errors import SandboxStateError
from kubeprobe.sandbox.nodes import NODE_PREFIX, is_ready

Progress = Callable[[str, int, int], None]
SCALE_LABEL = "kubeprobe.io/scale"


def _quiet(what: str, done: int, total: int) -> None:
    return None


@dataclass(frozen=True)
class PopulateTimings:
    nodes_create_s: float
    nodes_ready_s: float
    pods_create_s: float
    pods_running_s: float


def scale_pod(name: str, node: str, app: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": app, SCALE_LABEL: "true"}},
        "spec": {
            "nodeName": node,
            "automountServiceAccountToken": False,
            "containers": [
                {
                    "name": "main",
                    "image": "registry.k8s.io/pause:3.10",
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                }
            ],
        },
    }


async def _bounded(
    total: int, concurrency: int, make: Callable[[int], Any], tick: Callable[[int], None]
) -> None:
    """Run ``make(i)`` for i in range(total) with at most ``concurrency`` in flight."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)
    done = 0

    async def worker() -> None:
        nonlocal done
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            with contextlib.suppress(ConflictError):
                await make(i)
            done += 1
            if done % 500 == 0 or done == total:
                tick(done)

    await asyncio.gather(*(worker() for _ in range(min(concurrency, total) or 1)))


async def count_matching(kube: KubeClient, path: str, **params: Any) -> int:
    """How many objects match (metadata-only pages, so the transfer stays small)."""
    total = 0
    async for page in kube.iter_pages(path, limit=5000, metadata_only=True, **params):
        total += len(page.get("items") or [])
    return total


async def _wait(what: str, check: Callable[[], Any], total: int, timeout: float, progress: Progress) -> None:
    deadline = time.monotonic() + timeout
    while True:
        done = await check()
        progress(what, done, total)
        if done >= total:
            return
        if time.monotonic() > deadline:
            raise SandboxStateError(f"{what}: only {done} of {total} after {timeout:.0f}s")
        await asyncio.sleep(2)


async def populate(
    sandbox: Sandbox,
    *,
    nodes: int,
    pods: int,
    namespaces: int = 10,
    concurrency: int = 48,
    progress: Progress = _quiet,
) -> PopulateTimings:
    """Bring the sandbox to ``nodes`` kwok nodes and ``pods`` Running pods over ``namespaces``."""
    async with sandbox.client(timeout=120) as kube:
        existing = int(sandbox.state.get("next_node_index", 0))
        t0 = time.monotonic()
        if nodes > existing:
            await sandbox.add_nodes(
                nodes - existing,
                wait=False,
                progress=lambda n: progress("nodes created", n, nodes - existing),
            )
        t1 = time.monotonic()

        async def ready_nodes() -> int:
            count = 0
            async for page in kube.iter_pages("/api/v1/nodes", limit=2000, labelSelector="type=kwok"):
                count += sum(1 for n in page.get("items") or [] if is_ready(n))
            return count

        await _wait("nodes Ready", ready_nodes, nodes, 600 + nodes * 0.1, progress)
        t2 = time.monotonic()

        ns_names = [f"scale-{i}" for i in range(namespaces)]
        for ns in ns_names:
            with contextlib.suppress(ConflictError):
                await kube.create(
                    "/api/v1/namespaces", {"metadata": {"name": ns, "labels": {SCALE_LABEL: "true"}}}
                )
            await wait_for_service_account(kube, ns)

        def make(i: int) -> Any:
            ns = ns_names[i % namespaces]
            node = f"{NODE_PREFIX}{i % nodes}"
            app = f"app-{i % 500}"
            return kube.create(f"/api/v1/namespaces/{ns}/pods", scale_pod(f"pod-{i}", node, app))

        await _bounded(pods, concurrency, make, lambda n: progress("pods created", n, pods))
        t3 = time.monotonic()

        async def running() -> int:
            # Count the stragglers, not the Running ones: the transfer shrinks as pods start.
            pending = await count_matching(
                kube, "/api/v1/pods", fieldSelector="status.phase!=Running", labelSelector=SCALE_LABEL
            )
            return pods - pending

        await _wait("pods Running", running, pods, 600 + pods * 0.02, progress)
        t4 = time.monotonic()
    return PopulateTimings(
        nodes_create_s=round(t1 - t0, 2),
        nodes_ready_s=round(t2 - t1, 2),
        pods_create_s=round(t3 - t2, 2),
        pods_running_s=round(t4 - t3, 2),
    )
