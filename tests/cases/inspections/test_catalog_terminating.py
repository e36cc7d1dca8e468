"""Stuck finalizers, dangling owners, storage states on crafted objects."""

from __future__ import annotations

from kubeprobe.cases.inspections.catalog.owners import MissingOwnerCheck
from kubeprobe.cases.inspections.catalog.storage import (
    PersistentVolumeClaimStateCheck,
    PersistentVolumeStateCheck,
)
from kubeprobe.cases.inspections.catalog.terminating import NamespaceTerminatingCheck, StuckFinalizerCheck
from kubeprobe.kube.collect import CONFIGMAPS, NAMESPACES, PODS, PVCS, PVS, REPLICASETS, Discovery, Resource
from tests.cases.inspections.crafted import names, obj, run, ts

WIDGETS = Resource("example.com", "v1", "widgets", "Widget")
GADGETS = Resource("example.com", "v1", "gadgets", "Gadget")


def test_stuck_finalizers_any_resource() -> None:
    held = {"deletionTimestamp": ts(7200), "finalizers": ["example.com/hold"]}
    found = run(
        StuckFinalizerCheck,
        [
            (WIDGETS, obj("w", metadata=held)),
            (CONFIGMAPS, obj("cm", metadata=held)),
            (CONFIGMAPS, obj("cm", metadata=held)),  # listed twice (an alias): reported once
            (CONFIGMAPS, obj("fresh", metadata={"deletionTimestamp": ts(5), "finalizers": ["a"]})),
            (CONFIGMAPS, obj("free", metadata={"deletionTimestamp": ts(7200)})),
            (PODS, obj("pod", metadata=held)),
        ],
    )
    assert names(found) == ["cm", "w"]


def test_namespace_stuck_terminating() -> None:
    cond = {
        "type": "NamespaceFinalizersRemaining",
        "status": "True",
        "reason": "SomeFinalizersRemain",
        "message": "x",
    }
    found = run(
        NamespaceTerminatingCheck,
        [
            (
                NAMESPACES,
                obj("stuck", None, metadata={"deletionTimestamp": ts(7200)}, status={"conditions": [cond]}),
            ),
            (NAMESPACES, obj("live", None)),
        ],
    )
    assert names(found) == ["stuck"]
    assert "SomeFinalizersRemain" in found[0].message


def owned(name: str, kind: str, uid: str, api_version: str = "apps/v1") -> dict[str, object]:
    ref = {
        "apiVersion": api_version,
        "kind": kind,
        "name": f"{kind.lower()}-x",
        "uid": uid,
        "controller": True,
    }
    return obj(name, metadata={"ownerReferences": [ref]})


def test_missing_owner_generic() -> None:
    discovery = Discovery([CONFIGMAPS, PODS, REPLICASETS, WIDGETS, GADGETS])
    found = run(
        MissingOwnerCheck,
        [
            (REPLICASETS, obj("rs", metadata={"uid": "rs-uid"})),
            (PODS, owned("kept", "ReplicaSet", "rs-uid")),
            (PODS, owned("orphan", "ReplicaSet", "gone-uid")),
            (WIDGETS, obj("w", metadata={"uid": "w-uid"})),
            (CONFIGMAPS, owned("by-widget", "Widget", "w-uid", "example.com/v1")),
            (CONFIGMAPS, owned("by-gone-crd", "Thing", "t-uid", "removed.example.com/v1")),
        ],
        discovery=discovery,
    )
    assert names(found) == ["by-gone-crd", "orphan"]
    assert "not served" in next(f.message for f in found if f.object and f.object.name == "by-gone-crd")


def test_missing_owner_says_nothing_when_owner_kind_was_not_listed() -> None:
    discovery = Discovery([CONFIGMAPS, GADGETS])
    found = run(
        MissingOwnerCheck,
        [(CONFIGMAPS, owned("by-gadget", "Gadget", "g-uid", "example.com/v1"))],
        discovery=discovery,
        failed={GADGETS: "403 Forbidden"},
    )
    assert found == []


def test_pv_states() -> None:
    found = run(
        PersistentVolumeStateCheck,
        [
            (
                PVS,
                obj(
                    "rel",
                    None,
                    status={"phase": "Released"},
                    spec={"claimRef": {"namespace": "a", "name": "c"}},
                ),
            ),
            (PVS, obj("fail", None, status={"phase": "Failed", "message": "recycler failed"})),
            (PVS, obj("bound", None, status={"phase": "Bound"})),
        ],
    )
    assert names(found) == ["fail", "rel"]


def test_pvc_states() -> None:
    found = run(
        PersistentVolumeClaimStateCheck,
        [
            (PVCS, obj("lost", status={"phase": "Lost"}, spec={"volumeName": "pv1"})),
            (PVCS, obj("waiting", status={"phase": "Pending"}, spec={"storageClassName": "none"})),
            (PVCS, obj("new", metadata={"creationTimestamp": ts(30)}, status={"phase": "Pending"})),
            (PVCS, obj("bound", status={"phase": "Bound"})),
        ],
    )
    assert names(found) == ["lost", "waiting"]
