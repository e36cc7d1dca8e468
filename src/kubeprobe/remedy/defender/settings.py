"""The defender's limits, grouped as kopf groups its settings; passed in, never read from globals.

Percent caps turn into a count of ``floor(pct * total / 100)``, but never below 1, so a small pool
can still heal one node at a time; where both an absolute and a percent cap are set, the smaller
one holds. ``None`` means "no such cap".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


def effective_cap(absolute: int | None, percent: float | None, total: int) -> int | None:
    """The tighter of an absolute cap and a percent of ``total`` (at least 1); None when neither."""
    caps: list[int] = []
    if absolute is not None:
        caps.append(absolute)
    if percent is not None:
        caps.append(max(1, math.floor(percent * total / 100)))
    return min(caps) if caps else None


@dataclass(frozen=True)
class CapSettings:
    """How much may be unhealthy or in remediation at once.

    Node caps count the nodes of a pool (or cluster) that are unhealthy *or* in remediation,
    including the node a request is about: above the cap, no node action is granted (the medik8s
    ``maxUnhealthy`` gate and Cluster API's ``maxInFlight`` in one rule).
    """

    pool_nodes: int | None = 1
    pool_nodes_percent: float | None = 10.0
    cluster_nodes: int | None = 3
    cluster_nodes_percent: float | None = 10.0
    in_flight_per_cluster: int = 2
    control_plane_per_cluster: int = 1
    clusters_in_remediation_percent: float = 20.0


@dataclass(frozen=True)
class RateSettings:
    """Token buckets (rate per hour, burst) per (action, cluster) and fleet-wide; a minimum gap
    between disruptive or destructive actions in one cluster."""

    action_per_hour: float = 6.0
    action_burst: float = 3.0
    fleet_per_hour: float = 60.0
    fleet_burst: float = 10.0
    disruptive_gap_seconds: float = 300.0


@dataclass(frozen=True)
class StormSettings:
    """When to act on nothing: a larger share than this of a cluster's (or a pool's) nodes
    unhealthy, or of the fleet's clusters; the cluster unreachable from the center or from its
    peers. A storm holds for ``cooldown_seconds`` after it was last seen."""

    node_share: float = 0.3
    cluster_share: float = 0.3
    min_nodes: int = 3
    cooldown_seconds: float = 600.0


@dataclass(frozen=True)
class BreakerSettings:
    """The breaker of an (action, cluster) opens after ``consecutive_failures`` failed
    verifications in a row, or when the success ratio over the last ``window`` results drops
    below ``min_success_ratio`` (once ``min_samples`` results exist). Only a person closes it."""

    consecutive_failures: int = 3
    window: int = 10
    min_success_ratio: float = 0.5
    min_samples: int = 4


@dataclass(frozen=True)
class DefenderSettings:
    caps: CapSettings = field(default_factory=CapSettings)
    rates: RateSettings = field(default_factory=RateSettings)
    storm: StormSettings = field(default_factory=StormSettings)
    breaker: BreakerSettings = field(default_factory=BreakerSettings)
    #: How long a granted lease on a target lasts unless renewed (a dead replica's lease expires).
    lease_seconds: float = 300.0
