"""PDB, quota and version checks on crafted objects."""

from __future__ import annotations

from typing import Any

from kubeprobe.cases.inspections.catalog.policy import PDBBlocksDisruptionCheck, QuotaNearLimitCheck
from kubeprobe.cases.inspections.catalog.versions import (
    DeprecatedAPICheck,
    ImageSkewCheck,
    KubeletSkewCheck,
    minor_version,
)
from kubeprobe.cases.inspections.objects import quantity
from kubeprobe.kube.collect import CRDS, NODES, PDBS, PODS, QUOTAS, REPLICASETS, Resource
from tests.cases.inspections.crafted import make, names, obj, run


def pdb(name: str, spec: dict[str, Any], *counts: int) -> dict[str, Any]:
    allowed, expected, healthy, desired = counts
    status = {
        "disruptionsAllowed": allowed,
        "expectedPods": expected,
        "currentHealthy": healthy,
        "desiredHealthy": desired,
    }
    return obj(name, spec=spec, status=status)


def test_pdb_blocking() -> None:
    found = run(
        PDBBlocksDisruptionCheck,
        [
            (PDBS, pdb("all", {"minAvailable": 3}, 0, 3, 3, 3)),
            (PDBS, pdb("zero", {"maxUnavailable": 0}, 0, 2, 2, 2)),
            (PDBS, pdb("unhealthy", {"maxUnavailable": 1}, 0, 3, 2, 2)),
            (PDBS, pdb("fine", {"maxUnavailable": 1}, 1, 3, 3, 2)),
            (PDBS, pdb("nopods", {"minAvailable": 1}, 0, 0, 0, 1)),
        ],
    )
    assert names(found) == ["all", "unhealthy", "zero"]
    by_name = {f.object.name: f.severity.value for f in found if f.object}
    assert by_name == {"all": "high", "zero": "high", "unhealthy": "medium"}


def test_quantities() -> None:
    assert quantity("100m") == 0.1
    assert quantity("2Gi") == 2 * 2**30
    assert quantity("1k") == 1000
    assert quantity("5") == 5
    assert quantity("1e3") == 1000
    assert quantity("bogus") is None


def test_quota_near_limit() -> None:
    def quota(name: str, hard: dict[str, str], used: dict[str, str]) -> dict[str, Any]:
        return obj(name, status={"hard": hard, "used": used})

    found = run(
        QuotaNearLimitCheck,
        [
            (QUOTAS, quota("full", {"pods": "10"}, {"pods": "10"})),
            (QUOTAS, quota("near", {"requests.memory": "1Gi"}, {"requests.memory": "950Mi"})),
            (QUOTAS, quota("roomy", {"cpu": "4", "pods": "10"}, {"cpu": "500m", "pods": "1"})),
        ],
    )
    assert names(found) == ["full", "near"]


def test_deprecated_api_versions() -> None:
    check = make(DeprecatedAPICheck)
    assert isinstance(check, DeprecatedAPICheck)
    check.requested = [
        {
            "group": "flowcontrol.apiserver.k8s.io",
            "version": "v1beta3",
            "resource": "flowschemas",
            "removed_release": "1.32",
        },
        {"group": "", "version": "v1", "resource": "endpoints", "removed_release": ""},
    ]
    widgets = Resource("example.com", "v1", "widgets", "Widget")
    crd = obj(
        "widgets.example.com",
        None,
        spec={
            "group": "example.com",
            "versions": [
                {"name": "v1beta1", "served": True, "deprecated": True},
                {"name": "v1", "served": True},
            ],
        },
    )

    def written(name: str, api_version: str) -> dict[str, Any]:
        return obj(name, metadata={"managedFields": [{"manager": "kubectl", "apiVersion": api_version}]})

    found = run(
        check,
        [
            (CRDS, crd),
            (widgets, written("old", "example.com/v1beta1")),
            (widgets, written("new", "example.com/v1")),
        ],
    )
    messages = [f.message for f in found]
    assert any("flowschemas" in m and "1.32" in m for m in messages)
    assert any("endpoints" in m and "no removal" in m for m in messages)
    assert [f.object.name for f in found if f.object and f.object.kind == "Widget"] == ["old"]
    assert {f.severity.value for f in found if "endpoints" in f.message} == {"info"}


def test_image_skew_follows_replicasets_to_deployments() -> None:
    def owner(kind: str, name: str, uid: str) -> dict[str, Any]:
        return {"kind": kind, "name": name, "uid": uid, "controller": True, "apiVersion": "apps/v1"}

    def pod(name: str, rs: str, image: str) -> dict[str, Any]:
        return obj(
            name,
            metadata={"ownerReferences": [owner("ReplicaSet", rs, f"{rs}-uid")]},
            spec={"containers": [{"name": "app", "image": image}]},
        )

    rs = [
        (
            REPLICASETS,
            obj(n, metadata={"uid": f"{n}-uid", "ownerReferences": [owner("Deployment", d, f"{d}-uid")]}),
        )
        for n, d in (("web-1", "web"), ("web-2", "web"), ("api-1", "api"))
    ]
    found = run(
        ImageSkewCheck,
        [
            *rs,
            (PODS, pod("a", "web-1", "web:1")),
            (PODS, pod("b", "web-2", "web:2")),
            (PODS, pod("c", "api-1", "api:1")),
            (PODS, pod("d", "api-1", "api:1")),
        ],
    )
    assert [(f.object.kind, f.object.name) for f in found if f.object] == [("Deployment", "web")]


def test_kubelet_skew() -> None:
    check = make(KubeletSkewCheck)
    assert isinstance(check, KubeletSkewCheck)
    check.server = "v1.36.3"

    def node(name: str, version: str) -> dict[str, Any]:
        return obj(name, None, status={"nodeInfo": {"kubeletVersion": version}})

    found = run(
        check,
        [
            (NODES, node("same", "v1.36.3")),
            (NODES, node("ok-old", "v1.33.0")),
            (NODES, node("too-old", "v1.31.2")),
            (NODES, node("newer", "v1.37.0")),
        ],
    )
    assert names(found) == ["newer", "too-old"]
    assert minor_version("v1.36.3-kwok") == (1, 36)
