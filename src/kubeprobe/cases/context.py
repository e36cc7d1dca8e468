"""What a running case gets: a client of its cluster, run identity, labels and an owner for what it creates.

Everything a case creates carries the run-id label and an ownerReference to the run's anchor (a
ConfigMap named after the run), so deleting the anchor lets the garbage collector clean up even
when the case was killed before its own finally-blocks ran.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.errors import ConflictError
from kubeprobe.sdk import Report

RUN_LABEL = "kubeprobe.io/run-id"
CASE_LABEL = "kubeprobe.io/case"
MANAGED_LABEL = "app.kubernetes.io/managed-by"
SYSTEM_NAMESPACE = "kubeprobe-system"


class ProbeFailure(Exception):
    """The case proved a problem: raise it inside a step with what is broken."""


def short_id(run_id: str) -> str:
    """A DNS-safe short form of a run id for object names."""
    return re.sub(r"[^a-z0-9]", "", run_id.lower())[:10] or "run"


@dataclass
class CaseContext:
    """Handed to a case function together with its rendered parameters."""

    kube: KubeClient
    run_id: str
    cluster: str
    case: str
    deadline: dt.datetime
    report: Report = field(default_factory=Report)
    namespace: str = SYSTEM_NAMESPACE
    owner: dict[str, Any] | None = None

    @property
    def labels(self) -> dict[str, str]:
        return {RUN_LABEL: self.run_id, CASE_LABEL: self.case[:63], MANAGED_LABEL: "kubeprobe"}

    def name(self, prefix: str) -> str:
        """An object name unique to this run: ``kp-<prefix>-<run>``."""
        return f"kp-{prefix}-{short_id(self.run_id)}"

    def metadata(self, name: str, **labels: str) -> dict[str, Any]:
        """Metadata for an object the case creates: run labels and the owner reference."""
        meta: dict[str, Any] = {"name": name, "labels": {**self.labels, **labels}}
        if self.owner:
            meta["ownerReferences"] = [self.owner]
        return meta

    def seconds_left(self) -> float:
        return (self.deadline - dt.datetime.now(dt.UTC)).total_seconds()


async def ensure_namespace(kube: KubeClient, name: str) -> None:
    try:
        await kube.create(
            "/api/v1/namespaces",
            {"metadata": {"name": name, "labels": {MANAGED_LABEL: "kubeprobe"}}},
        )
    except ConflictError:
        return


async def create_anchor(kube: KubeClient, namespace: str, run_id: str, case: str) -> dict[str, Any]:
    """The run's anchor object; returns an ownerReference to it."""
    obj = await kube.create(
        f"/api/v1/namespaces/{namespace}/configmaps",
        {
            "metadata": {
                "name": f"kp-run-{short_id(run_id)}",
                "labels": {RUN_LABEL: run_id, CASE_LABEL: case[:63], MANAGED_LABEL: "kubeprobe"},
            },
            "data": {"run-id": run_id, "case": case},
        },
    )
    meta = obj["metadata"]
    return {"apiVersion": "v1", "kind": "ConfigMap", "name": meta["name"], "uid": meta["uid"]}
