"""Silence is not health, in the center: a binding starved of runs, a cluster that stops
answering (its runs end in `error`) and a resident probe whose operator stops reporting each open
one staleness incident within two intervals, named as such, and resolve when reports come again."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from typing import Any

import httpx
from sqlalchemy import select

from kubeprobe.center.credentials import SecretBox
from kubeprobe.center.services.alerting import IncidentService
from kubeprobe.center.services.staleness import StalenessService
from kubeprobe.center.settings import StalenessSettings
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.tables import Case, Cluster, Run
from tests.center.conftest import CenterApp
from tests.center.helpers import ok, result, seed

T0 = dt.datetime.now(dt.UTC).replace(microsecond=0)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


async def _setup(
    center_app: CenterApp, store: Store, box: SecretBox
) -> tuple[httpx.AsyncClient, Clock, StalenessService]:
    admin = center_app.client("kp_test-admin-token")
    await seed(admin)
    await ok(await admin.post("/api/v1/groups", json={"name": "prod", "selector": {"env": "prod"}}), 201)
    body = {"name": "basic-prod", "suite": "basic", "group": "prod", "interval_seconds": 60}
    await ok(await admin.post("/api/v1/bindings", json=body), 201)
    clock = Clock()
    service = StalenessService(store, IncidentService(store, box), StalenessSettings(), clock=clock)
    return admin, clock, service


async def _post(admin: httpx.AsyncClient, state: str, at: dt.datetime) -> None:
    batch = [result(case, "c0", state, at, ms=10) for case in ("pod", "pod3")]
    await ok(await admin.post("/api/v1/results", json={"results": batch}), 202)


async def _open(admin: httpx.AsyncClient) -> dict[str, Any]:
    page = await ok(await admin.get("/api/v1/incidents", params={"state": "firing"}))
    return {i["key"]: i for i in page["items"]}


async def test_a_binding_starved_of_runs(center_app: CenterApp, store: Store, box: SecretBox) -> None:
    admin, clock, service = await _setup(center_app, store, box)
    await _post(admin, "succeeded", T0)
    clock.now = T0 + dt.timedelta(seconds=119)
    assert await service.sweep() == []  # within two intervals of 60 s
    clock.now = T0 + dt.timedelta(seconds=121)
    await service.sweep()
    incidents = await _open(admin)
    starved = incidents["cluster/c0/staleness.binding"]
    assert starved["cause"] == "staleness.binding"
    assert sorted(starved["cases"]) == ["pod", "pod3"]
    assert "stale: no result of pod on c0 (binding basic-prod)" in " ".join(
        m["message"] for m in starved["members"]
    )
    assert not [k for k in incidents if "staleness" not in k]  # not a failed probe
    clock.now = T0 + dt.timedelta(seconds=200)
    assert await service.sweep() == []  # said once
    assert len(await _open(admin)) == len(incidents)
    # Results come again: the silence is over.
    await _post(admin, "succeeded", T0 + dt.timedelta(seconds=205))
    clock.now = T0 + dt.timedelta(seconds=210)
    await service.sweep()
    assert await _open(admin) == {}


async def test_a_run_in_flight_is_not_silence(center_app: CenterApp, store: Store, box: SecretBox) -> None:
    """A slow run (stuck behind another fault, ended by its deadline at the latest) keeps its binding
    from being called silent; the fault suite saw a paused etcd open a second, staleness incident."""
    admin, clock, service = await _setup(center_app, store, box)
    await _post(admin, "succeeded", T0)
    async with store.transaction() as session:
        cluster_id = await session.scalar(select(Cluster.id).where(Cluster.name == "c0"))
        for case in ("pod", "pod3"):
            case_id = await session.scalar(select(Case.id).where(Case.name == case))
            created = T0 + dt.timedelta(seconds=100)
            session.add(
                Run(
                    id=uuid.uuid4().hex,
                    case_id=case_id,
                    cluster_id=cluster_id,
                    trigger="interval",
                    state="running",
                    created=created,
                    deadline=created + dt.timedelta(seconds=300),
                    started=created,
                    finished=None,
                )
            )
    clock.now = T0 + dt.timedelta(seconds=150)
    await service.sweep()  # the last result is 150 s old, but a run is on its way
    assert "cluster/c0/staleness.binding" not in await _open(admin)
    clock.now = T0 + dt.timedelta(seconds=221)  # two intervals after that run started: silent
    await service.sweep()
    assert "cluster/c0/staleness.binding" in await _open(admin)


async def test_a_cluster_that_stops_answering(center_app: CenterApp, store: Store, box: SecretBox) -> None:
    admin, clock, service = await _setup(center_app, store, box)
    await _post(admin, "succeeded", T0)
    # Runs keep arriving but as errors (KubeProbe cannot reach the API server): the bindings are
    # not silent, the cluster is.
    for s in (50, 100):
        await _post(admin, "error", T0 + dt.timedelta(seconds=s))
    clock.now = T0 + dt.timedelta(seconds=121)
    await service.sweep()
    incidents = await _open(admin)
    assert list(incidents) == ["cluster/c0/staleness.cluster"]
    assert "no answer from cluster c0" in incidents["cluster/c0/staleness.cluster"]["members"][0]["message"]
    await _post(admin, "succeeded", T0 + dt.timedelta(seconds=130))
    clock.now = T0 + dt.timedelta(seconds=135)
    await service.sweep()
    assert await _open(admin) == {}


def _resident(kind: str = "summary", period_s: float = 1.0) -> dict[str, Any]:
    at = dt.datetime.now(dt.UTC)
    body: dict[str, Any] = {
        "key": uuid.uuid4().hex,
        "kind": kind,
        "cluster": "c0",
        "case": "resident-ns-api",
        "config": "ns/api",
        "probe": "apiserver-read",
        "at": at.isoformat(),
        "state": "healthy",
    }
    if kind == "summary":
        body |= {
            "period_start": (at - dt.timedelta(seconds=period_s)).isoformat(),
            "period_end": at.isoformat(),
        }
    return body


async def test_a_resident_probe_whose_operator_stops(
    center_app: CenterApp, store: Store, box: SecretBox
) -> None:
    """Fed by the center from the operator's reports (by when it received them, in real time here):
    a probe whose summaries (every 1 s) stop for more than two periods opens one staleness.resident
    incident, resolved by the next report."""
    admin = center_app.client("kp_test-admin-token")
    await seed(admin)
    service = StalenessService(store, IncidentService(store, box), StalenessSettings())
    await ok(await admin.post("/api/v1/resident/reports", json={"reports": [_resident()]}), 202)
    sent = time.monotonic()
    assert await service.sweep() == []
    while not await service.sweep():
        assert time.monotonic() - sent < 30, "no staleness signal"
        await asyncio.sleep(0.2)
    assert time.monotonic() - sent > 2.0  # not before two periods
    incidents = await _open(admin)
    assert list(incidents) == ["cluster/c0/staleness.resident"]
    (member,) = incidents["cluster/c0/staleness.resident"]["members"]
    assert "no report of resident probe resident-ns-api on c0" in member["message"]
    # A new leader starts from the open incident: the probe is not signalled again ...
    again = StalenessService(store, IncidentService(store, box), StalenessSettings())
    await again.seed()
    assert await again.sweep() == []
    # ... and the operator reporting again (a state change counts too) resolves it.
    await ok(await admin.post("/api/v1/resident/reports", json={"reports": [_resident("state")]}), 202)
    await again.sweep()
    assert await _open(admin) == {}
