"""API server probe: CRUD, list and watch latency on a healthy sandbox; etcd paused is a named timeout."""

from __future__ import annotations

from kubeprobe.kube.client import KubeClient
from kubeprobe.sandbox.cluster import Sandbox
from tests.cases.probes.conftest import RunProbe, assert_nothing_left, etcd_paused_during_run, new_run_id


async def test_healthy_apiserver_passes_with_latencies(run_probe: RunProbe, kube: KubeClient) -> None:
    run_id = new_run_id()
    outcome = await run_probe("apiserver-probe", run_id=run_id)
    assert outcome.state == "succeeded", outcome.body["messages"]
    assert [s["name"] for s in outcome.body["steps"]] == [
        "create",
        "read",
        "update",
        "list",
        "watch",
        "delete",
        "latency",
    ]
    metrics = outcome.body["metrics"]
    assert metrics["throttled_429_count"] == 0
    assert metrics["server_error_5xx_count"] == 0
    assert metrics["watch_latency_ms"] > 0
    assert metrics["list_latency_ms"] > 0
    await assert_nothing_left(kube, run_id)


async def test_etcd_paused_fails_at_create_with_a_timeout(
    run_probe: RunProbe, sandbox: Sandbox, kube: KubeClient
) -> None:
    run_id = new_run_id()
    async with etcd_paused_during_run(sandbox) as client:
        outcome = await run_probe(
            "apiserver-probe", {"request_timeout_seconds": 2}, client=client, run_id=run_id
        )
    assert outcome.state == "failed", outcome.body["messages"]
    (message,) = outcome.body["messages"]
    assert message.startswith("apiserver-probe probe failed at create: create configmap kp-api-")
    assert "no answer within 2s" in message
    await assert_nothing_left(kube, run_id)
    assert (await run_probe("apiserver-probe")).state == "succeeded"
