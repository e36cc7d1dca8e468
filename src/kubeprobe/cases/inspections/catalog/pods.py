"""Pods: bound to nodes that no longer exist, stuck Pending or Terminating, crash-looping."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubeprobe.cases.inspections.check import Check
from kubeprobe.cases.inspections.objects import age_seconds, human_age, meta
from kubeprobe.cases.inspections.registry import register
from kubeprobe.kube.collect import NODES, PODS, Need, Resource, Sweep
from kubeprobe.model import Finding, ObjectRef, Severity

Obj = dict[str, Any]
SAMPLE = 10


@register
class PodOnMissingNodeCheck(Check):
    id = "pod.node-missing"
    title = "Pods bound to nodes that no longer exist"
    severity = Severity.HIGH
    hint = "Delete the pods (their controller recreates them) and find why pod GC did not"
    needs = (Need(PODS), Need(NODES, metadata_only=True))

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.nodes: set[str] = set()
        # Per node: how many pods, and a few of them (namespace, name) — compact at 100k pods.
        self.by_node: dict[str, list[tuple[str, str]]] = {}
        self.count: dict[str, int] = {}

    def observe(self, resource: Resource, obj: Obj) -> None:
        if resource.key == NODES.key:
            self.nodes.add(meta(obj).get("name") or "")
            return
        node = (obj.get("spec") or {}).get("nodeName")
        # A node already seen exists: its pods can make no finding (nor their count), skip them.
        if node and node not in self.nodes:
            count = self.count[node] = self.count.get(node, 0) + 1
            if count <= SAMPLE:  # the first few pods of each node, no list per pod
                m = meta(obj)
                pod = (str(m.get("namespace") or ""), str(m.get("name") or ""))
                if count == 1:
                    self.by_node[node] = [pod]
                else:
                    self.by_node[node].append(pod)

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        for node, pods in sorted(self.by_node.items()):
            if node in self.nodes:
                continue
            total = self.count[node]
            for namespace, name in pods:
                yield self.finding(
                    ObjectRef(kind="Pod", name=name, namespace=namespace, api_version="v1"),
                    f"bound to node {node!r}, which does not exist ({total} pods bound to it)",
                    node=node,
                    pods_on_node=total,
                )


def _phase(obj: Obj) -> str:
    return str((obj.get("status") or {}).get("phase") or "")


@register
class PodStuckPendingCheck(Check):
    id = "pod.stuck-pending"
    title = "Pods stuck Pending"
    severity = Severity.MEDIUM
    hint = "Look at the pod's events and conditions: scheduling, quota, volumes or images"
    needs = (Need(PODS, field_selector="status.phase=Pending"),)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.found: list[Finding] = []

    def observe(self, resource: Resource, obj: Obj) -> None:
        m = meta(obj)
        if _phase(obj) != "Pending" or m.get("deletionTimestamp"):
            return
        age = age_seconds(m.get("creationTimestamp"), self.now)
        if age is None or age < self.settings.pending_minutes * 60:
            return
        reason = ""
        for cond in (obj.get("status") or {}).get("conditions") or []:
            if cond.get("status") == "False" and cond.get("reason"):
                reason = f": {cond['type']} {cond['reason']} {cond.get('message') or ''}".rstrip()
                break
        scheduled = "scheduled" if (obj.get("spec") or {}).get("nodeName") else "not scheduled"
        self.found.append(
            self.finding_for(resource, obj, f"Pending for {human_age(age)}, {scheduled}{reason}")
        )

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        return self.found


@register
class PodStuckTerminatingCheck(Check):
    id = "pod.stuck-terminating"
    title = "Pods stuck Terminating"
    severity = Severity.MEDIUM
    hint = "Check finalizers and the node's kubelet; force-delete only when the node is gone"
    needs = (Need(PODS),)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.found: list[Finding] = []

    def observe(self, resource: Resource, obj: Obj) -> None:
        m = meta(obj)
        # deletionTimestamp is when the grace period ends: past it by the threshold means stuck.
        overdue = age_seconds(m.get("deletionTimestamp"), self.now)
        if overdue is None or overdue < self.settings.terminating_minutes * 60:
            return
        finalizers = list(m.get("finalizers") or [])
        why = f", finalizers {finalizers}" if finalizers else ""
        self.found.append(
            self.finding_for(
                resource,
                obj,
                f"Terminating, {human_age(overdue)} past its grace period{why}",
                finalizers=finalizers,
            )
        )

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        return self.found


@register
class PodCrashLoopCheck(Check):
    id = "pod.crash-looping"
    title = "Crash-looping containers"
    severity = Severity.HIGH
    hint = "Read the container's previous logs (kubectl logs --previous) and its last exit reason"
    needs = (Need(PODS),)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.found: list[Finding] = []
        self.threshold = self.settings.crashloop_restarts

    def observe(self, resource: Resource, obj: Obj) -> None:
        status = obj.get("status") or {}
        statuses = status.get("containerStatuses") or ()
        if status.get("initContainerStatuses"):
            statuses = [*status["initContainerStatuses"], *statuses]
        for cs in statuses:
            restarts = int(cs.get("restartCount") or 0)
            state = cs.get("state")
            waiting = state.get("waiting") if state else None
            looping = bool(waiting and waiting.get("reason") == "CrashLoopBackOff")
            if not looping and restarts < self.threshold:
                continue
            last = ((cs.get("lastState") or {}).get("terminated") or {}).get("reason") or "unknown"
            state = "in CrashLoopBackOff" if looping else "restarting"
            self.found.append(
                self.finding_for(
                    resource,
                    obj,
                    f"container {cs.get('name')!r} {state}, {restarts} restarts, last exit: {last}",
                    severity=Severity.HIGH if looping else Severity.MEDIUM,
                    container=cs.get("name"),
                    restarts=restarts,
                )
            )

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        return self.found
