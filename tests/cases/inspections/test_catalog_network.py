"""Address checks on crafted pods, nodes and services."""

from __future__ import annotations

from typing import Any

from kubeprobe.cases.inspections.catalog.network import (
    DuplicatePodIPCheck,
    DuplicateServiceIPCheck,
    OverlappingPodCIDRCheck,
)
from kubeprobe.kube.collect import NODES, PODS, SERVICES
from tests.cases.inspections.crafted import names, obj, run


def pod(name: str, ip: str, **spec: Any) -> dict[str, Any]:
    return obj(name, spec=spec, status={"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]})


def test_duplicate_pod_ip() -> None:
    found = run(
        DuplicatePodIPCheck,
        [
            (PODS, pod("a", "10.0.0.1")),
            (PODS, pod("b", "10.0.0.1")),
            (PODS, pod("c", "10.0.0.2")),
            (PODS, pod("host1", "192.168.0.1", hostNetwork=True)),
            (PODS, pod("host2", "192.168.0.1", hostNetwork=True)),
        ],
    )
    assert names(found) == ["a", "b"]


def test_overlapping_pod_cidrs() -> None:
    def node(name: str, *cidrs: str) -> dict[str, Any]:
        return obj(name, None, spec={"podCIDR": cidrs[0], "podCIDRs": list(cidrs)})

    found = run(
        OverlappingPodCIDRCheck,
        [
            (NODES, node("n0", "10.1.0.0/24")),
            (NODES, node("n1", "10.1.1.0/24")),
            (NODES, node("wide", "10.1.0.0/16")),
            (NODES, node("apart", "10.2.0.0/24")),
            (NODES, node("v6", "fd00::/64")),
        ],
    )
    assert sorted(f.details["other_node"] for f in found) == ["wide", "wide"]
    assert names(found) == ["n0", "n1"]


def test_no_overlap_without_shared_ranges() -> None:
    nodes = [(NODES, obj(f"n{i}", None, spec={"podCIDRs": [f"10.9.{i}.0/24"]})) for i in range(50)]
    assert run(OverlappingPodCIDRCheck, nodes) == []


def test_duplicate_service_ips() -> None:
    def svc(name: str, cluster_ip: str, external: list[str] | None = None) -> dict[str, Any]:
        return obj(
            name, spec={"clusterIP": cluster_ip, "clusterIPs": [cluster_ip], "externalIPs": external or []}
        )

    found = run(
        DuplicateServiceIPCheck,
        [
            (SERVICES, svc("a", "10.96.0.10")),
            (SERVICES, svc("b", "10.96.0.10")),
            (SERVICES, svc("c", "10.96.0.11", ["1.2.3.4"])),
            (SERVICES, svc("d", "10.96.0.12", ["1.2.3.4"])),
            (SERVICES, svc("headless1", "None")),
            (SERVICES, svc("headless2", "None")),
        ],
    )
    assert names(found) == ["a", "b", "c", "d"]
