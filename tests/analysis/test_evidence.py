"""Evidence from a real cluster, and the diagnosis of a probe failing under a fault."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

from kubeprobe.analysis.classifier import default_classifier
from kubeprobe.analysis.diagnosis import COMPONENT_RULE, diagnose
from kubeprobe.analysis.evidence import component_evidence
from kubeprobe.analysis.rules import builtin_rules
from kubeprobe.analysis.texts import FailureText
from kubeprobe.cases.execute import execute
from kubeprobe.cases.registry import builtin_registry
from kubeprobe.kube.client import KubeClient
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.faults import Faults


async def test_healthy_cluster_evidence(kube: KubeClient) -> None:
    facts = await component_evidence(kube)
    assert facts["apiserver_ready"] is True
    assert facts["etcd_healthy"] is True
    assert facts["stale_leases"] == []
    assert facts["not_ready_nodes"] == []


async def test_paused_scheduler_is_named_as_the_cause(sandbox: Sandbox, kube: KubeClient) -> None:
    faults = Faults(sandbox)
    async with faults.paused("kube-scheduler"):
        deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60)
        template = builtin_registry().get("pod-lifecycle")
        outcome = await execute(
            template,
            {"scheduled_seconds": 18},
            kube,
            run_id="rca-sched",
            cluster="sandbox",
            case="pod",
            deadline=deadline,
        )
        facts = await component_evidence(kube)
    assert outcome.state == "failed"
    assert "kube-scheduler" in facts["stale_leases"]
    steps = [s["name"] for s in outcome.body["steps"] if not s["ok"]]
    text = FailureText(steps[-1], tuple(outcome.body["messages"]))
    result = diagnose(text, default_classifier(), builtin_rules(), facts)
    assert result.cause == "scheduling.scheduler_down"
    assert result.confidence >= 0.9


async def test_paused_etcd_is_named_by_the_api_servers_own_check(sandbox: Sandbox, kube: KubeClient) -> None:
    async with Faults(sandbox).paused("etcd"):
        # The API server's own etcd check notices a paused etcd within seconds, not at once: poll.
        deadline = time.monotonic() + 30
        while True:
            start = time.monotonic()
            facts = await component_evidence(kube)
            took = time.monotonic() - start
            if facts.get("apiserver_ready") is False or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.5)
    assert facts["apiserver_ready"] is False, facts
    assert facts["etcd_healthy"] is False
    assert "etcd" in facts["readyz_failed"]
    # /readyz/etcd's 1 s decides: /readyz's two etcd checks (2 s each) are not waited out
    assert took < 2.5, took
    text = FailureText("", ("watch: timed out after 2s",))
    result = diagnose(text, default_classifier(), builtin_rules(), facts)
    assert (result.cause, result.rule) == ("etcd.unavailable", COMPONENT_RULE)


async def test_a_hung_api_server_is_told_apart_quickly(sandbox: Sandbox, kube: KubeClient) -> None:
    start = time.monotonic()
    async with Faults(sandbox).paused("kube-apiserver"):
        facts = await component_evidence(kube, timeout=4.0)
        took = time.monotonic() - start
    assert facts == {"apiserver_ready": False, "apiserver_answer": "timed out"}
    # /livez/ping's 1 s decides: /readyz's own 4 s limit is not waited out, nothing more is asked
    assert took < 3.5
