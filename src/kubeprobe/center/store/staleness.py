"""What the staleness watches read (silence is not health; see :mod:`kubeprobe.alerting.staleness`).

- A **binding** watch per target (case x cluster) of an enabled interval binding: last heard from
  is its case's newest result on that cluster of any state (``case_status``) or the start of a run
  still in flight (dispatched or running: its deadline ends it), else the binding's creation.
- A **cluster** watch per cluster that has such targets, at the shortest of their intervals: last
  heard from is its newest run that reached it (succeeded or failed; ``error`` is KubeProbe not
  reaching it) within the lookback (a day, or ten intervals; index ``cluster_id, finished``),
  else the cluster's registration.
- A **resident** watch per resident probe (case x cluster) that sent a summary within the lookback:
  its interval is its latest summary's period, last heard from is its newest report of any kind
  (when the center received it: the operator's clock is not trusted).

A few statements beside the target expansion (:func:`kubeprobe.center.store.targets.expand`);
:func:`open_stale` reads what open staleness incidents hold (a new leader's tracker starts from it).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from kubeprobe.alerting.staleness import CAUSE_PREFIX, CLUSTER_SUBJECT, KINDS, StaleKey, Watch
from kubeprobe.center.store.common import aware, utcnow
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.tables import (
    Binding,
    Case,
    CaseStatus,
    Cluster,
    IncidentRow,
    ResidentReport,
    Run,
)
from kubeprobe.center.store.targets import expand
from kubeprobe.model import RunState
from kubeprobe.model.runs import IN_FLIGHT_STATES

ANSWERED = (str(RunState.SUCCEEDED), str(RunState.FAILED))
IN_FLIGHT = tuple(str(state) for state in IN_FLIGHT_STATES)
#: How far back a cluster's last answer is looked for (at least; ten intervals when longer).
LOOKBACK_S = 86_400.0


async def watches(store: Store) -> list[Watch]:
    """Every binding, cluster and resident watch, as the module docstring says."""
    return [*await _scheduled(store), *await _resident(store)]


async def _resident(store: Store) -> list[Watch]:
    since = utcnow() - dt.timedelta(seconds=LOOKBACK_S)
    report = ResidentReport
    async with store.transaction() as session:
        newest = (
            select(report.cluster_id, report.case_id, func.max(report.at).label("at"))
            .where(report.kind == "summary", report.at >= since)
            .group_by(report.cluster_id, report.case_id)
            .subquery()
        )
        summaries = (
            await session.execute(
                select(report.cluster_id, report.case_id, report.body).join(
                    newest,
                    (report.cluster_id == newest.c.cluster_id)
                    & (report.case_id == newest.c.case_id)
                    & (report.at == newest.c.at),
                )
            )
        ).all()
        if not summaries:
            return []
        heard = {
            (c, k): aware(r)
            for c, k, r in await session.execute(
                select(report.cluster_id, report.case_id, func.max(report.received))
                .where(report.at >= since)
                .group_by(report.cluster_id, report.case_id)
            )
        }
        clusters = {
            c.id: (c.name, {str(k): str(v) for k, v in (c.labels or {}).items()})
            for c in await session.execute(select(Cluster.id, Cluster.name, Cluster.labels))
        }
        cases = dict((await session.execute(select(Case.id, Case.name))).all())
    out: list[Watch] = []
    for cluster_id, case_id, body in summaries:
        period = _period_s(body)
        last = heard.get((cluster_id, case_id))
        if period is None or last is None or cluster_id not in clusters or case_id not in cases:
            continue
        name, labels = clusters[cluster_id]
        out.append(Watch("resident", name, cases[case_id], period, last, last, labels))
    return out


def _period_s(body: dict[str, object]) -> float | None:
    try:
        start = dt.datetime.fromisoformat(str(body["period_start"]))
        end = dt.datetime.fromisoformat(str(body["period_end"]))
    except (KeyError, ValueError):
        return None
    seconds = (end - start).total_seconds()
    return seconds if seconds > 0 else None


async def open_stale(store: Store) -> set[StaleKey]:
    """(kind, cluster, subject) of every unresolved member of an open staleness incident."""
    async with store.transaction() as session:
        rows = (
            await session.execute(
                select(IncidentRow.cause, IncidentRow.members).where(
                    IncidentRow.state != "resolved", IncidentRow.cause.like(f"{CAUSE_PREFIX}%")
                )
            )
        ).all()
    out: set[StaleKey] = set()
    for cause, members in rows:
        kind = cause.removeprefix(CAUSE_PREFIX)
        if kind not in KINDS:
            continue
        for member in members or []:
            if not member.get("resolved"):
                out.add((kind, str(member.get("cluster")), str(member.get("case"))))
    return out


async def _scheduled(store: Store) -> list[Watch]:
    periodic = [t for t in await expand(store) if t.interval]
    if not periodic:
        return []
    async with store.transaction() as session:
        bindings = {
            b.id: (b.name, aware(b.created))
            for b in await session.execute(
                select(Binding.id, Binding.name, Binding.created).where(
                    Binding.id.in_({t.binding_id for t in periodic})
                )
            )
        }
        clusters = {
            c.id: (c.name, aware(c.created), {str(k): str(v) for k, v in (c.labels or {}).items()})
            for c in await session.execute(select(Cluster.id, Cluster.name, Cluster.created, Cluster.labels))
        }
        cases = dict((await session.execute(select(Case.id, Case.name))).all())
        status = (
            await session.execute(
                select(CaseStatus.cluster_id, CaseStatus.case_id, CaseStatus.state, CaseStatus.finished)
            )
        ).all()
        # A run on its way (dispatched or running, ended by its deadline at the latest) is not
        # silence: a slow run during another fault is that fault's, not a second incident.
        in_flight = {
            (c, k): aware(created)
            for c, k, created in await session.execute(
                select(Run.cluster_id, Run.case_id, func.max(Run.created))
                .where(Run.state.in_(IN_FLIGHT))
                .group_by(Run.cluster_id, Run.case_id)
            )
            if created is not None
        }
        since = utcnow() - dt.timedelta(seconds=max(LOOKBACK_S, 10 * max(t.interval or 0 for t in periodic)))
        answered = {
            c: aware(f)
            for c, f in await session.execute(
                select(Run.cluster_id, func.max(Run.finished))
                .where(
                    Run.cluster_id.in_({t.cluster_id for t in periodic}),
                    Run.state.in_(ANSWERED),
                    Run.finished >= since,
                )
                .group_by(Run.cluster_id)
            )
            if f is not None
        }
    last = {(c, k): aware(f) for c, k, _, f in status}
    for key, created in in_flight.items():
        if last.get(key) is None or created > last[key]:
            last[key] = created
    out: list[Watch] = []
    shortest: dict[int, float] = {}
    for t in periodic:
        if t.binding_id not in bindings or t.cluster_id not in clusters or t.case_id not in cases:
            continue
        name, created = bindings[t.binding_id]
        cluster, _, labels = clusters[t.cluster_id]
        interval = float(t.interval or 0)
        seen = last.get((t.cluster_id, t.case_id))
        out.append(Watch("binding", cluster, cases[t.case_id], interval, seen, created, labels, binding=name))
        shortest[t.cluster_id] = min(shortest.get(t.cluster_id, interval), interval)
    for cluster_id, interval in shortest.items():
        cluster, registered, labels = clusters[cluster_id]
        seen = answered.get(cluster_id)
        out.append(Watch("cluster", cluster, CLUSTER_SUBJECT, interval, seen, registered, labels))
    return out
