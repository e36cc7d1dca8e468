"""Versions: deprecated API versions in use, image skew inside a workload, kubelet/API server skew."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kubeprobe.cases.inspections.check import Check
from kubeprobe.cases.inspections.objects import meta, ref
from kubeprobe.cases.inspections.registry import register
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.collect import ALL_RESOURCES, CRDS, NODES, PODS, REPLICASETS, Need, Resource, Sweep
from kubeprobe.model import Finding, ObjectRef, Severity

Obj = dict[str, Any]
#: Built-in API versions that are deprecated or removed, with the release that removes them.
DEPRECATED_BUILTIN = {
    "extensions/v1beta1": "1.22",
    "admissionregistration.k8s.io/v1beta1": "1.22",
    "apiextensions.k8s.io/v1beta1": "1.22",
    "apiregistration.k8s.io/v1beta1": "1.22",
    "rbac.authorization.k8s.io/v1beta1": "1.22",
    "scheduling.k8s.io/v1beta1": "1.22",
    "certificates.k8s.io/v1beta1": "1.22",
    "coordination.k8s.io/v1beta1": "1.22",
    "networking.k8s.io/v1beta1": "1.22",
    "batch/v1beta1": "1.25",
    "discovery.k8s.io/v1beta1": "1.25",
    "events.k8s.io/v1beta1": "1.25",
    "policy/v1beta1": "1.25",
    "node.k8s.io/v1beta1": "1.25",
    "autoscaling/v2beta1": "1.25",
    "autoscaling/v2beta2": "1.26",
    "storage.k8s.io/v1beta1": "1.27",
    "flowcontrol.apiserver.k8s.io/v1beta1": "1.26",
    "flowcontrol.apiserver.k8s.io/v1beta2": "1.29",
    "flowcontrol.apiserver.k8s.io/v1beta3": "1.32",
}
METRIC = re.compile(r"^apiserver_requested_deprecated_apis\{([^}]*)\}\s+(\S+)", re.MULTILINE)
LABEL = re.compile(r'(\w+)="([^"]*)"')
SAMPLE = 20


@dataclass
class _Use:
    count: int = 0
    managers: set[str] = field(default_factory=set)
    sample: list[ObjectRef] = field(default_factory=list)


@register
class DeprecatedAPICheck(Check):
    id = "api.deprecated-versions"
    title = "Use of deprecated API versions"
    severity = Severity.MEDIUM
    hint = (
        "Move the clients (and manifests) named here to the served, non-deprecated version "
        "before it is removed"
    )
    needs = (Need(ALL_RESOURCES, metadata_only=True), Need(CRDS))

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.requested: list[dict[str, str]] = []
        self.crd_deprecated: dict[str, str] = {}
        self.uses: dict[str, _Use] = {}

    async def gather(self, kube: KubeClient) -> None:
        text = await kube.request("GET", "/metrics")
        for labels_text, value in METRIC.findall(str(text)):
            if float(value) > 0:
                self.requested.append(dict(LABEL.findall(labels_text)))

    def observe(self, resource: Resource, obj: Obj) -> None:
        if resource.key == CRDS.key and obj.get("spec"):
            group = obj["spec"].get("group") or ""
            for version in obj["spec"].get("versions") or []:
                if version.get("deprecated") and version.get("served"):
                    warning = (
                        version.get("deprecationWarning") or "deprecated by its CustomResourceDefinition"
                    )
                    self.crd_deprecated[f"{group}/{version.get('name')}"] = warning
        for entry in meta(obj).get("managedFields") or []:
            api_version = entry.get("apiVersion") or ""
            if api_version == resource.api_version:
                continue
            use = self.uses.setdefault(f"{api_version}|{resource.kind}", _Use())
            use.count += 1
            use.managers.add(str(entry.get("manager") or "?"))
            if len(use.sample) < SAMPLE:
                use.sample.append(ref(resource, obj))

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        for req in self.requested:
            gv = f"{req.get('group')}/{req.get('version')}" if req.get("group") else str(req.get("version"))
            removed = req.get("removed_release")
            yield self.finding(
                ObjectRef(kind="APIResource", name=f"{req.get('resource')}", api_version=gv),
                f"clients requested {gv} {req.get('resource')}, deprecated"
                + (f" and removed in {removed}" if removed else " (no removal planned)"),
                # A deprecation without a removal date is a notice, not a risk yet.
                severity=self.severity if removed else Severity.INFO,
                removed_release=removed,
            )
        for key, use in sorted(self.uses.items()):
            api_version, _, kind = key.partition("|")
            why = self.crd_deprecated.get(api_version)
            if why is None and api_version in DEPRECATED_BUILTIN:
                why = f"deprecated, removed in {DEPRECATED_BUILTIN[api_version]}"
            if why is None:
                continue
            for obj in use.sample:
                yield self.finding(
                    obj,
                    f"written through {api_version} by {sorted(use.managers)} ({why}); "
                    f"{use.count} {kind} objects were",
                    written_api_version=api_version,
                )


@dataclass
class _Workload:
    ref: ObjectRef
    images: dict[str, dict[str, int]] = field(default_factory=dict)


def _controller(obj: Obj) -> Obj | None:
    for owner in meta(obj).get("ownerReferences") or []:
        if owner.get("controller"):
            return dict(owner)
    return None


@register
class ImageSkewCheck(Check):
    id = "workload.image-skew"
    title = "Pods of one workload running different images"
    severity = Severity.LOW
    hint = "A rollout is stuck or a pod was changed by hand: finish the rollout or recreate the odd pods"
    needs = (Need(PODS), Need(REPLICASETS, metadata_only=True))

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.rs_owner: dict[str, Obj] = {}
        self.workloads: dict[str, _Workload] = {}
        self.pod_owner: dict[str, Obj] = {}

    def observe(self, resource: Resource, obj: Obj) -> None:
        ctrl = _controller(obj)
        if resource.key == REPLICASETS.key:
            if ctrl:
                self.rs_owner[str(meta(obj).get("uid"))] = ctrl
            return
        if ctrl is None:
            return
        key = str(ctrl.get("uid"))
        namespace = meta(obj).get("namespace")
        work = self.workloads.get(key)
        if work is None:
            work = self.workloads[key] = _Workload(
                ObjectRef(kind=str(ctrl.get("kind")), name=str(ctrl.get("name")), namespace=namespace)
            )
        for container in (obj.get("spec") or {}).get("containers") or []:
            counts = work.images.setdefault(str(container.get("name")), {})
            image = str(container.get("image"))
            counts[image] = counts.get(image, 0) + 1

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        merged: dict[str, _Workload] = {}
        for uid, work in self.workloads.items():
            top = self.rs_owner.get(uid) if work.ref.kind == "ReplicaSet" else None
            key = str(top.get("uid")) if top else uid
            target = merged.get(key)
            if target is None:
                name_ref = (
                    ObjectRef(
                        kind=str(top.get("kind")), name=str(top.get("name")), namespace=work.ref.namespace
                    )
                    if top
                    else work.ref
                )
                target = merged[key] = _Workload(name_ref)
            for container, counts in work.images.items():
                into = target.images.setdefault(container, {})
                for image, n in counts.items():
                    into[image] = into.get(image, 0) + n
        for work in merged.values():
            for container, counts in sorted(work.images.items()):
                if len(counts) > 1:
                    shown = ", ".join(f"{img} ×{n}" for img, n in sorted(counts.items()))
                    yield self.finding(
                        work.ref, f"container {container!r} runs {len(counts)} images: {shown}"
                    )


def minor_version(text: str) -> tuple[int, int] | None:
    match = re.match(r"v?(\d+)\.(\d+)", text or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


@register
class KubeletSkewCheck(Check):
    id = "version.kubelet-skew"
    title = "Kubelets newer than the API server or too many minors older"
    severity = Severity.HIGH
    hint = "Upgrade the kubelets named here: they may be at most the supported minors behind the API server"
    needs = (Need(NODES),)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.server: str = ""
        self.versions: dict[str, list[ObjectRef]] = {}

    async def gather(self, kube: KubeClient) -> None:
        self.server = str((await kube.get("/version")).get("gitVersion") or "")

    def observe(self, resource: Resource, obj: Obj) -> None:
        version = ((obj.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion") or ""
        nodes = self.versions.setdefault(version, [])
        if len(nodes) < SAMPLE:
            nodes.append(ref(resource, obj))

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        server = minor_version(self.server)
        if server is None:
            return
        for version, nodes in sorted(self.versions.items()):
            kubelet = minor_version(version)
            if kubelet is None or kubelet[0] != server[0]:
                continue
            behind = server[1] - kubelet[1]
            if behind < 0:
                why = f"newer than the API server {self.server}"
            elif behind > self.settings.kubelet_max_minor_skew:
                limit = self.settings.kubelet_max_minor_skew
                why = f"{behind} minors behind the API server {self.server} (at most {limit})"
            else:
                continue
            for node in nodes:
                yield self.finding(node, f"kubelet {version} is {why}", kubelet=version, server=self.server)
