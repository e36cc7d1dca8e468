"""Storage, finalizer, owner, deprecated-API, certificate, backup and risk-control checks in a real
cluster: each finds the state it looks for and stays quiet once the state is gone."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.config import load_kubeconfig
from kubeprobe.kube.errors import NotFoundError
from kubeprobe.kube.waiting import wait_for
from kubeprobe.sandbox import pki
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.faults import Faults
from tests.cases.inspections.live import about, sweep

HOLD = "kubeprobe.io/test-hold"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def _crd(group: str) -> dict[str, Any]:
    schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {"name": "v1", "served": True, "storage": True, "schema": schema},
                {"name": "v1beta1", "served": True, "storage": False, "deprecated": True, "schema": schema},
            ],
        },
    }


async def test_storage_finalizers_and_owners(kube: KubeClient, namespace: str) -> None:
    ns = f"/api/v1/namespaces/{namespace}"
    tag = uuid.uuid4().hex[:6]
    group = f"insp{tag}.example.com"
    pv = f"insp-released-{tag}"
    spare_pv = f"insp-available-{tag}"
    other_ns = f"insp-term-{tag}"
    volume = {
        "capacity": {"storage": "1Gi"},
        "accessModes": ["ReadWriteOnce"],
        "hostPath": {"path": "/tmp/x"},
    }
    claim_ref = {"namespace": namespace, "name": "gone-claim", "uid": str(uuid.uuid4())}
    await kube.create(
        "/api/v1/persistentvolumes",
        {
            "metadata": {"name": pv},
            "spec": {**volume, "claimRef": claim_ref, "persistentVolumeReclaimPolicy": "Retain"},
        },
    )
    await kube.create(
        "/api/v1/persistentvolumes",
        {"metadata": {"name": spare_pv}, "spec": {**volume, "storageClassName": "insp-spare"}},
    )
    claim = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "1Gi"}},
        "storageClassName": f"insp-none-{tag}",
    }
    await kube.create(f"{ns}/persistentvolumeclaims", {"metadata": {"name": "waiting"}, "spec": claim})
    # Finalizers: a ConfigMap deleted but held, one held but not deleted, a namespace held by its content.
    held = {"name": "held", "finalizers": [HOLD]}
    await kube.create(f"{ns}/configmaps", {"metadata": held})
    await kube.create(f"{ns}/configmaps", {"metadata": {**held, "name": "kept"}})
    await kube.delete(f"{ns}/configmaps/held")
    await kube.create("/api/v1/namespaces", {"metadata": {"name": other_ns}})
    await kube.create(f"/api/v1/namespaces/{other_ns}/configmaps", {"metadata": held})
    await kube.delete(f"/api/v1/namespaces/{other_ns}")
    # Owners: a custom resource owning a ConfigMap, and a ConfigMap owned by a kind that is not served.
    await kube.create(CRDS, _crd(group))
    widgets = f"/apis/{group}/v1/namespaces/{namespace}/widgets"
    await wait_for(lambda: _served(kube, widgets), bool, timeout=60, what="CRD served")
    owner = await kube.create(
        widgets, {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w"}}
    )
    ref = {"apiVersion": f"{group}/v1", "kind": "Widget", "name": "w", "uid": owner["metadata"]["uid"]}
    await kube.create(f"{ns}/configmaps", {"metadata": {"name": "by-widget", "ownerReferences": [ref]}})
    ghost = {
        "apiVersion": f"gone{tag}.example.com/v1",
        "kind": "Gadget",
        "name": "g",
        "uid": str(uuid.uuid4()),
    }
    await kube.create(f"{ns}/configmaps", {"metadata": {"name": "by-gadget", "ownerReferences": [ghost]}})
    # Deprecated API: one Widget written through the deprecated v1beta1, one through v1.
    old_widgets = f"/apis/{group}/v1beta1/namespaces/{namespace}/widgets"
    await kube.create(
        old_widgets,
        {
            "apiVersion": f"{group}/v1beta1",
            "kind": "Widget",
            "metadata": {"name": "old"},
            "spec": {"size": 1},
        },
    )
    await wait_for(
        lambda: kube.get(f"/api/v1/persistentvolumes/{pv}"),
        lambda p: (p.get("status") or {}).get("phase") == "Released",
        timeout=60,
        what="PV Released",
    )
    await wait_for(
        lambda: kube.get(f"/api/v1/namespaces/{other_ns}"),
        lambda n: any(
            c.get("type") == "NamespaceFinalizersRemaining" and c.get("status") == "True"
            for c in (n.get("status") or {}).get("conditions") or []
        ),
        timeout=60,
        what="namespace held by finalizers",
    )
    checks = [
        "storage.pv-released-failed",
        "storage.pvc-pending-lost",
        "object.stuck-terminating",
        "namespace.stuck-terminating",
        "owner.missing",
        "api.deprecated-versions",
    ]
    try:
        report = await sweep(kube, checks, terminating_minutes=0, pvc_pending_minutes=0)

        def names(check: str, where: str | None = namespace) -> list[str]:
            return sorted(f.object.name for f in about(report, check, namespace=where) if f.object)

        assert pv in names("storage.pv-released-failed", None)
        assert spare_pv not in names("storage.pv-released-failed", None)
        assert names("storage.pvc-pending-lost") == ["waiting"]
        assert names("object.stuck-terminating") == ["held"]
        assert names("object.stuck-terminating", other_ns) == ["held"]
        assert other_ns in names("namespace.stuck-terminating", None)
        assert names("owner.missing") == ["by-gadget"]
        assert names("api.deprecated-versions") == ["old"]  # from managedFields
        requested = [
            f for f in about(report, "api.deprecated-versions") if f.object and f.object.kind == "APIResource"
        ]
        assert any(
            f.object and f.object.api_version == f"{group}/v1beta1" for f in requested
        )  # from /metrics
    finally:
        for path in (
            f"{ns}/configmaps/held",
            f"{ns}/configmaps/kept",
            f"/api/v1/namespaces/{other_ns}/configmaps/held",
        ):
            await kube.patch(path, {"metadata": {"finalizers": None}})
        await kube.delete(f"{CRDS}/widgets.{group}")
        await kube.delete(f"/api/v1/persistentvolumes/{pv}")
        await kube.delete(f"/api/v1/persistentvolumes/{spare_pv}")
    await kube.delete(f"{ns}/persistentvolumeclaims/waiting")
    await kube.delete(f"{ns}/configmaps/by-gadget")
    # With its CRD gone, the Widget's ConfigMap is an orphan: reported, unless the garbage collector
    # (racing the CRD's removal) already deleted it, in which case it must be gone for good.
    # The CRD's removal takes a while (its objects go first): wait until it is gone.
    await wait_for(
        lambda: kube.list_all(CRDS, fieldSelector=f"metadata.name=widgets.{group}"),
        lambda items: not items,
        timeout=60,
        what="CRD removed",
    )
    orphaned = await sweep(kube, ["owner.missing"])
    if not about(orphaned, "owner.missing", namespace=namespace, name="by-widget"):
        with pytest.raises(NotFoundError):
            await kube.get(f"{ns}/configmaps/by-widget")
    await kube.delete(f"{ns}/configmaps/by-widget")
    await wait_for(
        lambda: kube.list_all("/api/v1/namespaces", fieldSelector=f"metadata.name={other_ns}"),
        lambda items: not items,
        timeout=60,
        what="namespace gone",
    )
    await wait_for(lambda: kube.list_all(f"{ns}/persistentvolumeclaims"), lambda items: not items, timeout=30)
    clean = await sweep(kube, checks, terminating_minutes=0, pvc_pending_minutes=0)
    assert [
        f
        for f in clean.findings
        if f.object and (f.object.namespace in (namespace, other_ns) or tag in f.object.name)
    ] == []


async def _served(kube: KubeClient, path: str) -> bool:
    try:
        await kube.get(path)
    except Exception:
        return False
    return True


def _client_kubeconfig(sandbox: Sandbox, folder: Path, days: float) -> Path:
    """The sandbox's admin kubeconfig with a client certificate that ends in ``days``."""
    pki_dir = sandbox.folder / "pki"
    ca = pki.KeyPair((pki_dir / "ca.crt").read_bytes(), (pki_dir / "ca.key").read_bytes())
    pair = pki.issue(
        ca,
        "insp-admin",
        organizations=("system:masters",),
        client=True,
        not_after=dt.datetime.now(dt.UTC) + dt.timedelta(days=days),
    )
    doc = yaml.safe_load(sandbox.kubeconfig.read_text())
    for user in doc["users"]:
        user["user"] = {
            "client-certificate-data": base64.b64encode(pair.cert_pem).decode(),
            "client-key-data": base64.b64encode(pair.key_pem).decode(),
        }
    path = folder / f"kubeconfig-{days}"
    path.write_text(yaml.safe_dump(doc))
    return path


async def test_certificates_backup_and_risk_control(
    kube: KubeClient, namespace: str, sandbox: Sandbox, tmp_path: Path
) -> None:
    ns = f"/api/v1/namespaces/{namespace}"
    tag = uuid.uuid4().hex[:6]
    now = dt.datetime.now(dt.UTC)
    faults = Faults(sandbox)
    await faults.expiring_tls_secret(namespace, "soon", now + dt.timedelta(days=2))
    await faults.expiring_tls_secret(namespace, "fresh", now + dt.timedelta(days=400))
    label = f"insp{tag}.example.com/etcd-backup"
    risk = f"ConfigMap/{namespace}/rate-limits"
    settings: dict[str, Any] = {"backup_label": label, "risk_control": (risk,)}
    checks = [
        "cert.tls-secret",
        "etcd.backup-coverage",
        "config.risk-control-missing",
        "cert.kubeconfig-client",
        "cert.apiserver-serving",
    ]
    expiring = load_kubeconfig(_client_kubeconfig(sandbox, tmp_path, 3))
    report = await sweep(kube, checks, connection=expiring, **settings)
    assert [f.object.name for f in about(report, "cert.tls-secret", namespace=namespace) if f.object] == [
        "soon"
    ]
    assert [f.message for f in about(report, "etcd.backup-coverage")] == [
        f"no etcd backup CronJob, Job or record labelled {label}"
    ]
    assert about(report, "config.risk-control-missing", namespace=namespace, name="rate-limits")
    assert len(about(report, "cert.kubeconfig-client")) == 1
    assert about(report, "cert.apiserver-serving") == []  # the sandbox's serving certificate is young
    long_window = await sweep(kube, ["cert.apiserver-serving"], cert_warn_days=100_000)
    [serving] = long_window.findings
    assert serving.object
    assert serving.object.name == sandbox.server

    # A recent backup, the risk-control object, a fresh client certificate: nothing to report.
    await kube.delete(f"{ns}/secrets/soon")
    await kube.create(f"{ns}/configmaps", {"metadata": {"name": "rate-limits"}, "data": {"qps": "100"}})
    cronjob = {
        "metadata": {"name": "etcd-backup", "labels": {label: "true"}},
        "spec": {
            "schedule": "0 3 * * *",
            "suspend": True,
            "jobTemplate": {
                "spec": {
                    "template": {
                        "spec": {"restartPolicy": "Never", "containers": [{"name": "b", "image": "backup:1"}]}
                    }
                }
            },
        },
    }
    path = f"/apis/batch/v1/namespaces/{namespace}/cronjobs"
    await kube.create(path, cronjob)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    await kube.patch(
        f"{path}/etcd-backup/status", {"status": {"lastSuccessfulTime": stamp, "lastScheduleTime": stamp}}
    )
    fresh = load_kubeconfig(_client_kubeconfig(sandbox, tmp_path, 300))
    clean = await sweep(kube, checks, connection=fresh, **settings)
    assert about(clean, "cert.tls-secret", namespace=namespace) == []
    for check in checks[1:]:
        assert about(clean, check) == [], check
