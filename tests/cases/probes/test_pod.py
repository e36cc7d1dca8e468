"""Pod lifecycle probe: passes on a healthy sandbox, fails naming the step and the cluster's reason."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.config import ClusterConnection
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.faults import Faults
from tests.cases.probes.conftest import RunProbe
from tests.sdk.reportserver import report_server

RUN_LABEL = "kubeprobe.io/run-id"


async def test_healthy_cluster_passes_every_step(run_probe: RunProbe, kube: KubeClient) -> None:
    outcome = await run_probe("pod-lifecycle")
    assert outcome.state == "succeeded", outcome.body["messages"]
    assert [s["name"] for s in outcome.body["steps"]] == ["create", "scheduled", "running", "delete"]
    assert all(s["ok"] for s in outcome.body["steps"])
    left = await kube.list_all("/api/v1/namespaces/kubeprobe-system/pods", labelSelector=RUN_LABEL)
    assert left == []


async def test_scheduler_paused_fails_at_scheduled(run_probe: RunProbe, sandbox: Sandbox) -> None:
    faults = Faults(sandbox)
    async with faults.paused("kube-scheduler"):
        outcome = await run_probe("pod-lifecycle", {"scheduled_seconds": 2})
    assert outcome.state == "failed"
    (message,) = outcome.body["messages"]
    assert message.startswith("pod-lifecycle probe failed at scheduled: pod kp-pod-")
    assert "not scheduled after 2s" in message
    assert (await run_probe("pod-lifecycle")).state == "succeeded"


async def test_untolerated_taint_is_named(run_probe: RunProbe, sandbox: Sandbox, add_nodes) -> None:  # type: ignore[no-untyped-def]
    (node,) = await add_nodes(1)
    faults = Faults(sandbox)
    await faults.taint(node, "dedicated", "infra", "NoSchedule")
    try:
        outcome = await run_probe(
            "pod-lifecycle", {"scheduled_seconds": 3, "node_selector": {"kubernetes.io/hostname": node}}
        )
    finally:
        await faults.untaint(node, "dedicated")
    assert outcome.state == "failed"
    assert "1 node(s) had untolerated taint" in outcome.body["messages"][0]


async def test_failing_webhook_fails_at_create_with_its_message(
    run_probe: RunProbe, sandbox: Sandbox
) -> None:
    faults = Faults(sandbox)
    await faults.failing_webhook("kubeprobe-system", timeout_seconds=2)
    try:
        outcome = await run_probe("pod-lifecycle")
    finally:
        await faults.remove_failing_webhook()
    assert outcome.state == "failed"
    message = outcome.body["messages"][0]
    assert message.startswith("pod-lifecycle probe failed at create: pod kp-pod-")
    assert "failed calling webhook" in message


async def test_kwok_paused_fails_at_running(run_probe: RunProbe, sandbox: Sandbox) -> None:
    faults = Faults(sandbox)
    async with faults.paused("kwok"):
        outcome = await run_probe("pod-lifecycle", {"running_seconds": 2})
    assert outcome.state == "failed"
    assert "failed at running" in outcome.body["messages"][0]
    assert "not running after 2s on node kwok-node-" in outcome.body["messages"][0]


async def test_unreachable_cluster_is_an_error_not_a_failure(run_probe: RunProbe) -> None:
    dead = ClusterConnection(server="https://127.0.0.1:1", context="dead", insecure_skip_tls_verify=True)
    async with KubeClient(dead, timeout=2) as client:
        outcome = await run_probe("pod-lifecycle", client=client)
    assert outcome.state == "error"
    assert "could not run pod-lifecycle on cluster sandbox" in outcome.body["messages"][0]


async def test_bad_parameters_are_an_error(run_probe: RunProbe) -> None:
    outcome = await run_probe("pod-lifecycle", {"scheduled_seconds": -1})
    assert outcome.state == "error"
    assert "scheduled_seconds" in outcome.body["messages"][0]


def test_entry_point_runs_under_the_contract_and_reports(sandbox: Sandbox, tmp_path: Path) -> None:
    with report_server() as got:
        env = {
            **os.environ,
            "KUBECONFIG": str(sandbox.kubeconfig),
            "KUBEPROBE_RUN_ID": "entry-1",
            "KUBEPROBE_REPORT_URL": got.url,
            "KUBEPROBE_REPORT_TOKEN": "t0k",
            "KUBEPROBE_DEADLINE": "2099-01-01T00:00:00Z",
            "KUBEPROBE_CLUSTER": "sandbox",
            "KUBEPROBE_CASE": "pod-default",
            "RUNNING_SECONDS": "30",
        }
        proc = subprocess.run(
            [sys.executable, "-m", "kubeprobe.cases", "pod-lifecycle"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr
    (report,) = got.reports
    assert report["ok"] is True
    assert [s["name"] for s in report["steps"]] == ["create", "scheduled", "running", "delete"]
