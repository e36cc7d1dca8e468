"""What an inspection of one cluster produced: findings, each check's outcome, the sweep's numbers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kubeprobe.model import Finding


@dataclass(frozen=True)
class CheckOutcome:
    """One check on one cluster: ran (with how many findings) or could not run (``error``)."""

    check_id: str
    title: str
    findings: int = 0
    error: str | None = None
    skipped: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.findings == 0


@dataclass
class InspectionReport:
    cluster: str
    findings: list[Finding] = field(default_factory=list)
    outcomes: list[CheckOutcome] = field(default_factory=list)
    excluded: int = 0
    seconds: float = 0.0
    objects: int = 0
    lists: int = 0
    bytes: int = 0
    failed_lists: dict[str, str] = field(default_factory=dict)
    fingerprints: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def errors(self) -> dict[str, str]:
        return {o.check_id: o.error for o in self.outcomes if o.error}

    def to_dict(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "seconds": round(self.seconds, 3),
            "objects": self.objects,
            "lists": self.lists,
            "bytes": self.bytes,
            "excluded": self.excluded,
            "failed_lists": self.failed_lists,
            "checks": [
                {
                    "id": o.check_id,
                    "title": o.title,
                    "findings": o.findings,
                    "error": o.error,
                    "skipped": o.skipped,
                }
                for o in self.outcomes
            ],
            "findings": [f.to_dict() for f in self.findings],
        }
