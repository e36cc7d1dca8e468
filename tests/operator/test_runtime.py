"""ProbeOperator bookkeeping (no cluster): start, no-op on the same spec, restart on a change, stop."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.config import ClusterConnection
from kubeprobe.operator.buffer import ReportBuffer
from kubeprobe.operator.probes import DuplicateProbeError, Probe, ProbeRegistry
from kubeprobe.operator.runtime import ProbeOperator
from kubeprobe.operator.settings import OperatorSettings
from kubeprobe.operator.spec import ProbeConfigSpec

registry = ProbeRegistry()


@registry.register("light")
class LightProbe(Probe):
    async def run(self) -> None:
        return None


def test_a_probe_type_registered_twice_is_refused() -> None:
    with pytest.raises(DuplicateProbeError, match="light"):
        registry.register("light")(LightProbe)


async def test_upsert_restart_and_stop(tmp_path: Path) -> None:
    kube = KubeClient(ClusterConnection(server="http://127.0.0.1:9", context="t"))
    op = ProbeOperator(
        kube,
        OperatorSettings(buffer_path=tmp_path / "b.db"),
        probes=registry,
        buffer=ReportBuffer(tmp_path / "b.db"),
        write_status=False,
    )
    await op.start()
    spec = ProbeConfigSpec("ns", "a", "light", interval=1, timeout=1)
    try:
        assert await op.upsert(spec)
        first = op.loops["ns/a"]
        assert not await op.upsert(spec)  # same spec: the loop keeps running
        assert await op.upsert(dataclasses.replace(spec, interval=2))
        assert op.loops["ns/a"] is not first
        with pytest.raises(ValueError, match="unknown probe type"):
            await op.upsert(dataclasses.replace(spec, name="b", probe="nope"))
        await op.remove("ns/a")
        assert op.loops == {}
        assert await op.upsert(dataclasses.replace(spec, name="c"))
    finally:
        await op.stop()
        await kube.close()
    assert op.loops == {}
