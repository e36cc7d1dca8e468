"""Evidence from a real cluster, and the diagnosis of a probe failing under a fault."""

from __future__ import annotations

import datetime as dt

from kubeprobe.analysis.classifier import default_classifier
from kubeprobe.analysis.diagnosis import diagnose
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
