"""Pruned decoding: the same plain dicts as a whole decode, minus the fields no check reads."""

from __future__ import annotations

import gc
from typing import Any

import orjson
import pytest

from kubeprobe.kube.decoding import gc_paused, page_decoder, whole

POD: dict[str, Any] = {
    "kind": "Pod",
    "apiVersion": "v1",
    "metadata": {
        "name": "web-1",
        "namespace": "shop",
        "uid": "u-1",
        "labels": {"app": "web"},
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}"},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "rs"}],
        "managedFields": [{"manager": "kubectl", "apiVersion": "v1", "fieldsV1": {"f:spec": {}}}],
        "creationTimestamp": "2026-01-01T00:00:00Z",
    },
    "spec": {
        "nodeName": "n1",
        "containers": [{"name": "main", "image": "web:1", "args": ["--port", "80"]}],
        "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
        "volumes": [{"name": "data", "emptyDir": {}}],
    },
    "status": {
        "phase": "Running",
        "podIP": "10.0.0.1",
        "podIPs": [{"ip": "10.0.0.1"}],
        "qosClass": "Burstable",
        "conditions": [{"type": "Ready", "status": "True", "lastProbeTime": None}],
        "containerStatuses": [
            {"name": "main", "restartCount": 3, "state": {"running": {}}, "imageID": "sha256:..."}
        ],
    },
}


def page(*items: Any, token: str = "next") -> bytes:
    return orjson.dumps({"kind": "PodList", "metadata": {"continue": token}, "items": list(items)})


def test_pods_keep_what_checks_read_and_drop_the_rest() -> None:
    decoded = page_decoder(("", "pods"), metadata_only=False)(page(POD))
    assert decoded["metadata"]["continue"] == "next"
    [pod] = decoded["items"]
    assert pod["metadata"]["ownerReferences"] == POD["metadata"]["ownerReferences"]
    assert pod["metadata"]["managedFields"] == [{"manager": "kubectl", "apiVersion": "v1"}]
    assert "annotations" not in pod["metadata"]
    assert pod["spec"]["containers"] == [{"name": "main", "image": "web:1"}]
    assert pod["spec"]["tolerations"] == POD["spec"]["tolerations"]  # read whole
    assert "volumes" not in pod["spec"]
    [status] = pod["status"]["containerStatuses"]
    assert status == {"name": "main", "restartCount": 3, "state": {"running": {}}}
    assert pod["status"]["conditions"] == [{"type": "Ready", "status": "True"}]
    assert "qosClass" not in pod["status"]


def test_metadata_only_pages_keep_annotations() -> None:
    meta = {"kind": "PartialObjectMetadata", "metadata": POD["metadata"]}
    [item] = page_decoder(("", "configmaps"), metadata_only=True)(page(meta))["items"]
    assert item["metadata"]["annotations"] == POD["metadata"]["annotations"]
    assert item["kind"] == "PartialObjectMetadata"


def test_a_value_that_fits_no_shape_decodes_the_page_whole() -> None:
    odd = {**POD, "spec": {**POD["spec"], "nodeName": 7}}
    body = page(odd, POD)
    assert page_decoder(("", "pods"), metadata_only=False)(body) == whole(body)


def test_other_resources_and_the_reference_decode_whole() -> None:
    body = page(POD)
    assert page_decoder(("apps", "deployments"), metadata_only=False)(body) == whole(body)
    assert page_decoder(("", "pods"), metadata_only=False, pruned=False)(body) == whole(body)


def test_not_json_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not JSON"):
        page_decoder(("", "pods"), metadata_only=False)(b"<html>")


def test_a_sweep_pauses_the_collector_once_and_resumes_it() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():  # an overlapping sweep leaves it to the first
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():  # paused by someone else: left paused
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
