"""Certificate expiry: the API server's serving certificate, kubeconfig client certificates, TLS
Secrets, and the caBundles of webhooks, aggregated APIs and CRD conversion webhooks."""

from __future__ import annotations

import asyncio
import base64
import binascii
import ssl
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509

from kubeprobe.cases.inspections.check import Check
from kubeprobe.cases.inspections.objects import labels, ref
from kubeprobe.cases.inspections.registry import register
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.collect import (
    APISERVICES,
    CRDS,
    MUTATING_WEBHOOKS,
    SECRETS,
    VALIDATING_WEBHOOKS,
    Need,
    Resource,
    Sweep,
)
from kubeprobe.kube.errors import KubeConnectionError
from kubeprobe.model import Finding, ObjectRef, Severity

Obj = dict[str, Any]


def pem_certificates(data: bytes) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        return []


class _ExpiryCheck(Check):
    """Shared judgement: expired is critical, under a week high, under the warning window medium."""

    def judge(
        self, cert: x509.Certificate, obj: ObjectRef | None, what: str, **kwargs: Any
    ) -> Finding | None:
        left = (cert.not_valid_after_utc - self.now).total_seconds() / 86400
        if left >= self.settings.cert_warn_days:
            return None
        subject = cert.subject.rfc4514_string() or "(no subject)"
        end = cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
        if left < 0:
            message, severity = (
                f"{what} ({subject}) expired {-left:.1f} days ago, at {end}",
                Severity.CRITICAL,
            )
        else:
            severity = Severity.HIGH if left < 7 else Severity.MEDIUM
            message = f"{what} ({subject}) expires in {left:.1f} days, at {end}"
        return self.finding(
            obj, message, severity=severity, not_after=end, days_left=round(left, 2), **kwargs
        )


@register
class APIServerCertificateCheck(_ExpiryCheck):
    id = "cert.apiserver-serving"
    title = "API server serving certificate near expiry"
    severity = Severity.HIGH
    hint = "Renew the API server's serving certificate before clients start refusing it"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.cert: x509.Certificate | None = None
        self.server = ""

    async def gather(self, kube: KubeClient) -> None:
        self.server = kube.conn.server
        url = urlsplit(self.server)
        if url.scheme != "https" or not url.hostname:
            return
        # Not create_default_context(): it loads the system's CA bundle (20-100 ms of CPU a sweep)
        # for a handshake that verifies nothing.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # read the certificate even when it is already expired
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(url.hostname, url.port or 443, ssl=ctx), timeout=10
            )
        except (OSError, TimeoutError) as exc:
            raise KubeConnectionError(
                f"{self.server}: cannot reach the API server to read its certificate: {exc}"
            ) from exc
        try:
            der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        finally:
            writer.close()
            await writer.wait_closed()
        self.cert = x509.load_der_x509_certificate(der)

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        if self.cert is None:
            return []
        found = self.judge(
            self.cert,
            ObjectRef(kind="APIServer", name=self.server),
            "serving certificate",
            server=self.server,
        )
        return [found] if found else []


@register
class KubeconfigCertificateCheck(_ExpiryCheck):
    id = "cert.kubeconfig-client"
    title = "Kubeconfig client certificate near expiry"
    severity = Severity.HIGH
    hint = "Issue a new client certificate for this kubeconfig before it stops authenticating"

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        conn = self.ctx.connection
        if conn is None or not conn.client_cert_pem:
            return
        for cert in pem_certificates(conn.client_cert_pem)[:1]:
            found = self.judge(cert, ObjectRef(kind="Kubeconfig", name=conn.context), "client certificate")
            if found:
                yield found


@register
class TLSSecretCertificateCheck(_ExpiryCheck):
    id = "cert.tls-secret"
    title = "TLS Secrets whose certificate is near expiry"
    severity = Severity.HIGH
    hint = "Renew the certificate (or fix cert-manager's renewal) and roll the workloads that mount it"
    needs = (Need(SECRETS, field_selector="type=kubernetes.io/tls"),)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.found: list[Finding] = []

    def observe(self, resource: Resource, obj: Obj) -> None:
        if obj.get("type") != "kubernetes.io/tls":
            return
        raw = (obj.get("data") or {}).get("tls.crt")
        if not raw:
            return
        try:
            certs = pem_certificates(base64.b64decode(raw))
        except (binascii.Error, ValueError):
            certs = []
        if not certs:
            self.found.append(
                self.finding_for(
                    resource, obj, "tls.crt holds no readable PEM certificate", severity=Severity.MEDIUM
                )
            )
            return
        found = self.judge(certs[0], ref(resource, obj), "tls.crt")
        if found:
            if labels(obj):
                found.details["labels"] = labels(obj)
            self.found.append(found)

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        return self.found


def ca_bundles(resource: Resource, obj: Obj) -> Iterable[tuple[str, str]]:
    """(where, base64 caBundle) of webhook configurations, APIServices and CRD conversion webhooks."""
    spec = obj.get("spec") or {}
    if resource.key in (VALIDATING_WEBHOOKS.key, MUTATING_WEBHOOKS.key):
        for hook in obj.get("webhooks") or []:
            bundle = (hook.get("clientConfig") or {}).get("caBundle")
            if bundle:
                yield f"webhook {hook.get('name')!r} caBundle", bundle
    elif resource.key == APISERVICES.key:
        if spec.get("caBundle"):
            yield "caBundle", spec["caBundle"]
    elif resource.key == CRDS.key:
        bundle = (((spec.get("conversion") or {}).get("webhook") or {}).get("clientConfig") or {}).get(
            "caBundle"
        )
        if bundle:
            yield "conversion webhook caBundle", bundle


@register
class CABundleCertificateCheck(_ExpiryCheck):
    id = "cert.webhook-cabundle"
    title = "Webhook, APIService and conversion caBundles near expiry"
    severity = Severity.HIGH
    hint = (
        "When the CA ends, the API server stops trusting the webhook: rotate the CA and the bundle together"
    )
    needs = (Need(VALIDATING_WEBHOOKS), Need(MUTATING_WEBHOOKS), Need(APISERVICES), Need(CRDS))

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.found: list[Finding] = []

    def observe(self, resource: Resource, obj: Obj) -> None:
        for where, bundle in ca_bundles(resource, obj):
            try:
                certs = pem_certificates(base64.b64decode(bundle))
            except (binascii.Error, ValueError):
                certs = []
            if not certs:
                self.found.append(
                    self.finding_for(
                        resource, obj, f"{where} holds no readable certificate", severity=Severity.HIGH
                    )
                )
                continue
            # The bundle stops working when its last certificate ends.
            last = max(certs, key=lambda c: c.not_valid_after_utc)
            found = self.judge(last, ref(resource, obj), where)
            if found:
                self.found.append(found)

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        return self.found
