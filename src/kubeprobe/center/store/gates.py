"""Gates in the store: a gate's runs (trigger ``gate``, the change id in the run's details) and the
history of gates. The pass/block rule is :mod:`kubeprobe.center.gates`'s."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kubeprobe.center.gates import GateRun, gate_state
from kubeprobe.center.store.common import aware, by_name
from kubeprobe.center.store.tables import Case, Cluster, Run
from kubeprobe.model import Trigger


async def gate_runs(session: AsyncSession, cluster: str, change_id: str) -> list[GateRun]:
    """The runs of the gate for ``change_id`` on ``cluster``, oldest first (empty: no such gate)."""
    cluster_row = await by_name(session, Cluster, cluster, "cluster", field="cluster")
    rows = await session.execute(
        select(Run, Case.name)
        .join(Case, Case.id == Run.case_id)
        .where(Run.cluster_id == cluster_row.id, Run.trigger == str(Trigger.GATE))
        .order_by(Run.created)
    )
    return [
        GateRun(r.id, name, r.state, tuple(r.messages or []))
        for r, name in rows.all()
        if (r.details or {}).get("gate") == change_id
    ]


async def gate_history(session: AsyncSession, cluster: str | None, limit: int) -> list[dict[str, Any]]:
    """Gates newest first: runs with the gate trigger grouped by cluster and change id."""
    query = (
        select(
            Run.id, Run.state, Run.created, Run.finished, Run.details, Run.messages, Case.name, Cluster.name
        )
        .join(Case, Case.id == Run.case_id)
        .join(Cluster, Cluster.id == Run.cluster_id)
        .where(Run.trigger == str(Trigger.GATE))
        .order_by(Run.created.desc())
        .limit(limit * 50)
    )
    if cluster:
        query = query.where(
            Cluster.id == (await by_name(session, Cluster, cluster, "cluster", field="cluster")).id
        )
    gates: dict[tuple[str, str], dict[str, Any]] = {}
    for run_id, state, created, finished, details, messages, case, cluster_name in await session.execute(
        query
    ):
        change = str((details or {}).get("gate", ""))
        gate = gates.get((cluster_name, change))
        if gate is None:
            if len(gates) >= limit:
                continue
            gate = gates[(cluster_name, change)] = {
                "gate": change,
                "cluster": cluster_name,
                "opened": aware(created),
                "finished": None,
                "runs": [],
            }
        gate["opened"] = min(gate["opened"], aware(created))
        if finished is not None:
            gate["finished"] = max(gate["finished"] or aware(finished), aware(finished))
        gate["runs"].append({"id": run_id, "case": case, "state": state, "messages": list(messages or [])})
    for gate in gates.values():
        gate["state"] = gate_state(r["state"] for r in gate["runs"])
        if gate["state"] == "pending":
            gate["finished"] = None
    return sorted(gates.values(), key=_opened, reverse=True)


def _opened(gate: dict[str, Any]) -> dt.datetime:
    opened: dt.datetime = gate["opened"]
    return opened
