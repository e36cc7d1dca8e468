"""The pod-scheduling probe (the lower-frequency one) end to end: healthy while the scheduler
works, failing at the center once kube-scheduler is paused, healthy again after, no pods left."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from kubeprobe.kube.client import KubeClient, resource_path
from kubeprobe.kube.waiting import wait_for
from kubeprobe.operator.probes import LABEL
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


async def test_scheduler_paused_makes_the_pod_scheduling_probe_fail_at_the_center(
    sandbox: Sandbox, crd: KubeClient, namespace: str, center: CenterServer, tmp_path: Path
) -> None:
    kube = crd
    interval, timeout, failures = 5.0, 4.0, 2
    op = OperatorProcess(
        sandbox.kubeconfig, center, tmp_path / "buf.db", tmp_path / "op.log", namespace=namespace
    )
    op.start()
    spec = {
        "intervalSeconds": interval,
        "timeoutSeconds": timeout,
        "failureRule": {"failures": failures, "window": 3},
        "recoveryRule": {"successes": 1},
    }
    await create_config(kube, namespace, probe_config("sched", "pod-scheduling", **spec))
    faults = Faults(sandbox)
    case = f"resident-{namespace}-sched"
    try:
        await wait_for(
            lambda: center.reports(kind="state", case=case),
            lambda r: any(x["state"] == "healthy" for x in r),
            timeout=90,
            what="pod scheduling healthy at the center",
        )
        status = (await get_config(kube, namespace, "sched"))["status"]
        assert status["state"] == "healthy"
        paused_at = time.time()
        faults.pause("kube-scheduler")
        try:
            reports = await wait_for(
                lambda: center.reports(kind="state", case=case),
                lambda r: r[0]["state"] == "failing",
                timeout=90,
                what="failing reported while the scheduler is paused",
            )
        finally:
            await faults.resume("kube-scheduler")
        failing = reports[0]
        # the scheduler's own words: no PodScheduled condition, as no scheduler looked at the pod
        assert "not scheduled after 3s: no scheduling decision" in failing["body"]["message"]
        took = dt.datetime.fromisoformat(failing["received"]).timestamp() - paused_at
        # F failed runs, each ending at its timeout, and the run in flight at the pause: a bound
        # of (F + 1) intervals + timeout, with room for a busy machine.
        assert took <= (failures + 1) * interval + timeout + 10, took
        await wait_for(
            lambda: center.reports(kind="state", case=case),
            lambda r: r[0]["state"] == "healthy",
            timeout=90,
            what="healthy again once the scheduler runs",
        )
    finally:
        await op.stop()
        await drop_finalizers(kube, namespace)
    pods = resource_path("v1", "pods", namespace)
    await wait_for(
        lambda: kube.list_all(pods, labelSelector=LABEL),
        lambda items: not items,
        timeout=60,
        what="the probe's pods deleted",
    )
