"""Small workload manifests and waits shared by the sandbox tests."""

from __future__ import annotations

from typing import Any

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.waiting import wait_for

IMAGE = "registry.k8s.io/pause:3.10"


def pod(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"containers": [{"name": "main", "image": IMAGE}], **spec},
    }


def _template(
    app: str, spec: dict[str, Any] | None = None, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": app, **(labels or {})}},
        "spec": {"containers": [{"name": "main", "image": IMAGE}], **(spec or {})},
    }


def deployment(
    name: str,
    replicas: int,
    *,
    template_spec: dict[str, Any] | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A Deployment of ``replicas`` pause pods labelled ``app: name`` (plus ``labels``);
    ``template_spec`` adds to the pod spec (a nodeSelector ...)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": _template(name, template_spec, labels),
        },
    }


def statefulset(name: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": _template(name),
        },
    }


async def pod_phase(
    kube: KubeClient, namespace: str, name: str, timeout: float, phase: str
) -> dict[str, Any]:
    path = f"/api/v1/namespaces/{namespace}/pods/{name}"
    return await wait_for(
        lambda: kube.get(path),
        lambda p: p.get("status", {}).get("phase") == phase,
        timeout=timeout,
        what=f"pod {name} {phase}",
    )
