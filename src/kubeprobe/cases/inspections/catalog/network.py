"""Addresses: duplicate pod IPs, overlapping node pod CIDRs, IPs claimed by two Services."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from kubeprobe.cases.inspections.check import Check
from kubeprobe.cases.inspections.objects import meta, ref
from kubeprobe.cases.inspections.registry import register
from kubeprobe.kube.collect import NODES, PODS, SERVICES, Need, Resource, Sweep
from kubeprobe.model import Finding, ObjectRef, Severity

Obj = dict[str, Any]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def pod_ips(obj: Obj) -> list[str]:
    status = obj.get("status") or {}
    ips = [ip for p in status.get("podIPs") or () if (ip := p.get("ip"))]
    if not ips and status.get("podIP"):
        ips = [status["podIP"]]
    return ips


@register
class DuplicatePodIPCheck(Check):
    id = "network.duplicate-pod-ip"
    title = "Pod IPs used by more than one pod"
    severity = Severity.CRITICAL
    hint = "Two pods share an address: traffic goes to the wrong one. Check the CNI's IPAM state"
    needs = (Need(PODS),)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        # IP → (namespace, name): compact, one entry per running pod.
        self.first: dict[str, tuple[str, str]] = {}
        self.dupes: dict[str, list[tuple[str, str]]] = {}

    def observe(self, resource: Resource, obj: Obj) -> None:
        spec = obj.get("spec") or {}
        phase = (obj.get("status") or {}).get("phase")
        if spec.get("hostNetwork") or phase in ("Succeeded", "Failed"):
            return  # host-network pods share the node's IP; finished pods have released theirs
        ips = pod_ips(obj)
        if not ips:
            return
        m = meta(obj)
        pod = (str(m.get("namespace") or ""), str(m.get("name") or ""))
        first = self.first
        for ip in ips:
            other = first.setdefault(ip, pod)
            if other is not pod:
                self.dupes.setdefault(ip, [other]).append(pod)

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        for ip, pods in sorted(self.dupes.items()):
            for namespace, name in pods:
                others = [f"{ns}/{n}" for ns, n in pods if (ns, n) != (namespace, name)]
                yield self.finding(
                    ObjectRef(kind="Pod", name=name, namespace=namespace, api_version="v1"),
                    f"pod IP {ip} is also used by {others}",
                    ip=ip,
                )


@register
class OverlappingPodCIDRCheck(Check):
    id = "network.overlapping-pod-cidr"
    title = "Node pod CIDRs that overlap"
    severity = Severity.CRITICAL
    hint = "Two nodes hand out addresses from the same range: give each node its own podCIDR"
    needs = (Need(NODES),)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.cidrs: list[tuple[Network, ObjectRef]] = []
        self.bad: list[Finding] = []

    def observe(self, resource: Resource, obj: Obj) -> None:
        spec = obj.get("spec") or {}
        for text in spec.get("podCIDRs") or ([spec["podCIDR"]] if spec.get("podCIDR") else []):
            try:
                self.cidrs.append((ipaddress.ip_network(text, strict=False), ref(resource, obj)))
            except ValueError:
                self.bad.append(self.finding_for(resource, obj, f"podCIDR {text!r} is not a CIDR"))

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        yield from self.bad
        for version in (4, 6):
            # (first address, last address) as integers, from the prefix length: the addresses'
            # own properties cost 5 µs a network, at the sweep's end, at 10,000 nodes 0.05 s.
            spans = []
            for net, node in self.cidrs:
                if net.version == version:
                    first = int(net.network_address)
                    spans.append((first, first + (1 << (net.max_prefixlen - net.prefixlen)) - 1, net, node))
            spans.sort(key=lambda s: (s[0], -s[1]))  # by start, the widest first
            widest: tuple[int, Network, ObjectRef] | None = None
            for first, last, net, node in spans:
                if widest is not None and first <= widest[0]:
                    if node.name != widest[2].name:
                        yield self.finding(
                            node,
                            f"podCIDR {net} overlaps {widest[1]} of node {widest[2].name}",
                            cidr=str(net),
                            other_node=widest[2].name,
                            other_cidr=str(widest[1]),
                        )
                    if last <= widest[0]:
                        continue
                widest = (last, net, node)


def service_ips(obj: Obj) -> set[str]:
    spec = obj.get("spec") or {}
    ips = {ip for ip in spec.get("clusterIPs") or [spec.get("clusterIP")] if ip and ip != "None"}
    ips.update(spec.get("externalIPs") or [])
    for ingress in ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
        if ingress.get("ip"):
            ips.add(ingress["ip"])
    return ips


@register
class DuplicateServiceIPCheck(Check):
    id = "network.duplicate-service-ip"
    title = "Service IPs (cluster, external, load balancer) claimed by more than one Service"
    severity = Severity.HIGH
    hint = "Each Service needs its own addresses; fix the allocator state or the externalIPs"
    needs = (Need(SERVICES),)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.first: dict[str, ObjectRef] = {}
        self.dupes: dict[str, list[ObjectRef]] = {}

    def observe(self, resource: Resource, obj: Obj) -> None:
        if not meta(obj).get("name"):
            return
        svc = ref(resource, obj)
        for ip in sorted(service_ips(obj)):
            other = self.first.setdefault(ip, svc)
            if other is not svc:
                self.dupes.setdefault(ip, [other]).append(svc)

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        for ip, svcs in sorted(self.dupes.items()):
            for svc in svcs:
                others = [str(s) for s in svcs if s is not svc]
                yield self.finding(svc, f"IP {ip} is also claimed by {others}", ip=ip)
