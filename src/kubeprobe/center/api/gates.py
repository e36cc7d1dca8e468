"""Routes of gates: open one for a change on a cluster (every case bound to it runs), and ask how
it stands. The pass/block rule is :mod:`kubeprobe.center.gates`'s."""

from __future__ import annotations

from fastapi import APIRouter, Request

from kubeprobe.center import gates
from kubeprobe.center.api.deps import Operator, StoreDep, Viewer, wake_dispatcher
from kubeprobe.center.errors import InvalidInputError, NotFoundError
from kubeprobe.center.schemas.gates import GateIn, GateOut, GateRun
from kubeprobe.center.store import clusters
from kubeprobe.center.store import gates as store_gates
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.pending import start_runs
from kubeprobe.center.store.targets import expand
from kubeprobe.center.triggers.targets import Target
from kubeprobe.model import Trigger

router = APIRouter(prefix="/api/v1")


@router.post("/gates", status_code=201, response_model=GateOut, tags=["gates"])
async def open_gate(body: GateIn, who: Operator, store: StoreDep, request: Request) -> GateOut:
    """Run every case bound to the cluster for this change; poll the gate for pass or block."""
    cluster_id = await clusters.cluster_id(store, body.cluster)
    if await _runs(store, body.cluster, body.change_id):
        raise InvalidInputError(f"gate {body.change_id!r} for cluster {body.cluster!r} exists already")
    by_case: dict[int, Target] = {}
    for t in await expand(store, only_cluster=cluster_id, periodic=False):
        by_case.setdefault(t.case_id, t)
    if not by_case:
        raise InvalidInputError(
            f"no cases are bound to cluster {body.cluster!r}: bind some before gating on it"
        )
    gate_targets = [
        Target(t.binding_id, t.case_id, t.cluster_id, None, None, 0.0, t.timeout, "allow")
        for t in by_case.values()
    ]
    await start_runs(store, gate_targets, Trigger.GATE, details={"gate": body.change_id})
    wake_dispatcher(request)
    return await get_gate(body.cluster, body.change_id, who, store)


async def _runs(store: Store, cluster: str, change_id: str) -> list[gates.GateRun]:
    async with store.transaction() as session:
        return await store_gates.gate_runs(session, cluster, change_id)


@router.get("/gates/{cluster}/{change_id}", response_model=GateOut, tags=["gates"])
async def get_gate(cluster: str, change_id: str, who: Viewer, store: StoreDep) -> GateOut:
    """``pending`` while any run is unfinished; ``pass`` when all succeeded; else ``block``
    (an ``error`` blocks too: a release cannot pass on a cluster whose probes could not run)."""
    runs = await _runs(store, cluster, change_id)
    if not runs:
        raise NotFoundError(f"no gate {change_id!r} for cluster {cluster!r}")
    return GateOut(
        gate=change_id,
        cluster=cluster,
        state=gates.gate_state(r.state for r in runs),
        runs=[_out(r) for r in runs],
        failing=[_out(r) for r in gates.failing(runs)],
    )


def _out(run: gates.GateRun) -> GateRun:
    return GateRun(id=run.id, case=run.case, state=run.state, messages=list(run.messages))
