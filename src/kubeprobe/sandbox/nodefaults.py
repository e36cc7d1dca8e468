"""Faults on the node side of a sandbox with real nodes, each with its undo.

| fault | undo |
| --- | --- |
| :meth:`NodeFaults.stop_runtime` (containerd stops; shims and containers run on) | :meth:`start_runtime` |
| :meth:`stop_kubelet` | :meth:`start_kubelet` |
| :meth:`stop_kube_proxy` (and flush its rules: ``kube-proxy --cleanup``) | :meth:`start_kube_proxy` |
| :meth:`stop_dns` (CoreDNS) | :meth:`start_dns` |
| :meth:`remove_image` (from every real node) | :meth:`load_image` (an archive) |
| :meth:`crash_loop` (a Deployment whose container exits 1) | :meth:`remove_crash_loop` |
| :meth:`disk_pressure` (kubelet's eviction threshold above what is free) | :meth:`relieve_pressure` |

The supervisor leaves a stopped component alone (``run/<component>.stopped``), as for the
control plane's ``stop``. Disk pressure is made by the kubelet's own eviction manager: its
``evictionHard`` for ``nodefs.available`` is set above what the disk has free, and the kubelet
restarted, so the node reports ``DiskPressure`` and taints itself exactly as on a full disk
(without filling the machine's disk that everything else shares).
"""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path
from typing import Any

import yaml

from kubeprobe.kube.errors import ConflictError, NotFoundError
from kubeprobe.kube.waiting import wait_for
from kubeprobe.sandbox import realcluster, realnode
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.errors import SandboxStateError
from kubeprobe.sandbox.network import netns_exec

CRASH_NAME = "kubeprobe-fault-crash-loop"
PRESSURE_THRESHOLD = "99%"


class NodeFaults:
    """Node-side faults for one sandbox with real nodes (node ``index``, default the first)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        if not sandbox.real_nodes:
            raise SandboxStateError(
                f"sandbox {sandbox.name!r} has no real nodes: node faults need "
                f"`kubeprobe sandbox up --name {sandbox.name} --real-nodes 1`"
            )
        self.real = sandbox.real_nodes

    def _node(self, index: int) -> str:
        if not 0 <= index < int(self.real["count"]):
            raise SandboxStateError(
                f"real node {index} does not exist (the sandbox has {self.real['count']})"
            )
        return str(self.real["nodes"][index])

    # -- components ----------------------------------------------------------------------------
    def stop_runtime(self, index: int = 0) -> None:
        self._node(index)
        self.sandbox.stop(f"containerd-{index}")

    async def start_runtime(self, index: int = 0) -> None:
        await self.sandbox.start(f"containerd-{index}")

    def stop_kubelet(self, index: int = 0) -> None:
        self._node(index)
        self.sandbox.stop(f"kubelet-{index}")

    async def start_kubelet(self, index: int = 0) -> None:
        await self.sandbox.start(f"kubelet-{index}")
        await self._wait_ready(index)

    def stop_kube_proxy(self, index: int = 0) -> None:
        """Stop kube-proxy and remove every rule it wrote (Services stop working on the node)."""
        node = self._node(index)
        self.sandbox.stop(f"kube-proxy-{index}")
        netns = f"kp-{self.real['tag']}-{index}"
        binary = Path(self.real["node_bin_dir"]) / "kube-proxy"
        proc = subprocess.run(
            [*netns_exec(netns), str(binary), "--cleanup"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if proc.returncode != 0:
            raise SandboxStateError(f"kube-proxy --cleanup on {node} failed: {proc.stderr.strip()[-500:]}")

    async def start_kube_proxy(self, index: int = 0) -> None:
        await self.sandbox.start(f"kube-proxy-{index}")

    def stop_dns(self) -> None:
        self.sandbox.stop("coredns")

    async def start_dns(self) -> None:
        await self.sandbox.start("coredns")

    # -- images --------------------------------------------------------------------------------
    def remove_image(self, image: str) -> list[str]:
        """Remove an image from every real node's containerd; return the nodes it was on."""
        from kubeprobe.sandbox.oci import full_name

        removed = []
        for index in range(int(self.real["count"])):
            with contextlib.suppress(Exception):
                realcluster.ctr(
                    Path(self.real["node_bin_dir"]),
                    str(self.real["tag"]),
                    index,
                    "images",
                    "rm",
                    full_name(image),
                )
                removed.append(self._node(index))
        return removed

    def load_image(self, archive: Path) -> list[str]:
        return realcluster.load_archive(self.sandbox.state, archive)

    # -- workloads -----------------------------------------------------------------------------
    async def crash_loop(self, namespace: str, image: str) -> str:
        """A Deployment on a real node whose container exits 1 at once, so it crash-loops."""
        body: dict[str, Any] = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": CRASH_NAME, "labels": {"kubeprobe.io/fault": "crash-loop"}},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": CRASH_NAME}},
                "template": {
                    "metadata": {"labels": {"app": CRASH_NAME}},
                    "spec": {
                        **realcluster.RUNNER_OVERRIDES,
                        "terminationGracePeriodSeconds": 1,
                        "containers": [
                            {
                                "name": "crash",
                                "image": image,
                                "imagePullPolicy": "IfNotPresent",
                                "command": [
                                    "python3",
                                    "-c",
                                    "import sys; print('crashing on purpose'); sys.exit(1)",
                                ],
                            }
                        ],
                    },
                },
            },
        }
        async with self.sandbox.client() as kube:
            with contextlib.suppress(ConflictError):
                await kube.create(f"/apis/apps/v1/namespaces/{namespace}/deployments", body)
        return CRASH_NAME

    async def remove_crash_loop(self, namespace: str) -> None:
        async with self.sandbox.client() as kube:
            with contextlib.suppress(NotFoundError):
                await kube.delete(f"/apis/apps/v1/namespaces/{namespace}/deployments/{CRASH_NAME}")
            for pod in await kube.list_all(
                f"/api/v1/namespaces/{namespace}/pods", labelSelector=f"app={CRASH_NAME}"
            ):
                await kube.delete(
                    f"/api/v1/namespaces/{namespace}/pods/{pod['metadata']['name']}", grace_period_seconds=0
                )

    # -- pressure ------------------------------------------------------------------------------
    def _kubelet_config(self, index: int) -> Path:
        return realnode.node_dir(self.sandbox.folder, index) / "kubelet.yaml"

    async def disk_pressure(self, index: int = 0) -> None:
        """The node reports DiskPressure (and is tainted for it) until :meth:`relieve_pressure`."""
        await self._set_threshold(index, PRESSURE_THRESHOLD)
        async with self.sandbox.client() as kube:
            await wait_for(
                lambda: kube.get(f"/api/v1/nodes/{self._node(index)}"),
                lambda n: _condition(n, "DiskPressure") == "True",
                timeout=90,
                what=f"DiskPressure on {self._node(index)}",
            )

    async def relieve_pressure(self, index: int = 0) -> None:
        await self._set_threshold(index, "1%")
        async with self.sandbox.client() as kube:
            await wait_for(
                lambda: kube.get(f"/api/v1/nodes/{self._node(index)}"),
                lambda n: _condition(n, "DiskPressure") == "False",
                timeout=120,
                what=f"no DiskPressure on {self._node(index)}",
            )

    async def _set_threshold(self, index: int, available: str) -> None:
        path = self._kubelet_config(index)
        config = yaml.safe_load(path.read_text())
        config["evictionHard"]["nodefs.available"] = available
        config["evictionHard"]["imagefs.available"] = available
        config["evictionPressureTransitionPeriod"] = "5s"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        self.sandbox.stop(f"kubelet-{index}")
        await self.sandbox.start(f"kubelet-{index}")

    async def _wait_ready(self, index: int) -> None:
        async with self.sandbox.client() as kube:
            await realcluster.wait_nodes_ready(kube, [self._node(index)], timeout=90)


def _condition(node: dict[str, Any], kind: str) -> str | None:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return str(cond.get("status"))
    return None
