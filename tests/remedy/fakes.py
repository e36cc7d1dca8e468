"""Helpers for the defender's tests: a fake clock, requests and observations in few words."""

from __future__ import annotations

from dataclasses import dataclass

from kubeprobe.remedy.defender import (
    Mode,
    Observation,
    Request,
    RiskTier,
    StaticClusterHealth,
    Target,
)


@dataclass
class FakeClock:
    now: float = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def node_request(
    cluster: str, node: str, *, pool: str = "", rid: str = "", action: str = "node-component-restart"
) -> Request:
    return Request(
        id=rid or f"rem-{cluster}-{node}",
        action=action,
        tier=RiskTier.DISRUPTIVE,
        target=Target(cluster, "Node", node, pool=pool),
        mode=Mode.AUTO,
        policy="node-not-ready",
        policy_version=3,
        plan=(f"restart kubelet on {node}",),
    )


def pod_request(cluster: str, pod: str, *, rid: str = "", namespace: str = "apps") -> Request:
    return Request(
        id=rid or f"rem-{cluster}-{pod}",
        action="pod-delete",
        tier=RiskTier.REVERSIBLE,
        target=Target(cluster, "Pod", pod, namespace=namespace),
        mode=Mode.AUTO,
    )


def cluster_health(
    nodes: int = 10, unhealthy: int = 0, *, pools: int = 1, reachable: bool = True, peers: bool = True
) -> StaticClusterHealth:
    """Nodes ``n0..``; the first ``unhealthy`` are NotReady; pools ``p0..`` round-robin."""
    table = {f"n{i}": (f"p{i % pools}" if pools > 1 else "", i >= unhealthy) for i in range(nodes)}
    return StaticClusterHealth(table, reachable=reachable, peers_reachable=peers)


def observe(
    health: StaticClusterHealth | None = None,
    *,
    fleet: int = 10,
    fleet_unhealthy: int = 0,
    maintenance: bool = False,
    gate: bool = False,
) -> Observation:
    return Observation(health or cluster_health(), fleet, fleet_unhealthy, maintenance, gate)
