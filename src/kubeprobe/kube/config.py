"""Loading a kubeconfig into what a client needs to connect: server, TLS material, credentials."""

from __future__ import annotations

import base64
import binascii
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kubeprobe.kube.errors import KubeConfigError


@dataclass(frozen=True)
class ClusterConnection:
    """How to reach one cluster's API server, resolved from a kubeconfig context."""

    server: str
    context: str
    ca_pem: bytes | None = None
    client_cert_pem: bytes | None = None
    client_key_pem: bytes | None = None
    token: str | None = None
    insecure_skip_tls_verify: bool = False

    def ssl_context(self) -> ssl.SSLContext:
        """An SSL context that trusts the cluster's CA and presents the client certificate."""
        ctx = ssl.create_default_context()
        if self.insecure_skip_tls_verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif self.ca_pem:
            try:
                ctx.load_verify_locations(cadata=self.ca_pem.decode())
            except (ssl.SSLError, ValueError) as exc:
                raise KubeConfigError(
                    f"context {self.context!r}: certificate-authority data is not a PEM CA: {exc}"
                ) from exc
        if self.client_cert_pem and self.client_key_pem:
            # ssl can only load a key pair from files; write them to a private temp dir.
            with tempfile.TemporaryDirectory(prefix="kubeprobe-tls-") as tmp:
                cert = Path(tmp, "client.crt")
                key = Path(tmp, "client.key")
                cert.write_bytes(self.client_cert_pem)
                key.touch(mode=0o600)
                key.write_bytes(self.client_key_pem)
                try:
                    ctx.load_cert_chain(cert, key)
                except ssl.SSLError as exc:
                    raise KubeConfigError(
                        f"context {self.context!r}: client certificate and key do not load: {exc}"
                    ) from exc
        return ctx


def _material(entry: dict[str, Any], key: str, base: Path, where: str) -> bytes | None:
    """Read `<key>-data` (base64) or `<key>` (a file path relative to the kubeconfig)."""
    data = entry.get(f"{key}-data")
    if data:
        try:
            return base64.b64decode(str(data), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise KubeConfigError(f"{where}: {key}-data is not valid base64") from exc
    path = entry.get(key)
    if path:
        file = Path(str(path))
        if not file.is_absolute():
            file = base / file
        try:
            return file.read_bytes()
        except OSError as exc:
            raise KubeConfigError(f"{where}: {key} file {file} cannot be read: {exc}") from exc
    return None


def _named(items: Any, name: str, kind: str, source: str) -> dict[str, Any]:
    if not isinstance(items, list):
        raise KubeConfigError(f"{source}: '{kind}s' must be a list")
    for item in items:
        if isinstance(item, dict) and item.get("name") == name:
            body = item.get(kind)
            if not isinstance(body, dict):
                raise KubeConfigError(f"{source}: {kind} {name!r} has no '{kind}' mapping")
            return body
    known = [i.get("name") for i in items if isinstance(i, dict)]
    raise KubeConfigError(f"{source}: no {kind} named {name!r} (known: {known})")


def parse_kubeconfig(
    text: str,
    *,
    context: str | None = None,
    base_dir: Path | None = None,
    source: str = "<kubeconfig>",
) -> ClusterConnection:
    """Resolve one context of a kubeconfig given as text."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise KubeConfigError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise KubeConfigError(f"{source}: not a kubeconfig (expected a mapping with 'clusters')")
    base = base_dir or Path.cwd()
    ctx_name = context or doc.get("current-context")
    if not ctx_name:
        raise KubeConfigError(f"{source}: no context given and no current-context set")
    ctx = _named(doc.get("contexts") or [], str(ctx_name), "context", source)
    cluster = _named(doc.get("clusters") or [], str(ctx.get("cluster")), "cluster", source)
    user_name = ctx.get("user")
    user = _named(doc.get("users") or [], str(user_name), "user", source) if user_name else {}
    server = cluster.get("server")
    if not server or not str(server).startswith(("https://", "http://")):
        raise KubeConfigError(
            f"{source}: cluster {ctx.get('cluster')!r} needs a 'server' URL (https://host:port)"
        )
    where = f"{source} context {ctx_name!r}"
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = (_material(user, "tokenFile", base, where) or b"").decode().strip()
    if user.get("exec") or user.get("auth-provider"):
        raise KubeConfigError(f"{where}: exec and auth-provider credentials are not supported yet")
    cert = _material(user, "client-certificate", base, where)
    key = _material(user, "client-key", base, where)
    if bool(cert) != bool(key):
        raise KubeConfigError(f"{where}: client-certificate and client-key must be given together")
    return ClusterConnection(
        server=str(server).rstrip("/"),
        context=str(ctx_name),
        ca_pem=_material(cluster, "certificate-authority", base, where),
        client_cert_pem=cert,
        client_key_pem=key,
        token=str(token) if token else None,
        insecure_skip_tls_verify=bool(cluster.get("insecure-skip-tls-verify")),
    )


def load_kubeconfig(path: str | Path, context: str | None = None) -> ClusterConnection:
    """Resolve one context of a kubeconfig file; errors name the file and the field."""
    file = Path(path).expanduser()
    try:
        text = file.read_text()
    except OSError as exc:
        raise KubeConfigError(f"kubeconfig {file} cannot be read: {exc.strerror or exc}") from exc
    return parse_kubeconfig(text, context=context, base_dir=file.parent, source=str(file))
