"""Findings of inspections and the severity scale shared by findings, bindings and incidents."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """How bad something is; ordered from most to least urgent."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for critical … 4 for info: sort by it to get the worst first."""
        return list(Severity).index(self)


@dataclass(frozen=True)
class ObjectRef:
    """Which Kubernetes object a finding is about."""

    kind: str
    name: str
    namespace: str | None = None
    api_version: str | None = None
    uid: str | None = None

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{where}{self.name}"


@dataclass(frozen=True)
class Finding:
    """One risk item from an inspection."""

    check_id: str
    severity: Severity
    object: ObjectRef | None
    message: str
    hint: str = ""
    cluster: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        obj = self.object
        return {
            "check_id": self.check_id,
            "severity": str(self.severity),
            "object": None
            if obj is None
            else {
                "kind": obj.kind,
                "name": obj.name,
                "namespace": obj.namespace,
                "api_version": obj.api_version,
                "uid": obj.uid,
            },
            "message": self.message,
            "hint": self.hint,
            "cluster": self.cluster,
            "details": self.details,
        }
