"""The defender's shared state and its append-only audit record, as plain JSON-able data.

Every center replica reads and writes the same state through a `DefenderStore` (in memory for
tests, the center's database in production) with compare-and-set, so two replicas see one set of
slots, buckets, breakers and leases. The state stays small: a bucket that has refilled, a storm
past its cool-down and a released slot are dropped, so it grows with what is going on, not with
the fleet.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Slot:
    """A target in remediation: it counts against the caps until verified or released, and its
    lease (holder, token, until) is the right to act on it."""

    request_id: str
    action: str
    tier: str
    cluster: str
    target: str
    kind: str
    name: str
    pool: str
    control_plane: bool
    started: float
    token: int
    holder: str
    until: float
    status: str = "running"  # running | failed | unverified
    attempts: int = 1


@dataclass
class Bucket:
    tokens: float
    at: float


@dataclass
class Breaker:
    results: list[bool] = field(default_factory=list)  # newest last, at most the window
    consecutive_failures: int = 0
    open: bool = False
    opened_at: float = 0.0
    reason: str = ""


@dataclass
class Pause:
    cluster: str  # "*" for every cluster
    action: str  # "*" for every action
    by: str
    at: float
    reason: str = ""


@dataclass
class Storm:
    since: float
    last_seen: float
    reason: str


@dataclass
class DefenderState:
    slots: dict[str, Slot] = field(default_factory=dict)  # by target key
    buckets: dict[str, Bucket] = field(default_factory=dict)  # "action|cluster", "*|*" fleet
    last_disruptive: dict[str, float] = field(default_factory=dict)  # by cluster
    last_disruptive_target: dict[str, str] = field(default_factory=dict)  # by cluster: its target key
    breakers: dict[str, Breaker] = field(default_factory=dict)  # "action|cluster"
    pauses: dict[str, Pause] = field(default_factory=dict)  # "cluster|action"
    storms: dict[str, Storm] = field(default_factory=dict)  # "cluster:NAME", "pool:C/P", "fleet"
    fence: int = 0  # the last fencing token handed out; only ever grows

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DefenderState:
        return cls(
            slots={k: Slot(**v) for k, v in data.get("slots", {}).items()},
            buckets={k: Bucket(**v) for k, v in data.get("buckets", {}).items()},
            last_disruptive=dict(data.get("last_disruptive", {})),
            last_disruptive_target=dict(data.get("last_disruptive_target", {})),
            breakers={k: Breaker(**v) for k, v in data.get("breakers", {}).items()},
            pauses={k: Pause(**v) for k, v in data.get("pauses", {}).items()},
            storms={k: Storm(**v) for k, v in data.get("storms", {}).items()},
            fence=int(data.get("fence", 0)),
        )

    def copy(self) -> DefenderState:
        return DefenderState.from_dict(self.to_dict())


@dataclass(frozen=True)
class AuditRecord:
    """One line of the append-only audit: what was asked, what the defender saw and said, who
    approved, the plan and, later, the outcome. ``seq`` is given by the store on append."""

    at: float
    event: str  # decision | outcome | release | pause | resume | breaker-open | breaker-close | storm
    replica: str
    request_id: str = ""
    action: str = ""
    cluster: str = ""
    target: str = ""
    policy: str = ""
    policy_version: int = 0
    mode: str = ""
    approver: str = ""
    allowed: bool | None = None
    denials: tuple[str, ...] = ()
    counters: dict[str, float] = field(default_factory=dict)
    plan: tuple[str, ...] = ()
    outcome: str = ""
    detail: str = ""
    seq: int = 0

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["denials"] = list(self.denials)
        data["plan"] = list(self.plan)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditRecord:
        fields = {f.name for f in dataclasses.fields(cls)}
        clean = {k: v for k, v in data.items() if k in fields}
        clean["denials"] = tuple(clean.get("denials", ()))
        clean["plan"] = tuple(clean.get("plan", ()))
        return cls(**clean)
