"""Namespace lifecycle probe: create a namespace, use it, delete it within a time limit.

A namespace that stays Terminating points at a stuck finalizer, an unavailable aggregated API
(``NamespaceDeletionDiscoveryFailure``) or a stalled namespace controller; the failure quotes the
namespace's own status conditions. A namespace cannot be owned by the run's anchor (a namespaced
ConfigMap), so it carries the run labels for the sweeper and is deleted in a finally-block.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from kubeprobe.cases.context import CaseContext, ProbeFailure
from kubeprobe.cases.probes.waits import Obj, until
from kubeprobe.cases.probes.workloads import cleanup
from kubeprobe.cases.registry import REGISTRY
from kubeprobe.kube.errors import KubeAPIError


class NamespaceLifecycleParams(BaseModel):
    """Parameters of the namespace probe."""

    active_seconds: float = Field(10, gt=0, description="Limit for the namespace to be Active.")
    deleted_seconds: float = Field(60, gt=0, description="Limit for the namespace to be gone.")


def why_terminating(ns: Obj | None) -> str:
    if ns is None:
        return "gone"
    status = ns.get("status") or {}
    troubles = [
        f"{c.get('type')}: {c.get('message')}"
        for c in status.get("conditions") or []
        if c.get("status") == "True"
    ]
    finalizers = (ns.get("spec") or {}).get("finalizers") or []
    if troubles:
        return "; ".join(troubles)
    if not status.get("conditions"):
        return (
            f"phase {status.get('phase')}, finalizers {finalizers}, no conditions: "
            "the namespace controller (kube-controller-manager) has not processed the deletion"
        )
    return f"phase {status.get('phase')}, finalizers {finalizers}"


@REGISTRY.probe("namespace-lifecycle", params=NamespaceLifecycleParams, timeout_seconds=180)
async def namespace_lifecycle(ctx: CaseContext, params: NamespaceLifecycleParams) -> None:
    """Create a namespace, create a ConfigMap in it, delete the namespace and wait until it is gone."""
    name = ctx.name("ns")
    path = f"/api/v1/namespaces/{name}"
    meta = ctx.metadata(name)
    meta.pop("ownerReferences", None)
    try:
        with ctx.report.step("create"):
            try:
                await ctx.kube.create(
                    "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}
                )
            except KubeAPIError as exc:
                raise ProbeFailure(f"namespace {name} not created: {exc.message}") from exc
            await until(
                ctx.kube,
                path,
                lambda ns: ((ns or {}).get("status") or {}).get("phase") == "Active",
                timeout=params.active_seconds,
                explain=lambda ns: f"namespace {name} not Active after {params.active_seconds:g}s: {ns}",
            )
        with ctx.report.step("use"):
            cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {**meta, "name": "kubeprobe"}}
            try:
                await ctx.kube.create(f"{path}/configmaps", cm)
            except KubeAPIError as exc:
                raise ProbeFailure(f"configmap in namespace {name} not created: {exc.message}") from exc
        with ctx.report.step("delete"):
            await ctx.kube.delete(path)
            await until(
                ctx.kube,
                path,
                lambda ns: ns is None,
                timeout=params.deleted_seconds,
                explain=lambda ns: (
                    f"namespace {name} still Terminating {params.deleted_seconds:g}s after delete: "
                    + why_terminating(ns)
                ),
                interval=0.25,
            )
    finally:
        await cleanup(ctx, path)
