"""Certificate checks on crafted certificates (issued by a throwaway CA)."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

from cryptography import x509

from kubeprobe.cases.inspections.catalog.certificates import (
    APIServerCertificateCheck,
    CABundleCertificateCheck,
    KubeconfigCertificateCheck,
    TLSSecretCertificateCheck,
)
from kubeprobe.kube.collect import APISERVICES, CRDS, SECRETS, VALIDATING_WEBHOOKS
from kubeprobe.kube.config import ClusterConnection
from kubeprobe.sandbox import pki
from tests.cases.inspections.crafted import NOW, make, names, obj, run

CA = pki.make_ca("test-ca")


def cert_pem(days: float) -> bytes:
    end = NOW + dt.timedelta(days=days)
    return pki.issue(
        CA, f"in-{days}d", not_before=min(NOW, end) - dt.timedelta(days=1), not_after=end
    ).cert_pem


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def tls_secret(name: str, days: float) -> dict[str, Any]:
    return obj(name, type="kubernetes.io/tls", data={"tls.crt": b64(cert_pem(days))})


def test_tls_secrets() -> None:
    found = run(
        TLSSecretCertificateCheck,
        [
            (SECRETS, tls_secret("expired", -2)),
            (SECRETS, tls_secret("soon", 3)),
            (SECRETS, tls_secret("later", 20)),
            (SECRETS, tls_secret("fine", 200)),
            (SECRETS, obj("opaque", type="Opaque", data={"tls.crt": b64(cert_pem(-2))})),
            (SECRETS, obj("garbage", type="kubernetes.io/tls", data={"tls.crt": b64(b"not a cert")})),
        ],
    )
    assert {f.object.name: f.severity.value for f in found if f.object} == {
        "expired": "critical",
        "soon": "high",
        "later": "medium",
        "garbage": "medium",
    }


def test_ca_bundles_of_webhooks_apiservices_and_crds() -> None:
    hook = {"name": "h.example.com", "clientConfig": {"caBundle": b64(cert_pem(5))}}
    found = run(
        CABundleCertificateCheck,
        [
            (VALIDATING_WEBHOOKS, obj("expiring", None, webhooks=[hook])),
            (
                VALIDATING_WEBHOOKS,
                obj("fine", None, webhooks=[{**hook, "clientConfig": {"caBundle": b64(cert_pem(900))}}]),
            ),
            (APISERVICES, obj("v1.x", None, spec={"caBundle": b64(cert_pem(-1))})),
            (
                CRDS,
                obj(
                    "w.example.com",
                    None,
                    spec={"conversion": {"webhook": {"clientConfig": {"caBundle": b64(cert_pem(2))}}}},
                ),
            ),
            (APISERVICES, obj("v1.local", None, spec={})),
        ],
    )
    assert names(found) == ["expiring", "v1.x", "w.example.com"]


def test_ca_bundle_counts_its_last_certificate() -> None:
    bundle = b64(cert_pem(2) + cert_pem(400))
    hook = {"name": "h", "clientConfig": {"caBundle": bundle}}
    assert run(CABundleCertificateCheck, [(VALIDATING_WEBHOOKS, obj("rotated", None, webhooks=[hook]))]) == []


def test_kubeconfig_client_certificate() -> None:
    def connection(days: float) -> ClusterConnection:
        return ClusterConnection(
            server="https://x", context="ctx", client_cert_pem=cert_pem(days), client_key_pem=b"k"
        )

    soon = make(KubeconfigCertificateCheck, connection=connection(2))
    assert [f.severity.value for f in run(soon, [])] == ["high"]
    assert run(make(KubeconfigCertificateCheck, connection=connection(365)), []) == []
    assert run(make(KubeconfigCertificateCheck), []) == []


def test_serving_certificate_judgement() -> None:
    check = make(APIServerCertificateCheck)
    assert isinstance(check, APIServerCertificateCheck)
    check.server = "https://api"
    check.cert = x509.load_pem_x509_certificate(cert_pem(10))
    [found] = run(check, [])
    assert "expires in 10.0 days" in found.message
    check.cert = x509.load_pem_x509_certificate(cert_pem(100))
    assert run(check, []) == []
