"""Services without ready endpoints, and the webhooks and aggregated APIs that depend on them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kubeprobe.cases.inspections.check import Check
from kubeprobe.cases.inspections.objects import labels, meta, ref
from kubeprobe.cases.inspections.registry import register
from kubeprobe.kube.collect import (
    APISERVICES,
    ENDPOINTSLICES,
    MUTATING_WEBHOOKS,
    SERVICES,
    VALIDATING_WEBHOOKS,
    Need,
    Resource,
    Sweep,
)
from kubeprobe.model import Finding, ObjectRef, Severity

Obj = dict[str, Any]
SERVICE_LABEL = "kubernetes.io/service-name"


class ReadyEndpoints:
    """Which Services have at least one ready endpoint, from their EndpointSlices."""

    def __init__(self) -> None:
        self.ready: set[tuple[str, str]] = set()

    def observe(self, obj: Obj) -> None:
        m = meta(obj)
        service = (m.get("labels") or {}).get(SERVICE_LABEL)
        if not service:
            return
        for endpoint in obj.get("endpoints") or []:
            # A missing ready condition means "unknown", which consumers must treat as ready.
            if (endpoint.get("conditions") or {}).get("ready") is not False:
                self.ready.add((str(m.get("namespace") or ""), service))
                return

    def __contains__(self, key: object) -> bool:
        return key in self.ready


@register
class ServiceWithoutEndpointsCheck(Check):
    id = "service.no-endpoints"
    title = "Services whose selector matches no ready pod"
    severity = Severity.MEDIUM
    hint = "Check the Service's selector against the pods' labels, and whether those pods are ready"
    needs = (Need(SERVICES), Need(ENDPOINTSLICES))

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.endpoints = ReadyEndpoints()
        self.services: list[tuple[tuple[str, str], ObjectRef, dict[str, str]]] = []

    def observe(self, resource: Resource, obj: Obj) -> None:
        if resource.key == ENDPOINTSLICES.key:
            self.endpoints.observe(obj)
            return
        spec = obj.get("spec") or {}
        if not spec.get("selector") or spec.get("type") == "ExternalName":
            return  # without a selector, endpoints are managed by hand
        m = meta(obj)
        self.services.append(
            ((str(m.get("namespace") or ""), str(m.get("name"))), ref(resource, obj), labels(obj))
        )

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        for key, svc, lab in self.services:
            if key not in self.endpoints:
                yield self.finding(
                    svc, "no ready endpoint: its selector matches no ready pod", labels=lab or None
                )


def _webhooks(resource: Resource, obj: Obj) -> Iterable[tuple[ObjectRef, Obj]]:
    owner = ref(resource, obj)
    for hook in obj.get("webhooks") or []:
        yield owner, hook


@register
class WebhookEndpointCheck(Check):
    id = "webhook.no-ready-endpoint"
    title = "Admission webhooks whose service has no ready endpoint"
    severity = Severity.HIGH
    hint = "Requests the webhook matches fail (failurePolicy Fail) or skip it (Ignore): restore its backend"
    needs = (Need(VALIDATING_WEBHOOKS), Need(MUTATING_WEBHOOKS), Need(ENDPOINTSLICES))

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.endpoints = ReadyEndpoints()
        self.hooks: list[tuple[ObjectRef, str, str, str, str]] = []

    def observe(self, resource: Resource, obj: Obj) -> None:
        if resource.key == ENDPOINTSLICES.key:
            self.endpoints.observe(obj)
            return
        for config, hook in _webhooks(resource, obj):
            service = (hook.get("clientConfig") or {}).get("service")
            if service:
                self.hooks.append(
                    (
                        config,
                        str(hook.get("name")),
                        str(service.get("namespace") or ""),
                        str(service.get("name") or ""),
                        str(hook.get("failurePolicy") or "Fail"),
                    )
                )

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        for config, hook, ns, name, policy in self.hooks:
            if (ns, name) in self.endpoints:
                continue
            yield self.finding(
                config,
                f"webhook {hook!r} calls service {ns}/{name}, which has no ready endpoint "
                f"(failurePolicy {policy})",
                severity=Severity.CRITICAL if policy == "Fail" else Severity.MEDIUM,
                webhook=hook,
                service=f"{ns}/{name}",
            )


@register
class WebhookTimeoutCheck(Check):
    id = "webhook.fail-long-timeout"
    title = "Admission webhooks with failurePolicy Fail and a long timeout"
    severity = Severity.MEDIUM
    hint = "A slow failing webhook stalls every matching request for the whole timeout: lower timeoutSeconds"
    needs = (Need(VALIDATING_WEBHOOKS), Need(MUTATING_WEBHOOKS))

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.found: list[Finding] = []

    def observe(self, resource: Resource, obj: Obj) -> None:
        limit = self.settings.webhook_max_timeout_seconds
        for config, hook in _webhooks(resource, obj):
            timeout = int(hook.get("timeoutSeconds") or 10)
            if (hook.get("failurePolicy") or "Fail") == "Fail" and timeout > limit:
                self.found.append(
                    self.finding(
                        config,
                        f"webhook {hook.get('name')!r}: failurePolicy Fail with timeoutSeconds {timeout} "
                        f"(more than {limit})",
                        labels=labels(obj) or None,
                        webhook=hook.get("name"),
                        timeout_seconds=timeout,
                    )
                )

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        return self.found


@register
class APIServiceUnavailableCheck(Check):
    id = "apiservice.unavailable"
    title = "Aggregated APIServices that are not Available"
    severity = Severity.HIGH
    hint = "An unavailable aggregated API breaks discovery and namespace deletion: fix or remove its backend"
    needs = (Need(APISERVICES),)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.found: list[Finding] = []

    def observe(self, resource: Resource, obj: Obj) -> None:
        if not (obj.get("spec") or {}).get("service"):
            return  # served by the API server itself
        for cond in (obj.get("status") or {}).get("conditions") or []:
            if cond.get("type") == "Available" and cond.get("status") != "True":
                self.found.append(
                    self.finding_for(
                        resource,
                        obj,
                        f"Available={cond.get('status')}: {cond.get('reason')} "
                        f"{cond.get('message') or ''}".strip(),
                    )
                )

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        return self.found
