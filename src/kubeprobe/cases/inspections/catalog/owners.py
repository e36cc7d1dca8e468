"""Objects whose owner is gone: generic over every listed resource, custom resources included.

An owner is looked up by uid among every object the sweep listed. When the owner's kind is served
but could not be listed (forbidden, failed), nothing is concluded for it; when its kind is not
served at all (a custom resource definition removed), the owner is gone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kubeprobe.cases.inspections.check import Check
from kubeprobe.cases.inspections.objects import labels, meta, ref
from kubeprobe.cases.inspections.registry import register
from kubeprobe.kube.collect import ALL_RESOURCES, Need, Resource, Sweep
from kubeprobe.model import Finding, ObjectRef, Severity

Obj = dict[str, Any]
SAMPLE = 20


@dataclass
class _Owner:
    api_version: str
    kind: str
    name: str
    count: int = 0
    dependents: list[tuple[ObjectRef, dict[str, str]]] = field(default_factory=list)


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0] if "/" in api_version else ""


@register
class MissingOwnerCheck(Check):
    id = "owner.missing"
    title = "Objects whose owner is gone"
    severity = Severity.MEDIUM
    hint = "The garbage collector should have removed them: check it, then delete the orphans"
    needs = (Need(ALL_RESOURCES, metadata_only=True),)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.uids: set[str] = set()
        self.owners: dict[str, _Owner] = {}

    def observe(self, resource: Resource, obj: Obj) -> None:
        m = meta(obj)
        uid = m.get("uid")
        if uid:
            self.uids.add(uid)
        for owner_ref in m.get("ownerReferences") or []:
            owner_uid = owner_ref.get("uid")
            if not owner_uid:
                continue
            owner = self.owners.get(owner_uid)
            if owner is None:
                owner = self.owners[owner_uid] = _Owner(
                    str(owner_ref.get("apiVersion") or ""),
                    str(owner_ref.get("kind") or ""),
                    str(owner_ref.get("name") or ""),
                )
            owner.count += 1
            if len(owner.dependents) < SAMPLE:
                owner.dependents.append((ref(resource, obj), labels(obj)))

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        served = sweep.discovery.by_kind() if sweep.discovery else {}
        listed = {r.key for r in sweep.listed}
        stale = set(sweep.discovery.stale_groups) if sweep.discovery else set()
        for owner_uid, owner in self.owners.items():
            if owner_uid in self.uids:
                continue
            group = _group(owner.api_version)
            resource = served.get((group, owner.kind))
            if resource is not None and resource.key not in listed:
                continue  # could not look: say nothing
            if resource is None and (group or "core") in stale:
                continue  # its API group is unavailable right now: it may exist
            gone = "does not exist" if resource else f"kind {owner.kind} of {owner.api_version} is not served"
            for dependent, lab in owner.dependents:
                yield self.finding(
                    dependent,
                    f"owner {owner.kind}/{owner.name} (uid {owner_uid}) {gone}"
                    + (f"; {owner.count} objects name this owner" if owner.count > 1 else ""),
                    labels=lab or None,
                    owner_kind=owner.kind,
                    owner_name=owner.name,
                    owner_uid=owner_uid,
                )
