"""End to end against the sandbox: the real `kubeprobe operator` process, CRD, status, center."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.errors import KubeError
from kubeprobe.kube.waiting import wait_for
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.faults import Faults
from tests.operator.conftest import CenterServer
from tests.operator.operator_process import (
    OperatorProcess,
    create_config,
    drop_finalizers,
    get_config,
    probe_config,
)


async def test_probe_config_is_probed_status_written_and_reported(
    sandbox: Sandbox, crd: KubeClient, namespace: str, center: CenterServer, tmp_path: Path
) -> None:
    kube = crd
    op = OperatorProcess(
        sandbox.kubeconfig, center, tmp_path / "buf.db", tmp_path / "op.log", namespace=namespace
    )
    op.start()
    try:
        for name, probe in (
            ("api-read", "apiserver-read"),
            ("api-write", "apiserver-write"),
            ("watch", "watch"),
        ):
            await create_config(
                kube, namespace, probe_config(name, probe, intervalSeconds=1, timeoutSeconds=1)
            )

        async def statuses() -> list[dict[str, object]]:
            return [
                (await get_config(kube, namespace, n)).get("status") or {}
                for n in ("api-read", "api-write", "watch")
            ]

        got = await wait_for(
            statuses,
            lambda ss: all(s.get("state") == "healthy" and int(s.get("runs") or 0) >= 1 for s in ss),
            timeout=60,
            what="every ProbeConfig healthy in its status",
        )
        assert all(s["probedBy"] == "op-test" and s["successRatio"] == 1 for s in got)
        reports = await wait_for(
            lambda: center.reports(kind="state"), lambda r: len(r) >= 3, timeout=30, what="state reports"
        )
        assert {r["config"] for r in reports} == {
            f"{namespace}/{n}" for n in ("api-read", "api-write", "watch")
        }
        assert {r["state"] for r in reports} == {"healthy"}
    finally:
        await op.stop()
        await drop_finalizers(kube, namespace)
    assert "Traceback" not in (tmp_path / "op.log").read_text()


@pytest.mark.parametrize("component", ["kube-apiserver", "etcd"])
async def test_time_to_detect_a_paused_component(  # noqa: PLR0917 (fixtures)
    sandbox: Sandbox, crd: KubeClient, namespace: str, center: CenterServer, tmp_path: Path, component: str
) -> None:
    """Failing reaches the center within interval x F + 2 s after the pause."""
    kube = crd
    interval, failures = 1.0, 3
    op = OperatorProcess(
        sandbox.kubeconfig, center, tmp_path / "buf.db", tmp_path / "op.log", namespace=namespace
    )
    op.start()
    rule = {"failures": failures, "window": 5}
    name = "api-read"
    spec = {"intervalSeconds": interval, "timeoutSeconds": 0.8, "failureRule": rule}
    if component == "etcd":
        name = "etcd"
        spec["params"] = {"endpoint": f"http://127.0.0.1:{sandbox.ports.etcd}"}
    await create_config(
        kube, namespace, probe_config(name, "etcd" if component == "etcd" else "apiserver-read", **spec)
    )
    faults = Faults(sandbox)
    try:
        await wait_for(
            lambda: center.reports(kind="state"),
            lambda r: any(x["state"] == "healthy" for x in r),
            timeout=60,
            what="healthy reported",
        )
        paused_at = time.time()
        faults.pause(component)
        try:
            reports = await wait_for(
                lambda: center.reports(kind="state"),
                lambda r: any(x["state"] == "failing" for x in r),
                timeout=30,
                what="failing reported",
            )
        finally:
            await faults.resume(component)
        failing = next(r for r in reports if r["state"] == "failing")
        detected = failing["received"]
        import datetime as dt

        took = dt.datetime.fromisoformat(detected).timestamp() - paused_at
        print(f"time to detect {component} paused: {took:.2f}s (bound {interval * failures + 2:.1f}s)")
        assert took <= interval * failures + 2
        await wait_for(
            lambda: center.reports(kind="state"),
            lambda r: r[0]["state"] == "healthy",
            timeout=60,
            what="recovery reported",
        )
    finally:
        await op.stop()
        try:
            await drop_finalizers(kube, namespace)
        except KubeError:
            await asyncio.sleep(1)
            await drop_finalizers(kube, namespace)
