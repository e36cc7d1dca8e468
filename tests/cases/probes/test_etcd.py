"""etcd probe: passes against the sandbox's etcd with metrics per operation; etcd paused is a deadline."""

from __future__ import annotations

from kubeprobe.sandbox.cluster import Sandbox
from tests.cases.probes.conftest import RunProbe, etcd_paused_during_run


def etcd_params(sandbox: Sandbox, **extra: object) -> dict[str, object]:
    return {"endpoint": f"http://127.0.0.1:{sandbox.ports.etcd}", **extra}


async def test_healthy_etcd_passes_with_metrics_per_operation(run_probe: RunProbe, sandbox: Sandbox) -> None:
    outcome = await run_probe("etcd-probe", etcd_params(sandbox, rounds=5))
    assert outcome.state == "succeeded", outcome.body["messages"]
    metrics = outcome.body["metrics"]
    for op in ("put", "get", "txn", "delete"):
        assert metrics[f"{op}_success_ratio"] == 1.0
        assert metrics[f"{op}_latency_ms_max"] > 0


async def test_etcd_paused_fails_with_deadline_exceeded(run_probe: RunProbe, sandbox: Sandbox) -> None:
    async with etcd_paused_during_run(sandbox) as client:
        outcome = await run_probe("etcd-probe", etcd_params(sandbox, op_timeout_seconds=1), client=client)
    assert outcome.state == "failed", outcome.body["messages"]
    (message,) = outcome.body["messages"]
    assert message.startswith(
        f"etcd-probe probe failed at operations: etcd at http://127.0.0.1:{sandbox.ports.etcd}"
    )
    assert "put 0/3 ok" in message
    assert "context deadline exceeded" in message
    assert outcome.body["metrics"]["put_success_ratio"] == 0
    assert (await run_probe("etcd-probe", etcd_params(sandbox))).state == "succeeded"


async def test_latency_above_threshold_fails(run_probe: RunProbe, sandbox: Sandbox) -> None:
    outcome = await run_probe("etcd-probe", etcd_params(sandbox, latency_threshold_ms=0.001))
    assert outcome.state == "failed"
    assert "failed at latency: etcd at http://" in outcome.body["messages"][0]
    assert "threshold 0.001ms" in outcome.body["messages"][0]


async def test_missing_tls_material_is_an_error_not_a_failure(run_probe: RunProbe) -> None:
    outcome = await run_probe("etcd-probe", {"endpoint": "https://127.0.0.1:2379", "ca_file": "/nope/ca.crt"})
    assert outcome.state == "error"
    assert "cannot load TLS material" in outcome.body["messages"][0]
