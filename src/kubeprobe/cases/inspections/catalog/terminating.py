"""Objects and namespaces stuck terminating on finalizers (any resource, custom ones included)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubeprobe.cases.inspections.check import Check
from kubeprobe.cases.inspections.objects import age_seconds, human_age, meta
from kubeprobe.cases.inspections.registry import register
from kubeprobe.kube.collect import ALL_RESOURCES, NAMESPACES, PODS, Need, Resource, Sweep
from kubeprobe.model import Finding, Severity

Obj = dict[str, Any]


@register
class StuckFinalizerCheck(Check):
    id = "object.stuck-terminating"
    title = "Objects stuck terminating on finalizers"
    severity = Severity.MEDIUM
    hint = (
        "The controller that owns the finalizer is gone or failing: fix it, or remove the finalizer knowingly"
    )
    needs = (Need(ALL_RESOURCES, metadata_only=True),)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.found: dict[str, Finding] = {}

    def observe_page(self, resource: Resource, items: list[Obj]) -> None:
        if resource.key in (PODS.key, NAMESPACES.key):
            return  # their own checks know more about them
        super().observe_page(resource, items)

    def observe(self, resource: Resource, obj: Obj) -> None:
        if resource.key in (PODS.key, NAMESPACES.key):
            return
        m = meta(obj)
        finalizers = m.get("finalizers") or []
        overdue = age_seconds(m.get("deletionTimestamp"), self.now)
        if not finalizers or overdue is None or overdue < self.settings.terminating_minutes * 60:
            return
        uid = str(m.get("uid") or f"{resource}/{m.get('namespace')}/{m.get('name')}")
        self.found.setdefault(
            uid,
            self.finding_for(
                resource,
                obj,
                f"deleted {human_age(overdue)} ago, still held by finalizers {list(finalizers)}",
                finalizers=list(finalizers),
            ),
        )

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        return self.found.values()


@register
class NamespaceTerminatingCheck(Check):
    id = "namespace.stuck-terminating"
    title = "Namespaces stuck terminating"
    severity = Severity.MEDIUM
    hint = "The namespace's conditions say what remains: objects with finalizers or unreachable APIs"
    needs = (Need(NAMESPACES),)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.found: list[Finding] = []

    def observe(self, resource: Resource, obj: Obj) -> None:
        overdue = age_seconds(meta(obj).get("deletionTimestamp"), self.now)
        if overdue is None or overdue < self.settings.terminating_minutes * 60:
            return
        reasons = [
            f"{c.get('reason')}: {c.get('message')}"
            for c in (obj.get("status") or {}).get("conditions") or []
            if c.get("status") == "True"
        ]
        why = "; ".join(reasons) or "no condition says why"
        self.found.append(self.finding_for(resource, obj, f"terminating for {human_age(overdue)}: {why}"))

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        return self.found
