"""What the analysis pipeline hands to alerting: one diagnosed, verified outcome of one run.

The center's analysis worker builds a `Signal` for every finished run of a bound case (failures after
diagnosis, secondary verification and severity; successes so that open incidents can resolve) and
passes it to the incident manager, which deduplicates, correlates, silences, routes and notifies.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum


class Outcome(StrEnum):
    FAILED = "failed"  # reproduced (or verification disabled): may open or update an incident
    FLAKE = "flake"  # did not reproduce on secondary verification: recorded, never escalated
    PASSED = "passed"  # the case passed: resolves what this case had open on this cluster


@dataclass(frozen=True)
class Signal:
    run_id: str
    cluster: str
    case: str
    outcome: Outcome
    at: dt.datetime
    cluster_labels: dict[str, str] = field(default_factory=dict)
    step: str | None = None
    message: str = ""
    cause: str = "unknown"  # a label of kubeprobe.model.causes
    confidence: float = 0.0
    priority: str = "P4"  # P1 (worst) .. P4
    action: str = "record"  # kubeprobe.analysis.severity.Action values
    reason: str = ""  # why this priority, for people
    evidence: dict[str, object] = field(default_factory=dict)  # summary of what was looked at
    recent_changes: tuple[str, ...] = ()  # change-event ids/subjects seen on the cluster lately
    run_url: str = ""  # link to the run for messages
    #: the run's own evidence named the cause (the API's words, component health, a sure rule);
    #: a failure that is not firm joins an incident open on its cluster instead of opening one
    firm: bool = True
    started: dt.datetime | None = None  # when the run started (``at`` is when it finished)

    @property
    def since(self) -> dt.datetime:
        """The earliest moment the run's outcome can speak for."""
        return self.started or self.at

    @property
    def labels(self) -> dict[str, str]:
        """The labels silences and routes match on."""
        return {**self.cluster_labels, "cluster": self.cluster, "case": self.case, "cause": self.cause}
