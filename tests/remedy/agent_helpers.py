"""The node agent against the kwok sandbox: its CRD installed, a real sandbox supervisor in a
temporary folder keeping stand-in node components running (``kubelet`` and ``containerd`` are
``sleep`` under those names: the agent checks a process's program name before signalling it),
and the agent itself running in the test's loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.waiting import wait_for
from kubeprobe.operator.install import apply, wait_established
from kubeprobe.remedy import operations as ops
from kubeprobe.remedy.agent.loop import NodeAgent
from kubeprobe.remedy.agent.restarter import SupervisorRestarter
from tests.deploy.conftest import OPERATOR_CHART

CRD_FILE = OPERATOR_CHART / "crds" / "remedyoperations.yaml"
UNITS = {"kubelet": "kubelet-0", "container-runtime": "containerd-0"}


async def install_crd(kube: KubeClient) -> None:
    await apply(kube, yaml.safe_load(CRD_FILE.read_text()))
    await wait_established(kube, ops.CRD_NAME)


@dataclass
class StandIns:
    """A supervisor's folder: ``run`` (its restart interface) and the units it keeps running."""

    folder: Path

    @property
    def run(self) -> Path:
        return self.folder / "run"

    def pid(self, unit: str) -> int | None:
        try:
            return int((self.run / f"{unit}.pid").read_text())
        except (OSError, ValueError):
            return None

    def stop(self, unit: str) -> None:
        """What ``kubeprobe sandbox fault stop`` does: the marker, then the process ends."""
        (self.run / f"{unit}.stopped").touch()
        pid = self.pid(unit)
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)


@contextlib.contextmanager
def supervised(tmp: Path) -> Iterator[StandIns]:
    """A real supervisor (``python -m kubeprobe.sandbox.supervisor``) keeping the stand-ins running."""
    folder, bins = tmp / "sandbox", tmp / "bin"
    for sub in (folder / "run", folder / "logs", bins):
        sub.mkdir(parents=True)
    components: dict[str, Any] = {}
    for unit, program in (("kubelet-0", "kubelet"), ("containerd-0", "containerd")):
        (bins / program).symlink_to("/bin/sleep")
        components[unit] = {"argv": [str(bins / program), "3600"], "health": f"file:{folder}"}
    ports = dict.fromkeys(("etcd", "etcd_peer", "apiserver", "controller_manager", "scheduler", "kwok"), 1)
    state = {"order": list(components), "components": components, "ports": ports}
    (folder / "state.json").write_text(json.dumps(state))
    proc = subprocess.Popen([sys.executable, "-m", "kubeprobe.sandbox.supervisor", str(folder)])
    standins = StandIns(folder)
    try:
        yield standins
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        for unit in components:
            pid = standins.pid(unit)
            if pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


async def running(standins: StandIns, unit: str) -> int:
    async def pid() -> int | None:
        return standins.pid(unit)

    found = await wait_for(
        pid, lambda p: bool(p) and Path(f"/proc/{p}").exists(), timeout=15, what=f"{unit} running"
    )
    assert found is not None
    return found


@contextlib.asynccontextmanager
async def agent_running(kube: KubeClient, node: str, standins: StandIns) -> AsyncIterator[NodeAgent]:
    # Its own client, closed when it stops: a watch cancelled mid-read leaves a connection that only
    # closing the client's pool closes (else a ResourceWarning surfaces in a later test).
    async with KubeClient(kube.conn, timeout=30) as own:
        restarter = SupervisorRestarter(standins.run, UNITS)
        agent = NodeAgent(own, node, restarter, f"agent-{uuid.uuid4().hex[:6]}")
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop, watch_seconds=5))
        try:
            yield agent
        finally:
            stop.set()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def create_op(kube: KubeClient, node: str, action: str = "restart-kubelet", **spec: Any) -> str:
    rid = f"test-{uuid.uuid4().hex[:8]}"
    body = ops.operation_body(node, action, remediation=rid, nonce="a1", timeout_seconds=20)
    body["spec"].update(spec)
    await kube.create(ops.COLLECTION, body)
    return str(body["metadata"]["name"])


async def finished(kube: KubeClient, name: str, timeout: float = 30) -> dict[str, Any]:
    return await wait_for(
        lambda: kube.get(ops.path(name)),
        lambda o: ops.phase_of(o) in ops.TERMINAL,
        timeout=timeout,
        what=f"RemedyOperation {name} finished",
    )


async def delete_ops(kube: KubeClient, node: str) -> None:
    for obj in await kube.list_all(ops.COLLECTION, fieldSelector=f"spec.nodeName={node}"):
        with contextlib.suppress(Exception):
            await kube.delete(ops.path(obj["metadata"]["name"]))
