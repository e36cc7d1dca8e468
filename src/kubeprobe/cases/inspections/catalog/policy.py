"""Policies that block: PodDisruptionBudgets that allow no disruption, ResourceQuotas near their limit."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubeprobe.cases.inspections.check import Check
from kubeprobe.cases.inspections.objects import quantity
from kubeprobe.cases.inspections.registry import register
from kubeprobe.kube.collect import PDBS, QUOTAS, Need, Resource, Sweep
from kubeprobe.model import Finding, Severity

Obj = dict[str, Any]


@register
class PDBBlocksDisruptionCheck(Check):
    id = "pdb.blocks-disruption"
    title = "PodDisruptionBudgets that block every disruption"
    severity = Severity.HIGH
    hint = "Drains and upgrades hang on it: allow at least one disruption (maxUnavailable >= 1)"
    needs = (Need(PDBS),)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.found: list[Finding] = []

    def observe(self, resource: Resource, obj: Obj) -> None:
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        expected = int(status.get("expectedPods") or 0)
        if expected == 0 or int(status.get("disruptionsAllowed") or 0) > 0:
            return
        healthy = int(status.get("currentHealthy") or 0)
        desired = int(status.get("desiredHealthy") or 0)
        max_unavailable = spec.get("maxUnavailable")
        min_available = spec.get("minAvailable")
        by_design = str(max_unavailable) in ("0", "0%") or (
            min_available is not None
            and (
                str(min_available) == "100%" or (isinstance(min_available, int) and min_available >= expected)
            )
        )
        if by_design:
            why = f"its spec allows none (minAvailable {min_available}, maxUnavailable {max_unavailable})"
            severity = Severity.HIGH
        else:
            why = f"only {healthy} of {expected} pods are healthy and {desired} must stay"
            severity = Severity.MEDIUM
        self.found.append(
            self.finding_for(
                resource,
                obj,
                f"allows 0 disruptions: {why}",
                severity=severity,
                expected_pods=expected,
                by_design=by_design,
            )
        )

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        return self.found


@register
class QuotaNearLimitCheck(Check):
    id = "quota.near-limit"
    title = "ResourceQuotas near their limit"
    severity = Severity.MEDIUM
    hint = "New objects will be refused in this namespace: raise the quota or free resources"
    needs = (Need(QUOTAS),)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.found: list[Finding] = []

    def observe(self, resource: Resource, obj: Obj) -> None:
        status = obj.get("status") or {}
        hard = status.get("hard") or {}
        used = status.get("used") or {}
        for name, limit_text in sorted(hard.items()):
            limit = quantity(limit_text)
            current = quantity(used.get(name, "0"))
            if limit is None or current is None:
                continue
            ratio = current / limit if limit > 0 else (1.0 if current >= 0 else 0.0)
            if ratio >= self.settings.quota_ratio:
                full = ratio >= 1.0
                self.found.append(
                    self.finding_for(
                        resource,
                        obj,
                        f"{name}: {used.get(name, '0')} of {limit_text} used ({ratio:.0%})",
                        severity=Severity.HIGH if full else Severity.MEDIUM,
                        resource_name=name,
                        ratio=round(ratio, 3),
                    )
                )

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        return self.found
