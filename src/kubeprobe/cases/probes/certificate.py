"""Certificate probe: the API server's serving certificate and the kubeconfig's client certificate
(and, optionally, named TLS Secrets) must stay valid for more than ``threshold_days``.

The serving certificate is read from a TLS handshake with the API server (whatever a client would
see); the client certificate is the one the probe's own connection presents.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ssl
from urllib.parse import urlsplit

from cryptography import x509
from pydantic import BaseModel, Field

from kubeprobe.cases.context import CaseContext, ProbeFailure
from kubeprobe.cases.registry import REGISTRY
from kubeprobe.kube.errors import KubeAPIError, KubeConnectionError


class CertificateProbeParams(BaseModel):
    """Parameters of the certificate probe."""

    threshold_days: float = Field(30, gt=0, description="Fail when a certificate ends sooner than this.")
    tls_secrets: list[str] = Field(
        default_factory=list, description='kubernetes.io/tls Secrets to check too, as "namespace/name".'
    )
    handshake_timeout_seconds: float = Field(10, gt=0, description="Limit of the TLS handshake.")


def describe(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string() or cert.issuer.rfc4514_string()


def days_left(cert: x509.Certificate, now: dt.datetime) -> float:
    return (cert.not_valid_after_utc - now).total_seconds() / 86400


async def serving_certificate(server: str, timeout: float) -> x509.Certificate:
    """The leaf certificate the API server presents (not verified: expiry is what is checked)."""
    url = urlsplit(server)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(
                url.hostname, url.port or 443, ssl=ctx, server_hostname=url.hostname
            )
    except (OSError, TimeoutError) as exc:
        raise KubeConnectionError(f"TLS handshake with {server} failed: {exc}") from exc
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        writer.close()
        await writer.wait_closed()
    del reader
    return x509.load_der_x509_certificate(der)


def check(what: str, cert: x509.Certificate, now: dt.datetime, threshold: float) -> str | None:
    left = days_left(cert, now)
    end = cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    if left <= 0:
        return f"{what} ({describe(cert)}) expired at {end}"
    if left < threshold:
        return (
            f"{what} ({describe(cert)}) expires in {left:.1f} days at {end}, "
            f"inside the {threshold:g}-day threshold"
        )
    return None


@REGISTRY.probe("certificate-probe", params=CertificateProbeParams, timeout_seconds=60)
async def certificate_probe(ctx: CaseContext, params: CertificateProbeParams) -> None:
    """Check the API server's serving certificate and the client certificate against an expiry threshold."""
    now = dt.datetime.now(dt.UTC)
    problems: list[str] = []
    conn = ctx.kube.conn
    with ctx.report.step("serving"):
        if conn.server.startswith("https"):
            cert = await serving_certificate(conn.server, params.handshake_timeout_seconds)
            ctx.report.metrics["serving_days_left"] = round(days_left(cert, now), 2)
            problem = check(
                f"API server serving certificate at {conn.server}", cert, now, params.threshold_days
            )
            if problem:
                problems.append(problem)
    with ctx.report.step("client"):
        if conn.client_cert_pem:
            cert = x509.load_pem_x509_certificate(conn.client_cert_pem)
            ctx.report.metrics["client_days_left"] = round(days_left(cert, now), 2)
            problem = check(
                f"kubeconfig client certificate of context {conn.context}", cert, now, params.threshold_days
            )
            if problem:
                problems.append(problem)
    with ctx.report.step("secrets"):
        for ref in params.tls_secrets:
            namespace, _, name = ref.partition("/")
            try:
                secret = await ctx.kube.get(f"/api/v1/namespaces/{namespace}/secrets/{name}")
            except KubeAPIError as exc:
                problems.append(f"secret {ref} cannot be read: {exc}")
                continue
            pem = base64.b64decode((secret.get("data") or {}).get("tls.crt", ""))
            try:
                cert = x509.load_pem_x509_certificate(pem)
            except ValueError:
                problems.append(f"secret {ref} has no PEM certificate in tls.crt")
                continue
            problem = check(f"certificate of secret {ref}", cert, now, params.threshold_days)
            if problem:
                problems.append(problem)
    with ctx.report.step("expiry"):
        if problems:
            raise ProbeFailure("; ".join(problems))
