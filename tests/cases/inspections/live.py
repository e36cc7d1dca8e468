"""Running checks against the test session's sandbox, and picking the findings about one object."""

from __future__ import annotations

from typing import Any

from kubeprobe.cases.inspections.check import CheckContext
from kubeprobe.cases.inspections.engine import inspect
from kubeprobe.cases.inspections.registry import CATALOG
from kubeprobe.cases.inspections.report import InspectionReport
from kubeprobe.cases.inspections.settings import InspectionSettings
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.config import ClusterConnection
from kubeprobe.model import Finding

IMAGE = "registry.k8s.io/pause:3.10"


async def sweep(
    kube: KubeClient, checks: list[str], connection: ClusterConnection | None = None, **settings: Any
) -> InspectionReport:
    """Run the named checks once; fail the test when any of them could not run."""
    ctx = CheckContext("sandbox", settings=InspectionSettings(**settings), connection=connection)
    report = await inspect(kube, CATALOG.select(checks), ctx)
    assert report.errors == {}, report.errors
    return report


def about(
    report: InspectionReport, check: str, *, namespace: str | None = None, name: str | None = None
) -> list[Finding]:
    return [
        f
        for f in report.findings
        if f.check_id == check
        and f.object is not None
        and (namespace is None or f.object.namespace == namespace)
        and (name is None or f.object.name == name)
    ]


def pod(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "containers": [{"name": "main", "image": IMAGE}],
            "terminationGracePeriodSeconds": 0,
            **spec,
        },
    }


def deployment(name: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [{"name": "main", "image": IMAGE}],
                    "terminationGracePeriodSeconds": 0,
                },
            },
        },
    }


def manual_node(name: str, cidr: str | None = None) -> dict[str, Any]:
    """A node no kwok manages: its status is whatever the test writes."""
    spec = {"podCIDR": cidr, "podCIDRs": [cidr]} if cidr else {}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubeprobe.io/test": "inspections"}},
        "spec": spec,
    }
