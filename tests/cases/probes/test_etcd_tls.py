"""etcd probe over https with client certificates, against a real etcd that requires them."""

from __future__ import annotations

import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kubeprobe.sandbox import pki
from kubeprobe.sandbox.build import Builder
from tests.cases.probes.conftest import RunProbe


@dataclass(frozen=True)
class TlsEtcd:
    endpoint: str
    ca_file: Path
    cert_file: Path
    key_file: Path
    stranger_cert: Path
    stranger_key: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _healthy(etcd: TlsEtcd) -> bool:
    ctx = ssl.create_default_context(cafile=str(etcd.ca_file))
    ctx.load_cert_chain(etcd.cert_file, etcd.key_file)
    try:
        with urllib.request.urlopen(f"{etcd.endpoint}/health", context=ctx, timeout=2) as resp:
            return b'"true"' in resp.read()
    except OSError:
        return False


@pytest.fixture(scope="module")
def tls_etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsEtcd]:
    folder = tmp_path_factory.mktemp("etcd-tls")
    ca = pki.make_ca("etcd-ca")
    server = pki.issue(ca, "etcd", ip_addresses=("127.0.0.1",), server=True, client=True)
    client = pki.issue(ca, "kube-etcd-healthcheck-client", client=True)
    stranger = pki.issue(pki.make_ca("other-ca"), "stranger", client=True)
    ca_file, _ = ca.write(folder, "ca")
    server_cert, server_key = server.write(folder, "server")
    cert, key = client.write(folder, "client")
    stranger_cert, stranger_key = stranger.write(folder, "stranger")
    port, peer = _free_port(), _free_port()
    endpoint = f"https://127.0.0.1:{port}"
    log = (folder / "etcd.log").open("w")
    proc = subprocess.Popen(
        [
            str(Builder().build() / "etcd"),
            "--name=tls",
            f"--data-dir={folder / 'data'}",
            f"--listen-client-urls={endpoint}",
            f"--advertise-client-urls={endpoint}",
            f"--listen-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-cluster=tls=http://127.0.0.1:{peer}",
            f"--cert-file={server_cert}",
            f"--key-file={server_key}",
            f"--trusted-ca-file={ca_file}",
            "--client-cert-auth",
            "--unsafe-no-fsync",
            "--log-level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    etcd = TlsEtcd(endpoint, ca_file, cert, key, stranger_cert, stranger_key)
    try:
        deadline = time.monotonic() + 30
        while not _healthy(etcd):
            assert proc.poll() is None, (folder / "etcd.log").read_text()
            assert time.monotonic() < deadline, "TLS etcd did not become healthy in 30s"
            time.sleep(0.2)
        yield etcd
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()


async def test_client_certificate_over_https_passes(run_probe: RunProbe, tls_etcd: TlsEtcd) -> None:
    params = {
        "endpoint": tls_etcd.endpoint,
        "ca_file": str(tls_etcd.ca_file),
        "cert_file": str(tls_etcd.cert_file),
        "key_file": str(tls_etcd.key_file),
    }
    outcome = await run_probe("etcd-probe", params)
    assert outcome.state == "succeeded", outcome.body["messages"]
    assert outcome.body["metrics"]["txn_success_ratio"] == 1.0


async def test_certificate_of_another_ca_is_refused_by_etcd(run_probe: RunProbe, tls_etcd: TlsEtcd) -> None:
    params = {
        "endpoint": tls_etcd.endpoint,
        "ca_file": str(tls_etcd.ca_file),
        "cert_file": str(tls_etcd.stranger_cert),
        "key_file": str(tls_etcd.stranger_key),
    }
    outcome = await run_probe("etcd-probe", params)
    assert outcome.state == "failed"
    message = outcome.body["messages"][0]
    assert (
        f"failed at operations: etcd at {tls_etcd.endpoint}: put 0/3 ok ({tls_etcd.endpoint}/v3/kv/put:"
        in message
    )
