"""What the defender is asked, what it sees, and what it answers.

A `Request` names one attempt of one remediation (``id``) on one target with one action. An
`Observation` is what the center sees of the cluster and the fleet at decision time (the node
health comes from a watch, `kubeprobe.remedy.health.NodeHealthView`). A `Decision` says yes or
no with every reason, the counters it looked at, and, when yes, the lease with its fencing token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class RiskTier(StrEnum):
    """How much an action can hurt: undone by itself, interrupts service, or loses something."""

    REVERSIBLE = "reversible"
    DISRUPTIVE = "disruptive"
    DESTRUCTIVE = "destructive"


class Mode(StrEnum):
    """``shadow``: record what would have been done, act on nothing (a new policy's default);
    ``approval``: wait for a person's approve; ``auto``: act when the defender allows."""

    SHADOW = "shadow"
    APPROVAL = "approval"
    AUTO = "auto"


class Outcome(StrEnum):
    """How an executed attempt ended: ``verified`` (the failed case passes again) frees its slot;
    ``failed`` (verification ran and did not pass) and ``unverified`` (it could not run) count
    against the breaker and keep the slot until a person or a resolved incident releases it."""

    VERIFIED = "verified"
    FAILED = "failed"
    UNVERIFIED = "unverified"


@dataclass(frozen=True)
class Target:
    """The object an action changes. ``kind`` ``Node`` takes a node out (node caps apply);
    ``pool`` is the node's pool label value (empty when it has none)."""

    cluster: str
    kind: str
    name: str
    namespace: str = ""
    pool: str = ""

    @property
    def key(self) -> str:
        return f"{self.cluster}/{self.kind}/{self.namespace}/{self.name}"

    @property
    def is_node(self) -> bool:
        return self.kind == "Node"


@dataclass(frozen=True)
class Request:
    id: str  # the remediation; its later attempts (a ladder's next step, a retry) keep the id
    action: str
    tier: RiskTier
    target: Target
    mode: Mode = Mode.SHADOW
    control_plane: bool = False
    policy: str = ""
    policy_version: int = 0
    approver: str = ""
    plan: tuple[str, ...] = ()


class ClusterHealth(Protocol):
    """What the center sees of one cluster's nodes right now."""

    @property
    def reachable(self) -> bool:
        """The center can reach the cluster's API server."""
        ...

    @property
    def peers_reachable(self) -> bool:
        """Other vantage points (resident operator, peer replicas) can reach it too."""
        ...

    def node_count(self, pool: str | None = None) -> int: ...

    def unhealthy_count(self, pool: str | None = None) -> int: ...

    def is_unhealthy(self, node: str) -> bool: ...


@dataclass(frozen=True)
class StaticClusterHealth:
    """A fixed picture of a cluster: node name → (pool, healthy). For tests and planning."""

    nodes: dict[str, tuple[str, bool]] = field(default_factory=dict)
    reachable: bool = True
    peers_reachable: bool = True

    def node_count(self, pool: str | None = None) -> int:
        return sum(1 for p, _ in self.nodes.values() if pool is None or p == pool)

    def unhealthy_count(self, pool: str | None = None) -> int:
        return sum(1 for p, ok in self.nodes.values() if not ok and (pool is None or p == pool))

    def is_unhealthy(self, node: str) -> bool:
        return node in self.nodes and not self.nodes[node][1]


@dataclass(frozen=True)
class Observation:
    """The cluster of the request as seen now, the fleet's size and how much of it is unhealthy,
    and freezes the center knows of (a maintenance window, a release gate in progress)."""

    cluster: ClusterHealth
    fleet_clusters: int = 1
    fleet_unhealthy_clusters: int = 0
    maintenance: bool = False
    gate_in_progress: bool = False


@dataclass(frozen=True)
class Denial:
    """One reason for no. ``code`` is stable (``cap.pool``, ``rate.action``, ``storm.unreachable``,
    ``breaker.open``, ``freeze.pause`` ...); ``message`` says it for people."""

    code: str
    message: str


@dataclass(frozen=True)
class Page:
    """A page the defender asks for (a storm): priority and why."""

    priority: str
    scope: str
    reason: str


@dataclass(frozen=True)
class Lease:
    """The right to act on a target until ``until``; every write presents ``token``."""

    target: str
    token: int
    holder: str
    until: float


@dataclass(frozen=True)
class Decision:
    request_id: str
    allowed: bool  # granted (for a dry evaluation: would be granted)
    dry: bool
    at: float
    denials: tuple[Denial, ...] = ()
    counters: dict[str, float] = field(default_factory=dict)
    lease: Lease | None = None
    pages: tuple[Page, ...] = ()

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(d.code for d in self.denials)
