"""Carry out an approved remediation once: claim it (``approved → running``, a conditional
UPDATE, so one replica wins), build its action, look at the cluster's nodes, and run one attempt
under the defender, whose state the replicas share in the database. The end state (``verified``,
``failed``, ``denied``, ``precondition``, ``shadow`` ...) and what happened go back to the row."""

from __future__ import annotations

import logging
from typing import Any

from kubeprobe.center.credentials import SecretBox
from kubeprobe.center.errors import CenterError
from kubeprobe.center.store import remediations
from kubeprobe.center.store.clusters import connection_of
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.remedy import SqlDefenderStore
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.errors import KubeError
from kubeprobe.remedy.actions import ACTIONS, ActionContext
from kubeprobe.remedy.defender import Defender, DefenderSettings, Mode, Observation, Target
from kubeprobe.remedy.errors import RemedyError
from kubeprobe.remedy.execution import attempt
from kubeprobe.remedy.health import NodeHealthView

log = logging.getLogger(__name__)


async def execute(
    store: Store,
    box: SecretBox,
    rid: int,
    *,
    replica: str = "center",
    settings: DefenderSettings | None = None,
    timeout: float = 120.0,
) -> str:
    """Run remediation ``rid`` if it is approved and nobody claimed it; its end state, or
    ``not-claimed`` when another call got there first (an approval executes exactly once)."""
    async with store.transaction() as s:
        if not await remediations.transition(s, rid, "approved", "running"):
            return "not-claimed"
        rem = await remediations.get(s, rid)
    result: dict[str, Any]
    try:
        async with store.transaction() as s:
            conn = await connection_of(s, box, rem.cluster)
            fleet = await remediations.cluster_count(s)
        cls = ACTIONS.get(rem.action)
        action = cls(Target(rem.cluster, cls.kind, rem.name, rem.namespace), rem.params)
        defender = Defender(SqlDefenderStore(store), settings, replica=replica)
        async with KubeClient(conn, timeout=30) as kube:
            view = NodeHealthView()
            view.replace_all(await kube.list_all("/api/v1/nodes"))
            view.reachable = True
            done = await attempt(
                defender,
                action,
                ActionContext(kube, timeout=timeout),
                Observation(view, fleet_clusters=fleet),
                remediation=f"remediation-{rid}",
                mode=Mode(rem.mode),
                approver=rem.approver or "auto",
            )
        state = done.state
        result = {
            "plan": list(done.plan.lines()),
            "problems": list(done.problems),
            "error": done.error,
            "denials": [f"{d.code}: {d.message}" for d in (done.decision.denials if done.decision else ())],
        }
    except (KubeError, RemedyError, CenterError, ValueError, TypeError) as exc:  # bad params included
        log.warning("remediation %s on %s: %s", rid, rem.cluster, exc)
        state, result = "error", {"error": str(exc)}
    async with store.transaction() as s:
        await remediations.transition(s, rid, "running", state, result=result)
    return state
