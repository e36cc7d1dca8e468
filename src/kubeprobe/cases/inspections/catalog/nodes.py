"""Nodes: NotReady, under pressure, cordoned too long, and taints that no workload tolerates."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubeprobe.cases.inspections.check import Check
from kubeprobe.cases.inspections.objects import age_seconds, human_age, ref
from kubeprobe.cases.inspections.registry import register
from kubeprobe.kube.collect import NODES, PODS, Need, Resource, Sweep, well_known
from kubeprobe.model import Finding, ObjectRef, Severity

Obj = dict[str, Any]
DAEMONSETS = well_known("apps", "v1", "daemonsets", "DaemonSet")
PRESSURES = ("MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable")
#: Taints set and lifted by Kubernetes itself; other checks look at the conditions behind them.
SYSTEM_TAINT_PREFIXES = ("node.kubernetes.io/", "node.cloudprovider.kubernetes.io/")


def _conditions(obj: Obj) -> dict[str, Obj]:
    return {c.get("type", ""): c for c in (obj.get("status") or {}).get("conditions") or []}


@register
class NodeNotReadyCheck(Check):
    id = "node.not-ready"
    title = "Nodes NotReady"
    severity = Severity.HIGH
    hint = "Check the node's kubelet, its container runtime and its network to the API server"
    needs = (Need(NODES),)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.found: list[Finding] = []

    def observe(self, resource: Resource, obj: Obj) -> None:
        ready = _conditions(obj).get("Ready")
        if ready and ready.get("status") == "True":
            return
        if ready is None:
            message = "has no Ready condition (never reported by a kubelet)"
        else:
            since = age_seconds(ready.get("lastTransitionTime"), self.now)
            when = f" for {human_age(since)}" if since is not None else ""
            message = (
                f"Ready={ready.get('status')}{when}: {ready.get('reason') or ''} {ready.get('message') or ''}"
            )
        self.found.append(self.finding_for(resource, obj, message.strip()))

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        return self.found


@register
class NodePressureCheck(Check):
    id = "node.pressure"
    title = "Nodes under memory, disk or PID pressure"
    severity = Severity.HIGH
    hint = "The kubelet evicts pods under pressure: free the resource or move workloads away"
    needs = (Need(NODES),)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.found: list[Finding] = []

    def observe(self, resource: Resource, obj: Obj) -> None:
        conds = _conditions(obj)
        for kind in PRESSURES:
            cond = conds.get(kind)
            if cond and cond.get("status") == "True":
                self.found.append(
                    self.finding_for(
                        resource,
                        obj,
                        f"{kind}: {cond.get('reason') or ''} {cond.get('message') or ''}".strip(),
                    )
                )

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        return self.found


@register
class NodeCordonedCheck(Check):
    id = "node.cordoned"
    title = "Nodes cordoned too long"
    severity = Severity.MEDIUM
    hint = "Finish the maintenance and uncordon the node, or remove it from the cluster"
    needs = (Need(NODES),)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.found: list[Finding] = []

    def observe(self, resource: Resource, obj: Obj) -> None:
        spec = obj.get("spec") or {}
        if not spec.get("unschedulable"):
            return
        added = None
        for taint in spec.get("taints") or []:
            if taint.get("key") == "node.kubernetes.io/unschedulable":
                added = taint.get("timeAdded")
        age = age_seconds(added, self.now)
        if age is None:
            return  # just cordoned: the taint with its time is added by the node controller
        if age >= self.settings.cordon_hours * 3600:
            self.found.append(self.finding_for(resource, obj, f"cordoned for {human_age(age)}"))

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        return self.found


def tolerates(toleration: Obj, taint: Obj) -> bool:
    """Kubernetes' rule: key (empty with Exists matches all), operator, value, effect."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    operator = toleration.get("operator") or "Equal"
    if not key:
        return operator == "Exists"
    if key != taint.get("key"):
        return False
    return operator == "Exists" or (toleration.get("value") or "") == (taint.get("value") or "")


@register
class UntoleratedTaintCheck(Check):
    id = "node.untolerated-taint"
    title = "Taints that no workload tolerates"
    severity = Severity.MEDIUM
    hint = (
        "Nothing can be scheduled there: remove the taint, or add the toleration to the workloads "
        "meant to run there"
    )
    needs = (Need(NODES), Need(PODS), Need(DAEMONSETS))

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.taints: dict[tuple[str, str, str], list[ObjectRef]] = {}
        self.tolerations: set[tuple[tuple[str, str], ...]] = set()
        self.seen: set[tuple[tuple[str, Any], ...]] = set()
        self.last: list[Obj] = []

    def observe(self, resource: Resource, obj: Obj) -> None:
        if resource.key == NODES.key:
            for taint in (obj.get("spec") or {}).get("taints") or []:
                key = taint.get("key") or ""
                if taint.get("effect") not in ("NoSchedule", "NoExecute"):
                    continue
                if key.startswith(SYSTEM_TAINT_PREFIXES):
                    continue
                ident = (key, taint.get("value") or "", taint["effect"])
                self.taints.setdefault(ident, []).append(ref(resource, obj))
            return
        spec = obj.get("spec") or {}
        if resource.key == DAEMONSETS.key:
            spec = ((spec.get("template") or {}).get("spec")) or {}
        tolerations = spec.get("tolerations") or []
        if tolerations == self.last:  # as the previous pod's (compared in C): nothing new
            return
        self.last = tolerations
        for tol in tolerations:
            # 100,000 pods carry a handful of distinct tolerations: normalise each one once.
            try:
                raw: Any = tuple(tol.items())
                if raw in self.seen:
                    continue
                self.seen.add(raw)
            except TypeError:  # a value that is not a scalar: normalised every time
                pass
            self.tolerations.add(tuple(sorted((k, str(v)) for k, v in tol.items() if v is not None)))

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        tolerations = [dict(t) for t in self.tolerations]
        for (key, value, effect), nodes in sorted(self.taints.items()):
            taint = {"key": key, "value": value, "effect": effect}
            if any(tolerates(t, taint) for t in tolerations):
                continue
            shown = f"{key}={value}:{effect}" if value else f"{key}:{effect}"
            yield self.finding(
                nodes[0],
                f"taint {shown} on {len(nodes)} node(s) is tolerated by no pod or DaemonSet",
                taint=shown,
                nodes=[n.name for n in nodes[:20]],
                node_count=len(nodes),
            )
