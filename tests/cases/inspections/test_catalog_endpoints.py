"""Service, webhook and APIService checks on crafted objects."""

from __future__ import annotations

from typing import Any

from kubeprobe.cases.inspections.catalog.endpoints import (
    APIServiceUnavailableCheck,
    ServiceWithoutEndpointsCheck,
    WebhookEndpointCheck,
    WebhookTimeoutCheck,
)
from kubeprobe.kube.collect import APISERVICES, ENDPOINTSLICES, SERVICES, VALIDATING_WEBHOOKS
from tests.cases.inspections.crafted import names, obj, run


def slice_for(service: str, ready: bool | None, namespace: str = "default") -> dict[str, Any]:
    conditions = {} if ready is None else {"ready": ready}
    return obj(
        f"{service}-abc",
        namespace,
        metadata={"labels": {"kubernetes.io/service-name": service}},
        endpoints=[{"addresses": ["10.0.0.1"], "conditions": conditions}],
    )


def test_service_without_endpoints() -> None:
    selector = {"selector": {"app": "x"}}
    found = run(
        ServiceWithoutEndpointsCheck,
        [
            (SERVICES, obj("served", spec=selector)),
            (SERVICES, obj("unknown-ready", spec=selector)),
            (SERVICES, obj("empty", spec=selector)),
            (SERVICES, obj("unready", spec=selector)),
            (SERVICES, obj("manual", spec={})),
            (SERVICES, obj("alias", spec={"type": "ExternalName", "selector": {"a": "b"}})),
            (ENDPOINTSLICES, slice_for("served", True)),
            (ENDPOINTSLICES, slice_for("unknown-ready", None)),
            (ENDPOINTSLICES, slice_for("unready", False)),
        ],
    )
    assert names(found) == ["empty", "unready"]


def webhook_config(
    name: str, policy: str | None, timeout: int | None, service: str = "hook"
) -> dict[str, Any]:
    hook: dict[str, Any] = {
        "name": f"{name}.example.com",
        "clientConfig": {"service": {"namespace": "sys", "name": service}},
    }
    if policy:
        hook["failurePolicy"] = policy
    if timeout:
        hook["timeoutSeconds"] = timeout
    return obj(name, None, webhooks=[hook])


def test_webhook_without_ready_endpoint() -> None:
    found = run(
        WebhookEndpointCheck,
        [
            (VALIDATING_WEBHOOKS, webhook_config("good", "Fail", 3, service="up")),
            (VALIDATING_WEBHOOKS, webhook_config("bad", "Fail", 3, service="down")),
            (VALIDATING_WEBHOOKS, webhook_config("soft", "Ignore", 3, service="down")),
            (ENDPOINTSLICES, slice_for("up", True, "sys")),
        ],
    )
    assert names(found) == ["bad", "soft"]
    assert {f.object.name: f.severity.value for f in found if f.object} == {
        "bad": "critical",
        "soft": "medium",
    }


def test_webhook_fail_with_long_timeout() -> None:
    found = run(
        WebhookTimeoutCheck,
        [
            (VALIDATING_WEBHOOKS, webhook_config("long", "Fail", 30)),
            (VALIDATING_WEBHOOKS, webhook_config("default", None, None)),
            (VALIDATING_WEBHOOKS, webhook_config("short", "Fail", 3)),
            (VALIDATING_WEBHOOKS, webhook_config("ignored", "Ignore", 30)),
        ],
    )
    assert names(found) == ["default", "long"]


def test_apiservice_unavailable() -> None:
    def apiservice(name: str, status: str, service: bool = True) -> dict[str, Any]:
        spec = {"service": {"namespace": "x", "name": "y"}} if service else {}
        conds = [{"type": "Available", "status": status, "reason": "FailedDiscoveryCheck"}]
        return obj(name, None, spec=spec, status={"conditions": conds})

    found = run(
        APIServiceUnavailableCheck,
        [
            (APISERVICES, apiservice("v1.bad.example.com", "False")),
            (APISERVICES, apiservice("v1.good.example.com", "True")),
            (APISERVICES, apiservice("v1.local", "False", service=False)),
        ],
    )
    assert names(found) == ["v1.bad.example.com"]
