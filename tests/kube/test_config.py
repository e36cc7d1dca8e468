"""Kubeconfig loading: good files resolve, bad ones name the file and the field."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from kubeprobe.kube.config import load_kubeconfig, parse_kubeconfig
from kubeprobe.kube.errors import KubeConfigError
from kubeprobe.sandbox import pki

CA = pki.make_ca("test-ca")
CLIENT = pki.issue(CA, "someone", client=True)


def _doc(**user: str) -> str:
    return f"""
apiVersion: v1
kind: Config
current-context: c1
clusters:
- name: k1
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: {base64.b64encode(CA.cert_pem).decode()}
contexts:
- name: c1
  context: {{cluster: k1, user: u1}}
- name: broken
  context: {{cluster: nope, user: u1}}
users:
- name: u1
  user: {{{", ".join(f"{k}: {v}" for k, v in user.items())}}}
"""


def test_resolves_inline_client_certificate() -> None:
    text = _doc(
        **{
            "client-certificate-data": base64.b64encode(CLIENT.cert_pem).decode(),
            "client-key-data": base64.b64encode(CLIENT.key_pem).decode(),
        }
    )
    conn = parse_kubeconfig(text)
    assert conn.server == "https://127.0.0.1:6443"
    assert conn.client_cert_pem == CLIENT.cert_pem
    conn.ssl_context()  # loads CA and key pair


def test_reads_files_relative_to_the_kubeconfig(tmp_path: Path) -> None:
    CLIENT.write(tmp_path, "me")
    (tmp_path / "config").write_text(_doc(**{"client-certificate": "me.crt", "client-key": "me.key"}))
    conn = load_kubeconfig(tmp_path / "config")
    assert conn.client_key_pem == CLIENT.key_pem


@pytest.mark.parametrize(
    ("text", "context", "message"),
    [
        ("clusters: [", None, "not valid YAML"),
        ("- just a list", None, "not a kubeconfig"),
        (_doc(token="abc"), "missing", "no context named 'missing'"),
        (_doc(token="abc"), "broken", "no cluster named 'nope'"),
        (_doc(**{"client-certificate-data": "'not base64!'"}), None, "not valid base64"),
        (
            _doc(**{"client-certificate-data": base64.b64encode(b"x").decode()}),
            None,
            "given together",
        ),
        (
            _doc(**{"client-certificate": "/nonexistent/c.crt", "client-key": "k"}),
            None,
            "cannot be read",
        ),
    ],
)
def test_bad_kubeconfig_names_the_problem(text: str, context: str | None, message: str) -> None:
    with pytest.raises(KubeConfigError, match=message):
        parse_kubeconfig(text, context=context)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(KubeConfigError, match="cannot be read"):
        load_kubeconfig(tmp_path / "nope")
