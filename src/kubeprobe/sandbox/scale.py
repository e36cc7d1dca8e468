"""Filling a sandbox with many nodes and pods, fast: for scale benchmarks of inspections and the center.

Pods are created already bound to a node (``spec.nodeName``), spread evenly, so the scheduler is
not the bottleneck; kwok still moves each one to Running. Creation runs with bounded concurrency
and reports progress; waiting polls with field selectors instead of listing everything.

Through the API a pod costs about 7 ms of API server CPU (create, kwok's status patch, the watch
fan-out) and 4 ms of client CPU, so 100,000 pods take most of an hour on two shared cores. A
sandbox started with ``json_storage`` (the API server keeps objects in etcd as JSON) is filled by
the bulk loader instead: one pod goes through the API and kwok as usual, and becomes the template
of all others, which are written straight into etcd (batched transactions of its JSON gateway)
already Running, each with its own name, uid, node and pod IP. The API server, kwok and the
controllers see them through their watches like any other write; the count is then verified with
a LIST through the API server.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.errors import ConflictError, KubeServerError
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.errors import SandboxStateError
from kubeprobe.sandbox.nodes import NODE_PREFIX, is_ready, pod_cidr, wait_for_service_account

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
    done = 0
    while True:
        try:
            done = await check()
        except KubeServerError as exc:
            # After a bulk load the API server's watch cache lags behind etcd, and a LIST at the
            # newest resourceVersion answers 504 "Too large resource version" until it catches up.
            if time.monotonic() > deadline:
                raise SandboxStateError(f"{what}: the API server still answers {exc}") from exc
            await asyncio.sleep(2)
            continue
        progress(what, done, total)
        if done >= total:
            return
        if time.monotonic() > deadline:
            raise SandboxStateError(f"{what}: only {done} of {total} after {timeout:.0f}s")
        await asyncio.sleep(2)


#: etcd's default --max-txn-ops: puts per transaction of the bulk loader.
TXN_OPS = 128
_SENTINELS = ("@NAME@", "@NS@", "@UID@", "@NODE@", "@APP@", "@POD_IP@", "@HOST_IP@")


def pod_ip(node_index: int, slot: int) -> str:
    """The ``slot``-th pod IP of a node, inside the node's /24 (see :func:`pod_cidr`)."""
    if not 0 <= slot < 250:
        raise SandboxStateError(f"{slot + 1} pods on one node: the bulk loader gives each node at most 250")
    base = pod_cidr(node_index).removesuffix(".0/24")
    return f"{base}.{slot + 2}"


def pod_template(running: dict[str, Any]) -> bytes:
    """A Running pod as the API server stored it, as JSON with placeholders for what differs."""
    meta = running["metadata"]
    status = running["status"]
    for key in ("resourceVersion", "managedFields", "generation"):
        meta.pop(key, None)
    meta.update(name="@NAME@", namespace="@NS@", uid="@UID@")
    meta["labels"] = {**(meta.get("labels") or {}), "app": "@APP@", SCALE_LABEL: "true"}
    running["spec"]["nodeName"] = "@NODE@"
    if status.get("phase") != "Running" or not status.get("podIP"):
        raise SandboxStateError(f"the template pod {meta['name']} is not Running with an IP: {status}")
    status.update(podIP="@POD_IP@", podIPs=[{"ip": "@POD_IP@"}])
    if status.get("hostIP"):  # kwok sets one only for nodes with an InternalIP
        status.update(hostIP="@HOST_IP@", hostIPs=[{"ip": "@HOST_IP@"}])
    return orjson.dumps(running)


def render_pod(template: bytes, values: dict[str, str]) -> bytes:
    out = template
    for sentinel in _SENTINELS:
        out = out.replace(sentinel.encode(), values[sentinel].encode())
    return out


async def _running_pod(kube: KubeClient, path: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        pod = await kube.get(path)
        if (pod.get("status") or {}).get("phase") == "Running":
            return pod
        if time.monotonic() > deadline:
            raise SandboxStateError(f"{path} is not Running after {timeout:.0f}s: is kwok running?")
        await asyncio.sleep(0.5)


async def node_ips(kube: KubeClient) -> dict[str, str]:
    """InternalIP of each kwok node, as kwok set it."""
    ips: dict[str, str] = {}
    async for page in kube.iter_pages("/api/v1/nodes", limit=2000, labelSelector="type=kwok"):
        for node in page.get("items") or []:
            for addr in (node.get("status") or {}).get("addresses") or []:
                if addr.get("type") == "InternalIP":
                    ips[node["metadata"]["name"]] = addr["address"]
    return ips


async def bulk_load_pods(
    sandbox: Sandbox,
    kube: KubeClient,
    *,
    first: int,
    pods: int,
    nodes: int,
    ns_names: list[str],
    concurrency: int = 4,
    progress: Progress = _quiet,
) -> None:
    """Write pods ``first`` .. ``pods - 1`` straight into etcd, Running, modelled on pod ``first - 1``.

    Needs a sandbox started with ``json_storage`` and pod ``first - 1`` created through the API.
    """
    if not sandbox.json_storage:
        raise SandboxStateError(
            f"sandbox {sandbox.name!r} keeps objects in etcd as protobuf: the bulk loader needs one "
            "started with json_storage=True"
        )
    model = f"/api/v1/namespaces/{ns_names[(first - 1) % len(ns_names)]}/pods/pod-{first - 1}"
    template = pod_template(await _running_pod(kube, model))
    ips = await node_ips(kube) if b"@HOST_IP@" in template else {}
    etcd = f"http://127.0.0.1:{sandbox.ports.etcd}"

    def put(i: int) -> dict[str, Any]:
        ns, node = ns_names[i % len(ns_names)], f"{NODE_PREFIX}{i % nodes}"
        name = f"pod-{i}"
        value = render_pod(
            template,
            {
                "@NAME@": name,
                "@NS@": ns,
                "@UID@": str(uuid.uuid4()),
                "@NODE@": node,
                "@APP@": f"app-{i % 500}",
                "@POD_IP@": pod_ip(i % nodes, i // nodes),
                "@HOST_IP@": ips.get(node, ""),
            },
        )
        key = f"/registry/pods/{ns}/{name}".encode()
        return {
            "requestPut": {"key": base64.b64encode(key).decode(), "value": base64.b64encode(value).decode()}
        }

    batches = [range(start, min(start + TXN_OPS, pods)) for start in range(first, pods, TXN_OPS)]
    done = 0
    async with httpx.AsyncClient(base_url=etcd, timeout=120) as http:

        async def send(batch: range) -> None:
            nonlocal done
            body = orjson.dumps({"success": [put(i) for i in batch]})
            resp = await http.post("/v3/kv/txn", content=body)
            if resp.status_code != 200 or not resp.json().get("succeeded", False):
                raise SandboxStateError(f"etcd refused a bulk write ({resp.status_code}): {resp.text[:300]}")
            done += len(batch)
            progress("pods written to etcd", done, pods - first)

        await _bounded(len(batches), concurrency, lambda k: send(batches[k]), lambda _: None)


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

        # Bulk: one pod through the API (and kwok) as the model, the rest straight into etcd.
        through_api = 1 if sandbox.json_storage and pods > 1 else pods
        await _bounded(through_api, concurrency, make, lambda n: progress("pods created", n, pods))
        if through_api < pods:
            await bulk_load_pods(
                sandbox, kube, first=through_api, pods=pods, nodes=nodes, ns_names=ns_names, progress=progress
            )

            async def listed() -> int:
                return await count_matching(kube, "/api/v1/pods", labelSelector=SCALE_LABEL)

            await _wait("pods listed by the API server", listed, pods, 300 + pods * 0.01, progress)
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
