"""Remediation actions under the defender against the sandbox (kwok nodes): a crash-looping pod
deleted once and verified, cordon + drain through PDBs and uncordon once Ready, a rollback, a
storm that stops everything and pages, a breaker that opens after K failed tries, shadow mode."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.waiting import wait_for
from kubeprobe.remedy.actions.base import ActionContext
from kubeprobe.remedy.actions.components import ControlPlaneRestartAction
from kubeprobe.remedy.actions.deployments import DeploymentRollbackAction
from kubeprobe.remedy.actions.nodes import CordonDrainAction, UncordonAction
from kubeprobe.remedy.actions.pods import PodDeleteAction
from kubeprobe.remedy.defender import (
    BreakerSettings,
    DefenderSettings,
    Mode,
    Observation,
    StormSettings,
    Target,
)
from kubeprobe.remedy.execution import attempt
from kubeprobe.remedy.health import NodeHealthView
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.faults import Faults
from tests.remedy.sandbox_helpers import (
    LOOSE,
    SandboxSupervisor,
    crash_loop,
    create_ready,
    defender,
    deployment,
    observe,
    pods_of,
    scheduler_sees_cordon,
)

CLUSTER = "sandbox"


async def test_a_crash_looping_pod_is_deleted_once_and_verified(kube: KubeClient, namespace: str) -> None:
    await create_ready(kube, namespace, deployment("web", 2))
    victim = (await pods_of(kube, namespace, "web"))[0]
    await crash_loop(kube, victim)
    d = defender()
    action = PodDeleteAction(Target(CLUSTER, "Pod", victim["metadata"]["name"], namespace))
    ctx = ActionContext(kube, timeout=60)
    result = await attempt(d, action, ctx, await observe(kube), remediation="r1", mode=Mode.AUTO)
    assert result.state == "verified", result
    uids = {p["metadata"]["uid"] for p in await pods_of(kube, namespace, "web")}
    assert victim["metadata"]["uid"] not in uids
    assert len(uids) == 2
    again = await attempt(
        d, action, ActionContext(kube), await observe(kube), remediation="r1", mode=Mode.AUTO
    )
    assert again.state == "precondition"  # the pod is gone: nothing is deleted twice
    granted = [r for r in await d.store.audit() if r.outcome == "granted"]
    assert len(granted) == 1
    assert granted[0].plan[0].startswith(f"delete pod {namespace}/{victim['metadata']['name']}")


async def test_shadow_mode_records_what_it_would_do_and_acts_on_nothing(
    kube: KubeClient, namespace: str
) -> None:
    await create_ready(kube, namespace, deployment("web", 1))
    victim = (await pods_of(kube, namespace, "web"))[0]
    await crash_loop(kube, victim)
    d = defender()
    action = PodDeleteAction(Target(CLUSTER, "Pod", victim["metadata"]["name"], namespace))
    result = await attempt(
        d, action, ActionContext(kube), await observe(kube), remediation="r", mode=Mode.SHADOW
    )
    assert result.state == "shadow"
    assert result.decision is not None
    assert result.decision.allowed  # it would have acted
    assert [p["metadata"]["uid"] for p in await pods_of(kube, namespace, "web")] == [
        victim["metadata"]["uid"]
    ]
    [record] = await d.store.audit()
    assert record.outcome == "dry"
    assert record.mode == "shadow"
    assert "delete pod" in record.plan[0]
    assert not (await d.state()).slots


async def test_a_rollout_that_broke_is_rolled_back(kube: KubeClient, namespace: str) -> None:
    path = f"/apis/apps/v1/namespaces/{namespace}/deployments/app"
    await create_ready(kube, namespace, deployment("app", 2))
    broken = {"nodeSelector": {"kubeprobe.io/no-such-node": "x"}}
    await kube.patch(path, {"spec": {"template": {"spec": broken}}})
    action = DeploymentRollbackAction(Target(CLUSTER, "Deployment", "app", namespace))
    ctx = ActionContext(kube, timeout=60)
    await wait_for(lambda: action.revisions(ctx), lambda r: len(r[1]) == 2, timeout=30, what="two revisions")
    plan = await action.plan(ctx)
    assert "from revision 2" in plan.changes[0]
    assert "back to revision 1" in plan.changes[0]
    result = await attempt(defender(), action, ctx, await observe(kube), remediation="r", mode=Mode.AUTO)
    assert result.state == "verified", result
    dep = await kube.get(path)
    assert "nodeSelector" not in dep["spec"]["template"]["spec"]


async def test_a_fault_the_action_cannot_fix_opens_the_breaker_after_k_tries(
    kube: KubeClient, namespace: str
) -> None:
    nodes = [n["metadata"]["name"] for n in await kube.list_all("/api/v1/nodes")]
    pin = {"nodeSelector": {"kubernetes.io/hostname": nodes[0]}}
    await create_ready(kube, namespace, deployment("pinned", 1, template_spec=pin))
    d = defender(
        DefenderSettings(caps=LOOSE.caps, rates=LOOSE.rates, breaker=BreakerSettings(consecutive_failures=2))
    )
    params = {"require_trouble": False}
    try:
        await kube.patch(f"/api/v1/nodes/{nodes[0]}", {"spec": {"unschedulable": True}})
        await scheduler_sees_cordon(kube, namespace, pin)
        states = []
        for _ in range(3):
            pods = await pods_of(kube, namespace, "pinned")
            action = PodDeleteAction(Target(CLUSTER, "Pod", pods[0]["metadata"]["name"], namespace), params)
            result = await attempt(
                d,
                action,
                ActionContext(kube, timeout=3),
                await observe(kube),
                remediation="stuck",
                mode=Mode.AUTO,
            )
            states.append(result.state)
        assert states == ["failed", "failed", "denied"]
        assert result.decision is not None
        assert result.decision.codes == ("breaker.open",)
        assert "breaker-open" in [r.event for r in await d.store.audit()]
    finally:
        await kube.patch(f"/api/v1/nodes/{nodes[0]}", {"spec": {"unschedulable": None}})


async def test_a_not_ready_node_is_drained_through_its_pdb_and_uncordoned_when_ready(
    sandbox: Sandbox, kube: KubeClient, namespace: str
) -> None:
    node = (await kube.list_all("/api/v1/nodes"))[1]["metadata"]["name"]
    prefer = {
        "affinity": {
            "nodeAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "preference": {
                            "matchExpressions": [
                                {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}
                            ]
                        },
                    }
                ]
            }
        }
    }
    await create_ready(kube, namespace, deployment("svc", 2, template_spec=prefer))
    await kube.create(
        f"/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets",
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "svc"},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "svc"}}},
        },
    )
    # one node of the fixture's three is a third of the cluster: above the default storm share (0.3)
    wide = DefenderSettings(caps=LOOSE.caps, rates=LOOSE.rates, storm=StormSettings(node_share=0.5))
    faults, d = Faults(sandbox), defender(wide)
    target = Target(CLUSTER, "Node", node)
    try:
        await faults.node_not_ready(node)
        drain = CordonDrainAction(target)
        ctx = ActionContext(kube, timeout=90)
        result = await attempt(d, drain, ctx, await observe(kube), remediation="n1", mode=Mode.AUTO)
        assert result.state == "verified", result
        assert not [p for p in await pods_of(kube, namespace, "svc") if p["spec"].get("nodeName") == node]
        uncordon = UncordonAction(target)
        early = await attempt(
            d, uncordon, ActionContext(kube), await observe(kube), remediation="n1", mode=Mode.AUTO
        )
        assert early.state == "precondition"
        assert "not Ready" in early.problems[0]
        await faults.node_ready(node)
        done = await attempt(
            d,
            uncordon,
            ActionContext(kube, timeout=30),
            await observe(kube),
            remediation="n1",
            mode=Mode.AUTO,
        )
        assert done.state == "verified", done
        assert not (await kube.get(f"/api/v1/nodes/{node}"))["spec"].get("unschedulable")
    finally:
        with contextlib.suppress(Exception):
            await faults.node_ready(node)
        await kube.patch(f"/api/v1/nodes/{node}", {"spec": {"unschedulable": None}})


async def test_drain_waits_for_a_pdb_that_allows_no_disruption(kube: KubeClient, namespace: str) -> None:
    node = (await kube.list_all("/api/v1/nodes"))[2]["metadata"]["name"]
    pin = {"nodeSelector": {"kubernetes.io/hostname": node}}
    await create_ready(kube, namespace, deployment("db", 1, template_spec=pin))
    await kube.create(
        f"/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets",
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "db"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "db"}}},
        },
    )
    drain = CordonDrainAction(Target(CLUSTER, "Node", node))
    ctx = ActionContext(kube, timeout=5)
    try:
        await wait_for(lambda: drain.plan(ctx), lambda p: bool(p.warnings), timeout=30, what="PDB status")
        result = await attempt(defender(), drain, ctx, await observe(kube), remediation="n2", mode=Mode.AUTO)
        assert result.state == "failed"
        assert "still not evicted" in result.error
        assert len(await pods_of(kube, namespace, "db")) == 1  # the PDB held
    finally:
        await drain.undo(ActionContext(kube))


@pytest.mark.usefixtures("namespace")
async def test_half_the_nodes_not_ready_is_a_storm_no_action_and_a_p1_page(
    sandbox: Sandbox, kube: KubeClient
) -> None:
    names = [n["metadata"]["name"] for n in await kube.list_all("/api/v1/nodes")]
    half = names[: len(names) // 2]
    view = NodeHealthView()
    follower = asyncio.create_task(view.follow(kube))
    faults, d = Faults(sandbox), defender()
    try:
        await asyncio.gather(*(faults.node_not_ready(n) for n in half))
        await wait_for(
            lambda: asyncio.sleep(0, view.unhealthy_count()),
            lambda n: n >= len(half),
            timeout=30,
            what="the watch sees the NotReady nodes",
        )
        drain = CordonDrainAction(Target(CLUSTER, "Node", half[0]))
        result = await attempt(
            d, drain, ActionContext(kube), Observation(view), remediation="s", mode=Mode.AUTO
        )
        assert result.state == "denied"
        assert result.decision is not None
        assert "storm.share" in result.decision.codes
        assert [(p.priority, p.scope) for p in result.decision.pages] == [("P1", f"cluster:{CLUSTER}")]
        assert "storm" in [r.event for r in await d.store.audit()]
        assert not (await kube.get(f"/api/v1/nodes/{half[0]}"))["spec"].get("unschedulable")
    finally:
        follower.cancel()
        await asyncio.gather(*(faults.node_ready(n) for n in half), return_exceptions=True)


async def test_a_stalled_scheduler_is_restarted_through_the_supervisor(
    sandbox: Sandbox, kube: KubeClient
) -> None:
    supervisor = SandboxSupervisor(sandbox)
    action = ControlPlaneRestartAction(Target(CLUSTER, "Component", "kube-scheduler"))
    ctx = ActionContext(kube, timeout=60, supervisor=supervisor)
    d = defender()
    healthy = await attempt(d, action, ctx, await observe(kube), remediation="cp", mode=Mode.AUTO)
    assert healthy.state == "precondition"  # a healthy component is left alone
    sandbox.pause("kube-scheduler")
    try:
        result = await attempt(d, action, ctx, await observe(kube), remediation="cp", mode=Mode.AUTO)
        assert result.state == "verified", result
        assert result.decision is not None
        assert result.decision.counters["control_plane_cluster"] == 1
    finally:
        sandbox.resume("kube-scheduler")
        await sandbox.wait_ready()
