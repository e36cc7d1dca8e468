"""What every notification says: cluster, case, step, cause, confidence, priority, and the run's link."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from kubeprobe.alerting.incidents import Event, Incident


@dataclass(frozen=True)
class Notification:
    incident_id: int
    key: str
    event: Event
    scope: str
    state: str
    priority: str
    cause: str
    confidence: float
    cluster: str  # the cluster, or "N clusters" for a fleet incident
    case: str  # the case (the latest failing one), or "N cases"
    step: str
    message: str
    run_id: str
    run_url: str
    opened: str
    clusters: list[str] = field(default_factory=list)
    cases: list[str] = field(default_factory=list)
    shared: str = ""
    reason: str = ""
    acked_by: str | None = None

    @property
    def dedup_key(self) -> str:
        return f"kubeprobe-incident-{self.incident_id}"

    @property
    def title(self) -> str:
        where = self.cluster if self.scope != "fleet" else f"{len(self.clusters)} clusters"
        return f"[{self.priority}] {self.event.upper()}: {self.cause} on {where} ({self.case})"

    def lines(self) -> list[tuple[str, str]]:
        """The facts every message carries, as (name, value) pairs."""
        facts = [
            ("cluster", self.cluster),
            ("case", self.case),
            ("step", self.step or "-"),
            ("cause", self.cause),
            ("confidence", f"{self.confidence:.0%}"),
            ("priority", self.priority),
            ("state", self.state),
            ("run", self.run_url or self.run_id),
        ]
        if self.shared:
            facts.append(("shared", self.shared))
        if self.message:
            facts.append(("message", self.message[:500]))
        if self.acked_by:
            facts.append(("acknowledged by", self.acked_by))
        return facts

    def text(self) -> str:
        return "\n".join([self.title, *(f"{k}: {v}" for k, v in self.lines())])

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["title"] = self.title
        data["dedup_key"] = self.dedup_key
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Notification:
        names = cls.__dataclass_fields__.keys()
        return cls(**{k: v for k, v in data.items() if k in names})


def notification(incident: Incident, event: Event) -> Notification:
    if incident.id is None:
        raise ValueError("an incident is stored (has an id) before anyone is notified about it")
    latest = incident.latest()
    clusters, cases = incident.clusters(), incident.cases()
    fleet = incident.scope == "fleet"
    return Notification(
        incident_id=incident.id,
        key=incident.key,
        event=event,
        scope=incident.scope,
        state=incident.state,
        priority=incident.priority,
        cause=incident.cause,
        confidence=round(incident.confidence, 3),
        cluster=f"{len(clusters)} clusters: {', '.join(clusters)}" if fleet else (incident.cluster or ""),
        case=(latest.case if latest else "")
        if len(cases) <= 1
        else f"{len(cases)} cases: {', '.join(cases)}",
        step=(latest.step or "") if latest else "",
        message=latest.message if latest else "",
        run_id=latest.run_id if latest else "",
        run_url=latest.run_url if latest else "",
        opened=incident.opened.astimezone(dt.UTC).isoformat(),
        clusters=clusters,
        cases=cases,
        shared=incident.shared,
        reason=incident.reason,
        acked_by=incident.acked_by,
    )
