"""Configuration that must exist and agree across a fleet.

``config.risk-control-missing``: each object named in the ``risk_control`` setting (a rate-limit
ConfigMap, a FlowSchema ...) must exist in every cluster. ``config.drift``: a fingerprint of named
objects (FlowSchemas, PriorityLevelConfigurations, webhook configurations with the images behind
their services, the risk-control objects) compared across the fleet, against a baseline cluster
or, without one, the majority.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

from kubeprobe.cases.inspections.check import Check, CheckContext, FleetCheck
from kubeprobe.cases.inspections.errors import SettingsError
from kubeprobe.cases.inspections.objects import meta
from kubeprobe.cases.inspections.registry import register
from kubeprobe.kube.client import KubeClient, resource_path
from kubeprobe.kube.collect import (
    CONFIGMAPS,
    DEPLOYMENTS,
    FLOWSCHEMAS,
    MUTATING_WEBHOOKS,
    NAMESPACES,
    PRIORITY_LEVELS,
    SECRETS,
    SERVICES,
    VALIDATING_WEBHOOKS,
    Need,
    Resource,
    Sweep,
    discover,
)
from kubeprobe.kube.errors import NotFoundError
from kubeprobe.model import Finding, ObjectRef, Severity

Obj = dict[str, Any]
MISSING = "<missing>"
WELL_KNOWN = (
    CONFIGMAPS,
    SECRETS,
    SERVICES,
    DEPLOYMENTS,
    FLOWSCHEMAS,
    PRIORITY_LEVELS,
    VALIDATING_WEBHOOKS,
    MUTATING_WEBHOOKS,
    NAMESPACES,
)


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def parse_named(text: str) -> tuple[str, str | None, str]:
    parts = text.split("/")
    if len(parts) == 2:
        return parts[0], None, parts[1]
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    raise SettingsError(f"bad risk_control entry {text!r}: write KIND/NAMESPACE/NAME or KIND/NAME")


async def fetch_named(kube: KubeClient, entries: Iterable[str]) -> dict[str, Obj | None]:
    """Each named object (None when it does not exist), its kind resolved by discovery."""
    wanted = [(text, *parse_named(text)) for text in entries]
    if not wanted:
        return {}
    kinds: dict[str, Resource] = {r.kind: r for r in WELL_KNOWN}
    if any(kind not in kinds for _, kind, _, _ in wanted):
        for res in (await discover(kube)).resources:
            kinds.setdefault(res.kind, res)
    found: dict[str, Obj | None] = {}
    for text, kind, namespace, name in wanted:
        found_res = kinds.get(kind)
        if found_res is None:
            found[text] = None  # the kind is not even served
            continue
        try:
            path = resource_path(found_res.api_version, found_res.plural, namespace, name)
            found[text] = await kube.get(path)
        except NotFoundError:
            found[text] = None
    return found


def _named_ref(text: str) -> ObjectRef:
    kind, namespace, name = parse_named(text)
    return ObjectRef(kind=kind, name=name, namespace=namespace)


@register
class RiskControlCheck(Check):
    id = "config.risk-control-missing"
    title = "Clusters missing their risk-control configuration"
    severity = Severity.HIGH
    hint = "Apply the fleet's risk-control objects (rate limits, flow control) to this cluster"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.objects: dict[str, Obj | None] = {}

    async def gather(self, kube: KubeClient) -> None:
        self.objects = await fetch_named(kube, self.settings.risk_control)

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        for text, obj in sorted(self.objects.items()):
            if obj is None:
                yield self.finding(
                    _named_ref(text), f"risk-control object {text} does not exist in this cluster"
                )


def _strip_webhook(hook: Obj) -> Obj:
    client = dict(hook.get("clientConfig") or {})
    client.pop("caBundle", None)  # each cluster has its own CA: not drift
    return {**hook, "clientConfig": client}


@register
class ConfigDriftCheck(FleetCheck):
    id = "config.drift"
    title = "Configuration that differs between clusters of a fleet"
    severity = Severity.MEDIUM
    hint = "Bring this cluster's object in line with the baseline (or the fleet), or exclude it on purpose"
    needs = (
        Need(FLOWSCHEMAS),
        Need(PRIORITY_LEVELS),
        Need(VALIDATING_WEBHOOKS),
        Need(MUTATING_WEBHOOKS),
        Need(SERVICES),
        Need(DEPLOYMENTS),
    )

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.prints: dict[str, str] = {}
        self.webhook_services: dict[str, set[tuple[str, str]]] = {}
        self.selectors: dict[tuple[str, str], dict[str, str]] = {}
        self.deployments: list[tuple[str, dict[str, str], list[str]]] = []

    async def gather(self, kube: KubeClient) -> None:
        for text, obj in (await fetch_named(kube, self.settings.risk_control)).items():
            body = None if obj is None else {k: obj.get(k) for k in ("data", "spec", "binaryData")}
            self.prints[text] = MISSING if obj is None else digest(body)

    def observe(self, resource: Resource, obj: Obj) -> None:
        m = meta(obj)
        name = str(m.get("name"))
        if resource.key in (FLOWSCHEMAS.key, PRIORITY_LEVELS.key):
            self.prints[f"{resource.kind}/{name}"] = digest(obj.get("spec"))
        elif resource.key in (VALIDATING_WEBHOOKS.key, MUTATING_WEBHOOKS.key):
            hooks = [_strip_webhook(h) for h in obj.get("webhooks") or []]
            self.prints[f"{resource.kind}/{name}"] = digest(hooks)
            for hook in hooks:
                svc = hook["clientConfig"].get("service")
                if svc:
                    key = f"{resource.kind}/{name}"
                    self.webhook_services.setdefault(key, set()).add((svc.get("namespace"), svc.get("name")))
        elif resource.key == SERVICES.key:
            selector = (obj.get("spec") or {}).get("selector")
            if selector:
                self.selectors[(str(m.get("namespace")), name)] = dict(selector)
        elif resource.key == DEPLOYMENTS.key:
            template = (obj.get("spec") or {}).get("template") or {}
            images = sorted(c.get("image", "") for c in (template.get("spec") or {}).get("containers") or [])
            labels = dict((template.get("metadata") or {}).get("labels") or {})
            self.deployments.append((str(m.get("namespace")), labels, images))

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        return []

    def fingerprint(self) -> dict[str, str]:
        prints = dict(self.prints)
        for key, services in self.webhook_services.items():
            images: set[str] = set()
            for namespace, name in services:
                selector = self.selectors.get((namespace, name))
                if not selector:
                    continue
                for dep_ns, labels, dep_images in self.deployments:
                    if dep_ns == namespace and all(labels.get(k) == v for k, v in selector.items()):
                        images.update(dep_images)
            prints[f"{key}#images"] = ",".join(sorted(images)) or MISSING
        return prints

    @classmethod
    def compare(
        cls, prints: dict[str, dict[str, str]], baseline: str | None, ctx: CheckContext
    ) -> list[Finding]:
        keys = sorted({k for p in prints.values() for k in p})
        findings = []
        for key in keys:
            values = {cluster: p.get(key, MISSING) for cluster, p in prints.items()}
            if baseline is not None:
                want, against = values[baseline], f"baseline cluster {baseline}"
            else:
                (want, top), *rest = Counter(values.values()).most_common()
                if rest and rest[0][1] == top:
                    want, against = "", "no majority"
                else:
                    against = f"the fleet majority ({top} of {len(values)})"
            for cluster, value in sorted(values.items()):
                if value == want:
                    continue
                kind, _, name = key.partition("/")
                if value == MISSING:
                    what = "is missing here"
                elif want == MISSING:
                    what = "exists only here"
                else:
                    what = f"differs (digest {value})"
                findings.append(
                    Finding(
                        check_id=cls.id,
                        severity=cls.severity,
                        object=ObjectRef(kind=kind, name=name),
                        message=f"{key} {what}, against {against}",
                        hint=cls.hint,
                        cluster=cluster,
                        details={"key": key, "value": value, "expected": want or None},
                    )
                )
        return findings
