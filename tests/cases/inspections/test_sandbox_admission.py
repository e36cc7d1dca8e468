"""Service, webhook, APIService, quota, PDB and service-IP checks against real objects."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from typing import Any

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.waiting import wait_for
from kubeprobe.sandbox import pki
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.faults import Faults
from tests.cases.inspections.live import about, deployment, sweep

HOOKS = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
APISERVICES = "/apis/apiregistration.k8s.io/v1/apiservices"


def _service(name: str, app: str, external_ips: list[str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"selector": {"app": app}, "ports": [{"port": 443, "targetPort": 8443}]}
    if external_ips:
        spec["externalIPs"] = external_ips
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def _bundle(sandbox: Sandbox, days: float) -> str:
    folder = sandbox.folder / "pki"
    ca = pki.KeyPair((folder / "ca.crt").read_bytes(), (folder / "ca.key").read_bytes())
    end = dt.datetime.now(dt.UTC) + dt.timedelta(days=days)
    cert = pki.issue(ca, f"ca-in-{days}d", not_after=end).cert_pem
    return base64.b64encode(cert).decode()


def _webhook(name: str, namespace: str, service: str, bundle: str) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [
            {
                "name": f"{name}.kubeprobe.io",
                "clientConfig": {"service": {"namespace": namespace, "name": service}, "caBundle": bundle},
                "rules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["configmaps"],
                    }
                ],
                # Never called: it matches only objects with a label nobody sets.
                "objectSelector": {"matchLabels": {"kubeprobe.io/never": "true"}},
                "failurePolicy": "Ignore",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "timeoutSeconds": 2,
            }
        ],
    }


async def test_services_webhooks_and_apiservices(kube: KubeClient, namespace: str, sandbox: Sandbox) -> None:
    ns = f"/api/v1/namespaces/{namespace}"
    tag = uuid.uuid4().hex[:6]
    await kube.create(f"/apis/apps/v1/namespaces/{namespace}/deployments", deployment("backend", 2))
    await kube.create(f"{ns}/services", _service("served", "backend", ["192.0.2.10"]))
    await kube.create(f"{ns}/services", _service("empty", "nothing", ["192.0.2.10"]))
    await kube.create(f"{ns}/services", _service("apart", "nothing-either", ["192.0.2.11"]))
    await wait_for(
        lambda: kube.list_all(
            "/apis/discovery.k8s.io/v1/namespaces/" + namespace + "/endpointslices",
            labelSelector="kubernetes.io/service-name=served",
        ),
        lambda slices: any(
            (e.get("conditions") or {}).get("ready") for s in slices for e in s.get("endpoints") or []
        ),
        timeout=60,
        what="ready endpoints of service served",
    )
    good, bad = f"insp-good-{tag}", f"insp-bad-{tag}"
    apiservice = f"v1alpha1.insp{tag}.example.com"
    await kube.create(HOOKS, _webhook(good, namespace, "served", _bundle(sandbox, 400)))
    await kube.create(HOOKS, _webhook(bad, namespace, "empty", _bundle(sandbox, 3)))
    await kube.create(
        APISERVICES,
        {
            "apiVersion": "apiregistration.k8s.io/v1",
            "kind": "APIService",
            "metadata": {"name": apiservice},
            "spec": {
                "group": f"insp{tag}.example.com",
                "version": "v1alpha1",
                "service": {"namespace": namespace, "name": "empty", "port": 443},
                "insecureSkipTLSVerify": True,
                "groupPriorityMinimum": 10,
                "versionPriority": 10,
            },
        },
    )
    try:
        await wait_for(
            lambda: kube.get(f"{APISERVICES}/{apiservice}"),
            lambda a: any(
                c.get("type") == "Available" for c in (a.get("status") or {}).get("conditions") or []
            ),
            timeout=60,
            what="APIService availability known",
        )
        report = await sweep(
            kube,
            [
                "service.no-endpoints",
                "webhook.no-ready-endpoint",
                "cert.webhook-cabundle",
                "apiservice.unavailable",
                "network.duplicate-service-ip",
            ],
        )
        assert [
            f.object.name for f in about(report, "service.no-endpoints", namespace=namespace) if f.object
        ] == [
            "apart",
            "empty",
        ]
        hooks = {f.object.name for f in about(report, "webhook.no-ready-endpoint") if f.object}
        assert bad in hooks
        assert good not in hooks
        bundles = {f.object.name for f in about(report, "cert.webhook-cabundle") if f.object}
        assert bad in bundles
        assert good not in bundles
        assert about(report, "apiservice.unavailable", name=apiservice)
        assert [
            f.object.name
            for f in about(report, "network.duplicate-service-ip", namespace=namespace)
            if f.object
        ] == ["empty", "served"]
    finally:
        await kube.delete(f"{APISERVICES}/{apiservice}")
        await kube.delete(f"{HOOKS}/{bad}")
        await kube.delete(f"{HOOKS}/{good}")
    await kube.delete(f"{ns}/services/empty")
    await kube.delete(f"{ns}/services/apart")
    clean = await sweep(
        kube,
        [
            "service.no-endpoints",
            "webhook.no-ready-endpoint",
            "apiservice.unavailable",
            "network.duplicate-service-ip",
        ],
    )
    assert [
        f for f in clean.findings if f.object and (f.object.namespace == namespace or tag in f.object.name)
    ] == []


async def test_quota_pdb_and_failing_webhook(kube: KubeClient, namespace: str, sandbox: Sandbox) -> None:
    faults = Faults(sandbox)
    ns = f"/api/v1/namespaces/{namespace}"
    deps = f"/apis/apps/v1/namespaces/{namespace}/deployments"
    await kube.create(deps, deployment("guarded", 2))
    await kube.create(
        f"{ns}/resourcequotas", {"metadata": {"name": "roomy"}, "spec": {"hard": {"configmaps": "100"}}}
    )
    # PDBs made while pods are still starting may keep a stale count for a while: start from ready pods.
    await wait_for(
        lambda: kube.get(f"{deps}/guarded"),
        lambda d: (d.get("status") or {}).get("readyReplicas") == 2,
        timeout=60,
        what="deployment guarded ready",
    )
    pdbs = f"/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets"
    selector = {"matchLabels": {"app": "guarded"}}
    await kube.create(pdbs, {"metadata": {"name": "all"}, "spec": {"minAvailable": 2, "selector": selector}})
    await kube.create(
        pdbs, {"metadata": {"name": "one"}, "spec": {"maxUnavailable": 1, "selector": selector}}
    )
    await wait_for(
        lambda: kube.list_all(pdbs),
        lambda items: (
            all((p.get("status") or {}).get("expectedPods") == 2 for p in items)
            and all((p.get("status") or {}).get("currentHealthy") == 2 for p in items)
        ),
        timeout=60,
        what="PDB status computed",
    )
    await faults.exhaust_quota(namespace)
    await wait_for(
        lambda: kube.get(f"{ns}/resourcequotas/roomy"),
        lambda q: "configmaps" in (q.get("status") or {}).get("used", {}),
        timeout=60,
        what="roomy quota usage",
    )
    await faults.failing_webhook(namespace, timeout_seconds=15)
    try:
        report = await sweep(kube, ["quota.near-limit", "pdb.blocks-disruption", "webhook.fail-long-timeout"])
        assert [
            f.object.name for f in about(report, "quota.near-limit", namespace=namespace) if f.object
        ] == ["kubeprobe-fault-quota"]
        assert [
            f.object.name for f in about(report, "pdb.blocks-disruption", namespace=namespace) if f.object
        ] == ["all"]
        assert about(report, "webhook.fail-long-timeout", name="kubeprobe-fault-failing-webhook")
        await faults.failing_webhook(namespace, timeout_seconds=3)
        await faults.restore_quota(namespace)
        await kube.delete(f"{pdbs}/all")
        clean = await sweep(kube, ["quota.near-limit", "pdb.blocks-disruption", "webhook.fail-long-timeout"])
        assert [f for f in clean.findings if f.object and f.object.namespace == namespace] == []
        assert not about(clean, "webhook.fail-long-timeout", name="kubeprobe-fault-failing-webhook")
    finally:
        await faults.remove_failing_webhook()
        await faults.restore_quota(namespace)
