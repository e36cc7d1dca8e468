"""Two replicas probe each config once (kopf peering)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubeprobe.kube.client import KubeClient, resource_path
from kubeprobe.kube.waiting import wait_for
from kubeprobe.sandbox.cluster import Sandbox
from tests.operator.conftest import CenterServer
from tests.operator.operator_process import (
    OperatorProcess,
    create_config,
    drop_finalizers,
    get_config,
    probe_config,
)


async def test_two_replicas_one_probes_the_other_takes_over(
    sandbox: Sandbox, crd: KubeClient, namespace: str, center: CenterServer, tmp_path: Path
) -> None:
    kube = crd
    await kube.create(
        resource_path("kopf.dev/v1", "kopfpeerings", namespace),
        {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": "kubeprobe"}},
    )
    replicas = {}
    for who, priority in (("op-a", 100), ("op-b", 50)):
        replicas[who] = OperatorProcess(
            sandbox.kubeconfig,
            center,
            tmp_path / f"{who}.db",
            tmp_path / f"{who}.log",
            namespace=namespace,
            identity=who,
            standalone=False,
            env={
                "KUBEPROBE_OPERATOR_PRIORITY": str(priority),
                "KUBEPROBE_OPERATOR_PEERING_LIFETIME_SECONDS": "10",
            },
        )
    replicas["op-a"].start()
    try:
        await create_config(kube, namespace, probe_config("api", "apiserver-read", intervalSeconds=1))

        async def status() -> dict[str, Any]:
            return (await get_config(kube, namespace, "api")).get("status") or {}

        await wait_for(
            status,
            lambda s: s.get("probedBy") == "op-a" and s.get("runs", 0) >= 3,
            timeout=90,
            what="op-a probes",
        )
        # The standby joins while op-a is alive: it sees the higher priority and never probes.
        # (Two replicas starting at the same instant may both probe for a moment until they see
        # each other in the peering object.)
        replicas["op-b"].start()
        await wait_for(
            lambda: _text(tmp_path / "op-b.log"),
            lambda t: "Keep-alive in 'kubeprobe'" in t,
            timeout=90,
            what="op-b joined the peering",
        )
        await wait_for(status, lambda s: s.get("runs", 0) >= 8, timeout=60, what="more runs")
        assert "probe config" not in await _text(tmp_path / "op-b.log")
        assert (await status())["probedBy"] == "op-a"
        replicas["op-a"].kill9()
        await wait_for(status, lambda s: s.get("probedBy") == "op-b", timeout=90, what="op-b took over")
    finally:
        for op in replicas.values():
            await op.stop()
        await drop_finalizers(kube, namespace)


async def _text(path: Path) -> str:
    return path.read_text() if path.exists() else ""  # noqa: ASYNC240 (a small log file)
