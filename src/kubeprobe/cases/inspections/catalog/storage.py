"""Storage: PersistentVolumes Released or Failed, claims Pending too long or Lost."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubeprobe.cases.inspections.check import Check
from kubeprobe.cases.inspections.objects import age_seconds, human_age, meta
from kubeprobe.cases.inspections.registry import register
from kubeprobe.kube.collect import PVCS, PVS, Need, Resource, Sweep
from kubeprobe.model import Finding, Severity

Obj = dict[str, Any]


@register
class PersistentVolumeStateCheck(Check):
    id = "storage.pv-released-failed"
    title = "PersistentVolumes Released or Failed"
    severity = Severity.MEDIUM
    hint = (
        "Released volumes keep their data and cost: recycle, reclaim or delete them; Failed ones need a look"
    )
    needs = (Need(PVS),)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.found: list[Finding] = []

    def observe(self, resource: Resource, obj: Obj) -> None:
        status = obj.get("status") or {}
        phase = status.get("phase")
        if phase not in ("Released", "Failed"):
            return
        claim = (obj.get("spec") or {}).get("claimRef") or {}
        was = f" (was bound to {claim.get('namespace')}/{claim.get('name')})" if claim else ""
        message = status.get("message") or ""
        self.found.append(
            self.finding_for(
                resource,
                obj,
                f"{phase}{was}{': ' + message if message else ''}",
                severity=Severity.HIGH if phase == "Failed" else Severity.MEDIUM,
                phase=phase,
            )
        )

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        return self.found


@register
class PersistentVolumeClaimStateCheck(Check):
    id = "storage.pvc-pending-lost"
    title = "PersistentVolumeClaims Pending too long or Lost"
    severity = Severity.HIGH
    hint = (
        "Pending: no volume or provisioner matches (storage class, size, access mode); "
        "Lost: its volume is gone"
    )
    needs = (Need(PVCS),)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.found: list[Finding] = []

    def observe(self, resource: Resource, obj: Obj) -> None:
        phase = (obj.get("status") or {}).get("phase")
        if phase == "Lost":
            volume = (obj.get("spec") or {}).get("volumeName")
            self.found.append(self.finding_for(resource, obj, f"Lost: its volume {volume!r} is gone"))
        elif phase == "Pending":
            age = age_seconds(meta(obj).get("creationTimestamp"), self.now)
            if age is not None and age >= self.settings.pvc_pending_minutes * 60:
                cls = (obj.get("spec") or {}).get("storageClassName")
                self.found.append(
                    self.finding_for(
                        resource,
                        obj,
                        f"Pending for {human_age(age)} (storage class {cls!r})",
                        severity=Severity.MEDIUM,
                    )
                )

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        return self.found
