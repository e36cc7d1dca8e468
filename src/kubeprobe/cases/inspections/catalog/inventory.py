"""Agreement with sources of truth: nodes against an inventory, pod IPs against an IPAM export."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubeprobe.cases.inspections.catalog.network import pod_ips
from kubeprobe.cases.inspections.check import Check
from kubeprobe.cases.inspections.errors import CheckSkipped, SourceError
from kubeprobe.cases.inspections.objects import meta, ref
from kubeprobe.cases.inspections.registry import register
from kubeprobe.cases.inspections.sources import Row, column, load_rows
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.collect import NODES, PODS, Need, Resource, Sweep
from kubeprobe.model import Finding, ObjectRef, Severity

Obj = dict[str, Any]


@register
class NodeInventoryCheck(Check):
    id = "inventory.node-mismatch"
    title = "Nodes that disagree with the inventory"
    severity = Severity.MEDIUM
    hint = "Fix the inventory (CMDB) or the cluster: every node should be known, every known node present"
    needs = (Need(NODES, metadata_only=True),)
    gather_first = True  # a skipped check should not cost a LIST

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.inventory: list[str] = []
        self.nodes: dict[str, ObjectRef] = {}

    async def gather(self, kube: KubeClient) -> None:
        if not self.settings.inventory:
            raise CheckSkipped("no node inventory configured (setting `inventory`: CSV file or JSON URL)")
        self.set_rows(await load_rows(self.settings.inventory))

    def set_rows(self, rows: list[Row]) -> None:
        names = [column(r, "name", "node", "hostname") for r in rows]
        if rows and not any(names):
            raise SourceError("the inventory has no name, node or hostname column")
        self.inventory = [n for n in names if n]

    def observe(self, resource: Resource, obj: Obj) -> None:
        self.nodes[str(meta(obj).get("name"))] = ref(resource, obj)

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        known = set(self.inventory)
        for name, node in sorted(self.nodes.items()):
            if name not in known:
                yield self.finding(node, "node is in the cluster but not in the inventory", side="cluster")
        for name in sorted(known - set(self.nodes)):
            yield self.finding(
                ObjectRef(kind="Node", name=name),
                "node is in the inventory but not in the cluster",
                side="inventory",
            )


@register
class IPAMCheck(Check):
    id = "ipam.pod-ip-mismatch"
    title = "Pod IPs that disagree with the IPAM export"
    severity = Severity.HIGH
    hint = "The IPAM and the cluster disagree: an address may be handed out twice. Reconcile them"
    needs = (Need(PODS),)
    gather_first = True  # observe() compares each pod with the export

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.ipam: dict[str, tuple[str, str]] = {}
        self.used: set[str] = set()
        self.found: list[Finding] = []

    async def gather(self, kube: KubeClient) -> None:
        if not self.settings.ipam:
            raise CheckSkipped("no IPAM export configured (setting `ipam`: CSV/JSON file or JSON URL)")
        self.set_rows(await load_rows(self.settings.ipam))

    def set_rows(self, rows: list[Row]) -> None:
        for row in rows:
            ip = column(row, "ip", "address")
            if not ip:
                raise SourceError(f"an IPAM entry has no ip column: {row}")
            self.ipam[ip] = (column(row, "namespace", "ns"), column(row, "pod", "name"))

    def observe(self, resource: Resource, obj: Obj) -> None:
        if (obj.get("spec") or {}).get("hostNetwork"):
            return
        if (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return
        m = meta(obj)
        here = (str(m.get("namespace") or ""), str(m.get("name") or ""))
        for ip in pod_ips(obj):
            self.used.add(ip)
            owner = self.ipam.get(ip)
            if owner is None:
                self.found.append(self.finding_for(resource, obj, f"pod IP {ip} is not in the IPAM", ip=ip))
            elif owner[1] and owner != here:
                self.found.append(
                    self.finding_for(
                        resource, obj, f"pod IP {ip} is allocated to {owner[0]}/{owner[1]} in the IPAM", ip=ip
                    )
                )

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        yield from self.found
        for ip, (namespace, name) in sorted(self.ipam.items()):
            if ip not in self.used:
                yield self.finding(
                    ObjectRef(kind="Pod", name=name or ip, namespace=namespace or None),
                    f"IPAM allocates {ip} to a pod that has no such IP in the cluster (stale allocation)",
                    severity=Severity.LOW,
                    ip=ip,
                )
