"""ProbeOperator bookkeeping (no cluster): start, no-op on the same spec, restart on a change, stop."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import httpx
import pytest

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.config import ClusterConnection
from kubeprobe.kube.waiting import wait_for
from kubeprobe.operator.buffer import ReportBuffer
from kubeprobe.operator.probes import DuplicateProbeError, Probe, ProbeRegistry
from kubeprobe.operator.reporting import Reporter
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


async def test_stop_lets_a_batch_on_the_wire_be_answered(tmp_path: Path) -> None:
    """Stopping (a pod deleted) cancels the reporter between batches, never during one: a batch cut
    in half made the center log the disconnect as an error, and was sent a second time."""
    calls, answered, release = [], [], asyncio.Event()

    async def center(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        await release.wait()  # a slow answer
        answered.append(request)
        return httpx.Response(202, json={"accepted": 1, "duplicates": 0})

    kube = KubeClient(ClusterConnection(server="http://127.0.0.1:9", context="t"))
    settings = OperatorSettings(buffer_path=tmp_path / "b.db", center_url="http://center.test")
    buffer = ReportBuffer(tmp_path / "b.db")
    op = ProbeOperator(kube, settings, probes=registry, buffer=buffer, write_status=False)
    assert op.reporter is not None
    await op.reporter.close()  # replaced by one whose center answers slowly
    op.reporter = Reporter(op.buffer, settings.center_url, "t", transport=httpx.MockTransport(center))
    await op.start()
    op.buffer.add("k1", "state", {"key": "k1"})
    op.reporter.wake()
    await wait_for(lambda: _count(calls), bool, timeout=10, interval=0.01, what="the batch on the wire")
    stopping = asyncio.create_task(op.stop())
    for _ in range(50):  # let stop() run up to where it would cancel the reporter
        await asyncio.sleep(0)
    release.set()
    await asyncio.wait_for(stopping, 10)
    await kube.close()
    assert (len(calls), len(answered), len(op.buffer)) == (1, 1, 0)


async def _count(items: list[httpx.Request]) -> int:
    return len(items)
