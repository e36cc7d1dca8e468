"""Certificate probe: healthy sandbox certificates pass; a client certificate or TLS secret expiring
inside the threshold is named with its subject and end date."""

from __future__ import annotations

import dataclasses
import datetime as dt

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.config import load_kubeconfig
from kubeprobe.sandbox import pki
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.faults import Faults
from tests.cases.probes.conftest import RunProbe


async def test_healthy_sandbox_certificates_pass(run_probe: RunProbe) -> None:
    outcome = await run_probe("certificate-probe")
    assert outcome.state == "succeeded", outcome.body["messages"]
    assert outcome.body["metrics"]["serving_days_left"] > 30
    assert outcome.body["metrics"]["client_days_left"] > 30


async def test_client_certificate_expiring_inside_the_threshold_fails(
    run_probe: RunProbe, sandbox: Sandbox
) -> None:
    folder = sandbox.folder / "pki"
    ca = pki.KeyPair((folder / "ca.crt").read_bytes(), (folder / "ca.key").read_bytes())
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    pair = pki.issue(ca, "kubeprobe-soon", organizations=("system:masters",), client=True, not_after=soon)
    conn = dataclasses.replace(
        load_kubeconfig(sandbox.kubeconfig), client_cert_pem=pair.cert_pem, client_key_pem=pair.key_pem
    )
    async with KubeClient(conn) as client:
        outcome = await run_probe("certificate-probe", client=client)
    assert outcome.state == "failed"
    (message,) = outcome.body["messages"]
    assert message.startswith("certificate-probe probe failed at expiry: kubeconfig client certificate")
    assert "CN=kubeprobe-soon,O=system:masters) expires in 2.0 days" in message
    assert "inside the 30-day threshold" in message
    assert "serving certificate" not in message
    # The same cluster with the admin's long-lived certificate passes again.
    assert (await run_probe("certificate-probe")).state == "succeeded"


async def test_serving_certificate_inside_a_long_threshold_is_named(
    run_probe: RunProbe, sandbox: Sandbox
) -> None:
    outcome = await run_probe("certificate-probe", {"threshold_days": 400})
    assert outcome.state == "failed"
    message = outcome.body["messages"][0]
    assert f"API server serving certificate at {sandbox.server}" in message
    assert "inside the 400-day threshold" in message


async def test_expiring_tls_secret_is_named(run_probe: RunProbe, sandbox: Sandbox, namespace: str) -> None:
    faults = Faults(sandbox)
    await faults.expiring_tls_secret(namespace, "web-tls", dt.datetime.now(dt.UTC) + dt.timedelta(days=3))
    outcome = await run_probe("certificate-probe", {"tls_secrets": [f"{namespace}/web-tls"]})
    assert outcome.state == "failed"
    assert (
        f"certificate of secret {namespace}/web-tls (CN=probe.example) expires in 3.0 days"
        in (outcome.body["messages"][0])
    )
    expired = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    await faults.expiring_tls_secret(namespace, "web-tls", expired)
    outcome = await run_probe("certificate-probe", {"tls_secrets": [f"{namespace}/web-tls"]})
    assert (
        f"certificate of secret {namespace}/web-tls (CN=probe.example) expired at"
        in outcome.body["messages"][0]
    )
    await faults.expiring_tls_secret(namespace, "web-tls", dt.datetime.now(dt.UTC) + dt.timedelta(days=90))
    assert (
        await run_probe("certificate-probe", {"tls_secrets": [f"{namespace}/web-tls"]})
    ).state == "succeeded"
