"""Carry out an approved remediation once: claim it (``approved → running``, a conditional
UPDATE, so one replica wins), build its action, look at the cluster as the defender must see it,
and run one attempt under the defender, whose state the replicas share in the database.

What the defender sees comes from the center: the cluster's nodes (health), the fleet's size, a
maintenance window in force for the cluster (a silence in ``pause`` mode matching its labels) and
a release gate on it that is pending or blocked (its latest gate, opened within
``gate_freeze_seconds``). A frozen cluster is not acted on and the audit says why.

The end state (``verified``, ``failed``, ``denied``, ``precondition``, ``shadow`` ...) and what
happened (plan, problems, the defender's reasons) go back to the row, which the incident shows.
When the action's breaker is open after the attempt, or a policy's ladder ran out without a
verified try, the incident escalates (one priority worse, ``escalated`` through its routes).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from kubeprobe.alerting.silences import paused
from kubeprobe.center.credentials import SecretBox
from kubeprobe.center.errors import CenterError
from kubeprobe.center.schemas.remedy import PreviewOut, RemediationIn, RemediationOut
from kubeprobe.center.settings import RemedySettings
from kubeprobe.center.store import incident_log, remediations, routing
from kubeprobe.center.store import silences as silence_store
from kubeprobe.center.store.clusters import connection_of, get_cluster
from kubeprobe.center.store.common import utcnow
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.gates import gate_history
from kubeprobe.center.store.remedy import SqlDefenderStore
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.errors import KubeError
from kubeprobe.remedy.actions import ACTIONS, ActionContext, RemedyAction
from kubeprobe.remedy.defender import Defender, DefenderSettings, Mode, Observation, Outcome, Target
from kubeprobe.remedy.defender.rules import bucket_key
from kubeprobe.remedy.errors import RemedyError
from kubeprobe.remedy.execution import Attempt, attempt
from kubeprobe.remedy.health import NodeHealthView
from kubeprobe.remedy.policies import PolicySet

log = logging.getLogger(__name__)

#: States after which a remediation never changes again.
TERMINAL = frozenset(
    {"verified", "failed", "unverified", "denied", "precondition", "shadow", "fenced", "error"}
)


@dataclass(frozen=True)
class Freezes:
    """What the center knows that freezes a cluster: a maintenance window, a release gate."""

    maintenance: str = ""
    gate: str = ""


async def freezes_of(store: Store, cluster: str, settings: RemedySettings) -> Freezes:
    """The maintenance window in force for ``cluster`` and its latest gate if pending or blocked."""
    now = utcnow()
    async with store.transaction() as s:
        labels = (await get_cluster(s, cluster)).labels
        windows = await silence_store.current_silences(s, now)
        gates = await gate_history(s, cluster, 1)
    window = paused(windows, {**labels, "cluster": cluster}, now)
    maintenance = f"maintenance window {window.id}: {window.comment}" if window is not None else ""
    gate = ""
    if gates and gates[0]["state"] in ("pending", "block"):
        opened: dt.datetime = gates[0]["opened"]
        if (now - opened).total_seconds() <= settings.gate_freeze_seconds:
            gate = f"release gate {gates[0]['gate']} is {gates[0]['state']}"
    return Freezes(maintenance, gate)


async def observe_cluster(
    store: Store, kube: KubeClient, cluster: str, settings: RemedySettings
) -> tuple[Observation, Freezes]:
    """The defender's view of ``cluster`` now: its nodes, the fleet's size and the freezes."""
    view = NodeHealthView()
    view.replace_all(await kube.list_all("/api/v1/nodes"))
    view.reachable = True
    async with store.transaction() as s:
        fleet = await remediations.cluster_count(s)
    frozen = await freezes_of(store, cluster, settings)
    obs = Observation(
        view, fleet_clusters=fleet, maintenance=bool(frozen.maintenance), gate_in_progress=bool(frozen.gate)
    )
    return obs, frozen


def build_action(rem: RemediationIn | RemediationOut) -> RemedyAction:
    cls = ACTIONS.get(rem.action)
    return cls(Target(rem.cluster, cls.kind, rem.name, rem.namespace), rem.params)


async def preview(
    store: Store, box: SecretBox, body: RemediationIn, settings: RemedySettings | None = None
) -> PreviewOut:
    """What ``body`` would change now and whether the defender would allow it: reads only."""
    settings = settings or RemedySettings()
    action = build_action(body)
    async with store.transaction() as s:
        conn = await connection_of(s, box, body.cluster)
    try:
        async with KubeClient(conn, timeout=30) as kube:
            ctx = ActionContext(kube)
            plan = await action.plan(ctx)
            problems = await action.preconditions(ctx)
            obs, _ = await observe_cluster(store, kube, body.cluster, settings)
    except KubeError as exc:  # the answer to "what would it do now" is: nothing, and why
        problems = [f"cluster {body.cluster} did not answer: {exc}"]
        return PreviewOut(plan=[], problems=problems, allowed=False, denials=[], counters={})
    req = action.request("preview", mode=body.mode, plan=plan.lines())
    decision = await Defender(SqlDefenderStore(store), replica="preview").preview(req, obs)
    return PreviewOut(
        plan=list(plan.lines()),
        problems=list(problems),
        allowed=decision.allowed and not problems,
        denials=[f"{d.code}: {d.message}" for d in decision.denials],
        counters=dict(decision.counters),
    )


async def execute(
    store: Store,
    box: SecretBox,
    rid: int,
    *,
    replica: str = "center",
    settings: DefenderSettings | None = None,
    remedy: RemedySettings | None = None,
    policies: PolicySet | None = None,
    timeout: float = 120.0,
) -> str:
    """Run remediation ``rid`` if it is approved and nobody claimed it; its end state, or
    ``not-claimed`` when another call got there first (an approval executes exactly once)."""
    async with store.transaction() as s:
        if not await remediations.transition(s, rid, "approved", "running"):
            return "not-claimed"
        rem = await remediations.get(s, rid)
    defender = Defender(SqlDefenderStore(store), settings, replica=replica)
    try:
        done, frozen = await _attempt(store, box, rem, defender, remedy or RemedySettings(), timeout)
        state, result = done.state, _result(done, frozen)
    except (KubeError, RemedyError, CenterError, ValueError, TypeError) as exc:  # bad params included
        log.warning("remediation %s on %s: %s", rid, rem.cluster, exc)
        state, result = "error", {"error": str(exc)}
    async with store.transaction() as s:
        await remediations.transition(s, rid, "running", state, result=result)
    if rem.incident_id is not None:
        await _maybe_escalate(store, defender, rem, state, policies)
    return state


async def _attempt(  # noqa: PLR0917 (the pieces execute holds)
    store: Store,
    box: SecretBox,
    rem: RemediationOut,
    defender: Defender,
    remedy: RemedySettings,
    timeout: float,
) -> tuple[Attempt, Freezes]:
    async with store.transaction() as s:
        conn = await connection_of(s, box, rem.cluster)
    action = build_action(rem)
    async with KubeClient(conn, timeout=30) as kube:
        obs, frozen = await observe_cluster(store, kube, rem.cluster, remedy)
        done = await attempt(
            defender,
            action,
            ActionContext(kube, timeout=timeout),
            obs,
            remediation=f"remediation-{rem.id}",
            mode=Mode(rem.mode),
            policy=rem.policy,
            policy_version=rem.policy_version,
            approver=rem.approver or "auto",
        )
    return done, frozen


def _result(done: Attempt, frozen: Freezes) -> dict[str, Any]:
    denials = [f"{d.code}: {d.message}" for d in (done.decision.denials if done.decision else ())]
    freezes = [f for f in (frozen.maintenance, frozen.gate) if f]
    return {
        "plan": list(done.plan.lines()),
        "problems": list(done.problems),
        "error": done.error,
        "denials": denials,
        "freezes": freezes,
        "allowed": bool(done.decision and done.decision.allowed),
    }


async def _maybe_escalate(
    store: Store, defender: Defender, rem: RemediationOut, state: str, policies: PolicySet | None
) -> None:
    """Escalate the incident when the action's breaker is open, or the policy's ladder ran out."""
    assert rem.incident_id is not None
    breaker = (await defender.state()).breakers.get(bucket_key(rem.action, rem.cluster))
    why = ""
    if breaker is not None and breaker.open:
        why = f"the {rem.action} breaker on {rem.cluster} is open ({breaker.reason}); a person must act"
    elif state in ("failed", "unverified") and policies is not None:
        policy = next((p for p in policies.policies if p.name == rem.policy), None)
        if policy is not None:
            async with store.transaction() as s:
                earlier = await remediations.list_remediations(
                    s, state=None, limit=1000, incident=rem.incident_id
                )
            if policy.next_step(ladder_tries(earlier, policy.name)) is None:
                why = f"policy {policy.name} tried every step of its ladder without a verified outcome"
    if not why:
        return
    async with store.transaction() as s:
        escalated = await incident_log.escalate_incident(
            s, rem.incident_id, why, await routing.route_table(s), utcnow()
        )
    if escalated:
        log.warning("incident %s escalated: %s", rem.incident_id, why)


def ladder_tries(earlier: list[RemediationOut], policy: str) -> list[tuple[int, Outcome]]:
    """(step, outcome) of the tries of ``policy`` that acted, oldest first, for ``next_step``."""
    acted = {str(o) for o in Outcome}
    ordered = sorted(earlier, key=lambda r: r.id)
    return [(r.step, Outcome(r.state)) for r in ordered if r.policy == policy and r.state in acted]
