"""Self-healing closes the loop against the sandbox: a self-heal verdict becomes a remediation by
policy (approval waits, auto runs), an approve through the API runs it through the defender, the
outcome is on the incident; a maintenance window freezes the cluster (the audit says why); a fault
the action cannot fix opens the breaker and the incident escalates through its routes."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from kubeprobe.alerting.signals import Outcome
from kubeprobe.center.credentials import SecretBox
from kubeprobe.center.schemas.alerting import ReceiverIn, RouteIn
from kubeprobe.center.services.alerting import IncidentService
from kubeprobe.center.services.self_healing import SelfHealing
from kubeprobe.center.store import remediations, routing
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.remedy import SqlDefenderStore
from kubeprobe.center.store.tables.alerting import DeliveryRow
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.waiting import wait_for
from kubeprobe.remedy.defender import BreakerSettings, DefenderSettings
from kubeprobe.remedy.policies import load_policies
from kubeprobe.sandbox.cluster import Sandbox
from tests.alerting.helpers import signal
from tests.center.api.test_remedy import TERMINAL
from tests.center.conftest import ADMIN, CenterApp
from tests.center.helpers import TEMPLATE, ok
from tests.remedy.sandbox_helpers import (
    LOOSE,
    crash_loop,
    crash_looping_pod,
    create_ready,
    deployment,
    pods_of,
    scheduler_sees_cordon,
)


def policy(mode: str, namespace: str, app: str, timeout: float = 60, tries: int = 2) -> str:
    return f"""
name: crash-loop
version: 2
cause: runtime.crash
mode: {mode}
ladder:
  - action: pod-delete
    timeout_seconds: {timeout}
    max_tries: {tries}
    params: {{namespace: {namespace}, selector: app={app}}}
"""


def failure(**extra: Any) -> Any:
    now = dt.datetime.now(dt.UTC)
    values: dict[str, Any] = {"cause": "runtime.crash", "action": "self-heal", "priority": "P3", "at": now}
    values["started"] = now - dt.timedelta(seconds=5)
    values.update(extra)
    return signal("sandbox", "web-probe", **values)


async def setup(
    center: CenterApp, sandbox: Sandbox, store: Store, box: SecretBox, text: str, **kw: Any
) -> SelfHealing:
    admin = center.client()
    body = {"name": "sandbox", "kubeconfig": sandbox.kubeconfig.read_text()}
    await ok(await admin.post("/api/v1/clusters", json=body), 201)
    healing = SelfHealing(store, box, IncidentService(store, box), policies=load_policies(text), **kw)
    center.app.state.self_healing = healing  # the API's approvals run through it
    return healing


async def finished(center: CenterApp, incident: int) -> dict[str, Any]:
    client = center.client()

    async def look() -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = await ok(
            await client.get("/api/v1/remediations", params={"incident": incident})
        )
        return got

    found = await wait_for(look, lambda rs: bool(rs) and rs[0]["state"] in TERMINAL, timeout=90, what="done")
    return found[0]


async def test_a_self_heal_verdict_is_proposed_approved_once_verified_and_told_on_the_incident(  # noqa: PLR0917 (fixtures)
    center_app: CenterApp, store: Store, box: SecretBox, sandbox: Sandbox, kube: KubeClient, namespace: str
) -> None:
    healing = await setup(
        center_app, sandbox, store, box, policy("approval", namespace, "web"), defender=LOOSE
    )
    victim = await crash_looping_pod(kube, namespace, "web", 2)
    incident = await healing.observe(failure())
    assert incident is not None
    await healing.observe(failure(run_id="second"))  # one remediation per incident at a time
    admin = center_app.client()
    [rem] = await ok(await admin.get("/api/v1/remediations", params={"incident": incident}))
    assert rem["state"] == "awaiting-approval"
    assert (rem["action"], rem["namespace"], rem["name"]) == (
        "pod-delete",
        namespace,
        victim["metadata"]["name"],
    )
    assert (rem["policy"], rem["policy_version"], rem["proposed_by"]) == (
        "crash-loop",
        2,
        "policy:crash-loop",
    )
    assert rem["params"] == {}  # the target's keys choose the pod; they are not the action's
    approved = await ok(await admin.post(f"/api/v1/remediations/{rem['id']}/approve"))
    assert approved["changed"] is True
    done = await finished(center_app, incident)
    assert done["state"] == "verified", done
    again = await ok(await admin.post(f"/api/v1/remediations/{rem['id']}/approve"))
    assert again["changed"] is False
    assert victim["metadata"]["uid"] not in {
        p["metadata"]["uid"] for p in await pods_of(kube, namespace, "web")
    }
    detail = await ok(await admin.get(f"/api/v1/incidents/{incident}"))
    assert [(r["action"], r["state"], r["policy"]) for r in detail["remediations"]] == [
        ("pod-delete", "verified", "crash-loop")
    ]
    audit = await SqlDefenderStore(store).audit()
    decisions = [r for r in audit if r.event == "decision" and r.outcome == "granted"]
    assert [(r.policy, r.policy_version, r.approver) for r in decisions] == [("crash-loop", 2, "admin")]
    now = dt.datetime.now(dt.UTC)
    await healing.observe(failure(outcome=Outcome.PASSED, run_id="green", at=now, started=now))
    assert (await ok(await admin.get(f"/api/v1/incidents/{incident}")))["state"] == "resolved"


async def test_a_cluster_in_a_maintenance_window_is_not_acted_on_and_the_audit_says_why(  # noqa: PLR0917 (fixtures)
    center_app: CenterApp, store: Store, box: SecretBox, sandbox: Sandbox, kube: KubeClient, namespace: str
) -> None:
    healing = await setup(center_app, sandbox, store, box, policy("auto", namespace, "maint"), defender=LOOSE)
    admin = center_app.client()
    ends = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    window = {"matchers": ["cluster=sandbox"], "mode": "pause", "ends": ends, "comment": "kernel upgrade"}
    await ok(await admin.post("/api/v1/silences", json=window), 201)
    victim = await crash_looping_pod(kube, namespace, "maint")
    incident = await healing.observe(failure())
    assert incident is not None
    done = await finished(center_app, incident)
    assert done["state"] == "denied", done
    assert any(d.startswith("freeze.maintenance") for d in done["result"]["denials"])
    assert "kernel upgrade" in done["result"]["freezes"][0]
    assert victim["metadata"]["uid"] in {
        p["metadata"]["uid"] for p in await pods_of(kube, namespace, "maint")
    }
    audit = [r for r in await SqlDefenderStore(store).audit() if r.event == "decision"]
    assert audit[-1].outcome == "denied"
    assert any("maintenance window" in d for d in audit[-1].denials)
    detail = await ok(await admin.get(f"/api/v1/incidents/{incident}"))
    assert "freeze.maintenance" in detail["remediations"][0]["reason"]


@pytest.mark.parametrize(
    ("failures", "tries", "why"),
    [
        (1, 2, "the pod-delete breaker on sandbox is open"),
        (5, 1, "policy crash-loop tried every step of its ladder without a verified outcome"),
    ],
    ids=["breaker", "ladder"],
)
async def test_a_fault_the_action_cannot_fix_escalates_the_incident(  # noqa: PLR0917 (fixtures)
    center_app: CenterApp,
    store: Store,
    box: SecretBox,
    sandbox: Sandbox,
    kube: KubeClient,
    namespace: str,
    failures: int,
    tries: int,
    why: str,
) -> None:
    """The breaker opens after ``failures`` failed tries, or the ladder runs out after ``tries``."""
    strict = DefenderSettings(
        caps=LOOSE.caps, rates=LOOSE.rates, breaker=BreakerSettings(consecutive_failures=failures)
    )
    text = policy("auto", namespace, "pinned", timeout=3, tries=tries)
    healing = await setup(center_app, sandbox, store, box, text, defender=strict)
    async with store.transaction() as s:
        hook = ReceiverIn(name="hook", kind="webhook", secrets={"url": "http://127.0.0.1:9/hook"})
        await routing.put_receiver(s, box, hook, ADMIN, create=True)
        await routing.put_route(
            s, RouteIn(name="all", receivers=["hook"], is_default=True), ADMIN, create=True
        )
    node = (await kube.list_all("/api/v1/nodes"))[0]["metadata"]["name"]
    pin = {"nodeSelector": {"kubernetes.io/hostname": node}}
    await create_ready(kube, namespace, deployment("pinned", 1, template_spec=pin))
    victim = (await pods_of(kube, namespace, "pinned"))[0]
    await crash_loop(kube, victim)
    await kube.patch(f"/api/v1/nodes/{node}", {"spec": {"unschedulable": True}})
    try:
        await scheduler_sees_cordon(kube, namespace, pin)
        incident = await healing.observe(failure())
        assert incident is not None
        done = await finished(center_app, incident)
    finally:
        await kube.patch(f"/api/v1/nodes/{node}", {"spec": {"unschedulable": None}})
    assert done["state"] == "failed", done

    async def incident_now() -> dict[str, Any]:
        got: dict[str, Any] = await ok(await center_app.client().get(f"/api/v1/incidents/{incident}"))
        return got

    # escalated right after the outcome is written: one worse than the P3 it opened with
    detail = await wait_for(incident_now, lambda i: i["priority"] == "P2", timeout=30, what="escalated")
    assert why in detail["reason"]
    async with store.transaction() as s:
        events = [d.event for d in (await s.execute(select(DeliveryRow).order_by(DeliveryRow.id))).scalars()]
    assert events == ["firing", "escalated"]
    opened = "breaker-open" in [r.event for r in await SqlDefenderStore(store).audit()]
    assert opened == (failures == 1)
    await crash_loop(kube, (await pods_of(kube, namespace, "pinned"))[0])  # its replacement, troubled too
    assert (
        await healing.propose_for(failure(run_id="later"), incident) is None
    )  # breaker open, or ladder spent


async def test_a_cluster_with_a_release_gate_in_progress_is_not_acted_on(  # noqa: PLR0917 (fixtures)
    center_app: CenterApp, store: Store, box: SecretBox, sandbox: Sandbox, kube: KubeClient, namespace: str
) -> None:
    healing = await setup(center_app, sandbox, store, box, policy("auto", namespace, "gated"), defender=LOOSE)
    admin = center_app.client()
    await ok(await admin.post("/api/v1/templates", json=TEMPLATE), 201)
    await ok(await admin.post("/api/v1/cases", json={"name": "pod", "template": "pod-lifecycle"}), 201)
    binding = {"name": "on-release", "case": "pod", "cluster": "sandbox", "events": ["release"]}
    await ok(await admin.post("/api/v1/bindings", json=binding), 201)
    await ok(await admin.post("/api/v1/gates", json={"cluster": "sandbox", "change_id": "rel-7"}), 201)
    victim = await crash_looping_pod(kube, namespace, "gated")  # the gate's run stays pending: no dispatcher
    incident = await healing.observe(failure())
    assert incident is not None
    done = await finished(center_app, incident)
    assert done["state"] == "denied", done
    assert [d.split(":")[0] for d in done["result"]["denials"]] == ["freeze.gate"]
    assert done["result"]["freezes"] == ["release gate rel-7 is pending"]
    assert victim["metadata"]["uid"] in {
        p["metadata"]["uid"] for p in await pods_of(kube, namespace, "gated")
    }


async def test_targets_come_from_the_failure_or_the_policy(box: SecretBox) -> None:
    text = """
- name: nodes
  cause: node.not_ready
  ladder: [{action: node-drain}]
- name: fixed
  cause: controller.stalled
  ladder: [{action: deployment-rollback, params: {target: {name: web, namespace: shop}}}]
"""
    policies = load_policies(text)
    healing = SelfHealing(Store.connect("sqlite+aiosqlite://"), box, policies=policies)
    facts = {"facts": {"not_ready_nodes": ["n7", "n9"]}}
    drain, rollback = (p.ladder[0] for p in policies.policies)
    assert await healing._target(failure(cause="node.not_ready", evidence=facts), drain) == ("", "n7")
    assert await healing._target(failure(cause="node.not_ready", evidence={}), drain) is None
    assert await healing._target(failure(cause="controller.stalled"), rollback) == ("shop", "web")


async def test_replicas_proposing_for_one_incident_at_once_propose_once(store: Store, box: SecretBox) -> None:
    text = "name: nodes\ncause: node.not_ready\nmode: approval\nladder: [{action: node-drain}]"
    incidents = IncidentService(store, box)
    sig = failure(cause="node.not_ready", evidence={"facts": {"not_ready_nodes": ["n7"]}})
    incident = await incidents.observe(sig)
    assert incident is not None
    replicas = [SelfHealing(store, box, incidents, policies=load_policies(text), replica=r) for r in "abc"]
    got = await asyncio.gather(*(h.propose_for(sig, incident) for h in replicas for _ in range(2)))
    assert len([g for g in got if g is not None]) == 1, got
    async with store.transaction() as s:
        rows = await remediations.list_remediations(s, state=None, limit=10, incident=incident)
    assert [(r.action, r.name, r.state) for r in rows] == [("node-drain", "n7", "awaiting-approval")]


async def test_the_policies_in_force_are_listed_in_order(
    center_app: CenterApp, store: Store, box: SecretBox
) -> None:
    text = """
- name: nodes
  version: 4
  cause: node.not_ready
  mode: auto
  ladder:
    - {action: node-drain, on_verified: next}
    - {action: restart-node-component, params: {component: kubelet}, on_verified: next}
    - {action: node-uncordon}
- name: crash
  cause: runtime.crash
  ladder: [{action: pod-delete}]
"""
    center_app.app.state.self_healing = SelfHealing(store, box, policies=load_policies(text))
    got = await ok(await center_app.client().get("/api/v1/remedy/policies"))
    assert [(p["name"], p["version"], p["mode"]) for p in got] == [
        ("nodes", 4, "auto"),
        ("crash", 1, "shadow"),
    ]
    assert [(s["action"], s["on_verified"]) for s in got[0]["ladder"]] == [
        ("node-drain", "next"),
        ("restart-node-component", "next"),
        ("node-uncordon", "stop"),
    ]
