"""Loading a kubeconfig into what a client needs to connect: server, TLS material, credentials.

Two ways in, because a kubeconfig is trusted on its owner's machine and untrusted in the center:

- :func:`parse_kubeconfig` (what the center stores and uses) takes **self-contained** kubeconfigs
  only: inline ``*-data`` and ``token``. A file reference (``certificate-authority``,
  ``client-certificate``, ``client-key``, ``tokenFile``), ``exec``, ``auth-provider``, any auth field
  it does not know, and any YAML anchor or alias are refused with an error naming the field; nothing
  a kubeconfig names is ever read or run. The text is bounded (:data:`MAX_STORED_BYTES`) and parsed
  only after a pass over the parser's events has refused anchors, aliases, deep nesting and too
  many nodes, so an alias bomb is refused before it expands.
- :func:`load_kubeconfig` (the user's own file, on the user's machine: the CLI, the operator, a
  case's subprocess) also reads the files it names, relative to the kubeconfig;
  :func:`inline_kubeconfig` turns such a file into a self-contained one before it is uploaded.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import ssl
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent, CollectionEndEvent, CollectionStartEvent, NodeEvent

from kubeprobe.kube.errors import KubeConfigError

#: The largest kubeconfig the center parses (its request body limit is 256 KiB too).
MAX_STORED_BYTES = 256 * 1024
#: The largest kubeconfig file read on the user's machine (many contexts with inline certificates).
MAX_LOCAL_BYTES = 4 * 1024 * 1024
#: Nesting deeper than this is no kubeconfig (and would make a recursive composer blow its stack).
MAX_DEPTH = 32
#: YAML events (scalars, collection starts and ends) of the largest kubeconfig accepted: some 20 a
#: context, so 500 contexts; a flat list of 100,000 one-letter items would cost seconds to load.
MAX_NODES = 10_000

#: What each section may hold in a stored kubeconfig; anything else is named and refused.
_CLUSTER_FIELDS = frozenset(
    {"server", "certificate-authority-data", "insecure-skip-tls-verify", "extensions"}
)
_USER_FIELDS = frozenset({"token", "client-certificate-data", "client-key-data", "extensions"})
#: Fields that name a file on the host that reads the kubeconfig, and what to write instead.
_FILE_FIELDS = {
    "certificate-authority": "certificate-authority-data",
    "client-certificate": "client-certificate-data",
    "client-key": "client-key-data",
    "tokenFile": "token",
}
_COMMAND_FIELDS = ("exec", "auth-provider")


_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 20-100x faster


def _check_events(text: str) -> None:
    """Refuse anchors, aliases, deep nesting and too many nodes, from the parser's events alone.

    This runs before anything is composed or constructed, so an alias bomb never expands, and it
    bounds the work the loader does next (libyaml's, when installed: a full kubeconfig of 250 KiB
    loads in some 30 ms where the pure-Python loader takes seconds).
    """
    depth = 0
    for nodes, event in enumerate(yaml.parse(text, Loader=_LOADER), 1):
        if isinstance(event, AliasEvent) or (isinstance(event, NodeEvent) and event.anchor):
            mark = event.start_mark
            at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            raise KubeConfigError(f"YAML anchors and aliases are not accepted{at}: write the value out")
        if isinstance(event, CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise KubeConfigError(f"nested deeper than {MAX_DEPTH} levels: not a kubeconfig")
        elif isinstance(event, CollectionEndEvent):
            depth -= 1
        if nodes > MAX_NODES:
            raise KubeConfigError(f"more than {MAX_NODES} YAML nodes: not a kubeconfig")


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
        """An SSL context that trusts the cluster's CA and presents the client certificate.

        Built once per distinct TLS material and shared (see :func:`_tls_context`): building one
        costs some 20 ms of CPU when it loads the system's CA bundle, and the center builds a
        client for every run it dispatches or analyses, on its event loop.
        """
        try:
            return _tls_context(
                self.ca_pem, self.client_cert_pem, self.client_key_pem, self.insecure_skip_tls_verify
            )
        except _TLSMaterialError as exc:
            raise KubeConfigError(f"context {self.context!r}: {exc}") from exc

    def to_kubeconfig(self) -> str:
        """A self-contained kubeconfig of this one context (what :func:`parse_kubeconfig` accepts)."""
        cluster: dict[str, Any] = {"server": self.server}
        if self.ca_pem:
            cluster["certificate-authority-data"] = base64.b64encode(self.ca_pem).decode()
        if self.insecure_skip_tls_verify:
            cluster["insecure-skip-tls-verify"] = True
        user: dict[str, Any] = {}
        if self.token:
            user["token"] = self.token
        if self.client_cert_pem and self.client_key_pem:
            user["client-certificate-data"] = base64.b64encode(self.client_cert_pem).decode()
            user["client-key-data"] = base64.b64encode(self.client_key_pem).decode()
        name = self.context
        doc = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": cluster}],
            "users": [{"name": name, "user": user}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
            "current-context": name,
        }
        return yaml.safe_dump(doc, sort_keys=False)


class _TLSMaterialError(Exception):
    """TLS material of a kubeconfig that does not load (the caller names the context)."""


@functools.lru_cache(maxsize=256)
def _tls_context(
    ca_pem: bytes | None, cert_pem: bytes | None, key_pem: bytes | None, insecure: bool
) -> ssl.SSLContext:
    """One SSL context per distinct TLS material (contexts are safe to share between clients).

    A cluster's own CA replaces the system's trust store, as client-go does; the system's CA
    bundle is loaded only for a server with no CA given.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # hostname checked, certificate required
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif ca_pem:
        try:
            ctx.load_verify_locations(cadata=ca_pem.decode())
        except (ssl.SSLError, ValueError) as exc:
            raise _TLSMaterialError(f"certificate-authority data is not a PEM CA: {exc}") from exc
    else:
        ctx.load_default_certs()
    if cert_pem and key_pem:
        # ssl can only load a key pair from files; write them to a private temp dir.
        with tempfile.TemporaryDirectory(prefix="kubeprobe-tls-") as tmp:
            cert = Path(tmp, "client.crt")
            key = Path(tmp, "client.key")
            cert.write_bytes(cert_pem)
            key.touch(mode=0o600)
            key.write_bytes(key_pem)
            try:
                ctx.load_cert_chain(cert, key)
            except ssl.SSLError as exc:
                raise _TLSMaterialError(f"client certificate and key do not load: {exc}") from exc
    return ctx


def warm_tls() -> None:
    """Load the system's CA bundle now (some 20-70 ms of CPU), before a request can wait for it."""
    _tls_context(None, None, None, False)


def _read_yaml(text: str, source: str, limit: int) -> dict[str, Any]:
    if len(text) > limit:
        raise KubeConfigError(f"{source}: {len(text)} characters; a kubeconfig may have at most {limit}")
    try:
        _check_events(text)
        doc = yaml.load(text, Loader=_LOADER)  # safe: after _check_events
    except KubeConfigError as exc:
        raise KubeConfigError(f"{source}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise KubeConfigError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise KubeConfigError(f"{source}: not a kubeconfig (expected a mapping with 'clusters')")
    return doc


def _decoded(entry: dict[str, Any], field: str, where: str) -> bytes | None:
    data = entry.get(field)
    if not data:
        return None
    try:
        return base64.b64decode(str(data), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KubeConfigError(f"{where}: {field} is not valid base64") from exc


def _check_self_contained(doc: dict[str, Any], source: str) -> None:
    """Refuse every file reference, command and unknown auth field, in every cluster and user."""
    for kind, allowed in (("cluster", _CLUSTER_FIELDS), ("user", _USER_FIELDS)):
        items = doc.get(f"{kind}s") or []
        if not isinstance(items, list):
            raise KubeConfigError(f"{source}: '{kind}s' must be a list")
        for item in items:
            body = item.get(kind) if isinstance(item, dict) else None
            if not isinstance(body, dict):
                continue  # reported by _named if that entry is the one used
            where = f"{source}: {kind} {str(item.get('name'))[:100]!r}"
            for key in body:
                if key in _FILE_FIELDS:
                    raise KubeConfigError(
                        f"{where}: {key} names a file; a kubeconfig given to the center must be "
                        f"self-contained: use {_FILE_FIELDS[key]} (`kubeprobe cluster add` inlines "
                        "local files for you)"
                    )
                if key in _COMMAND_FIELDS:
                    raise KubeConfigError(
                        f"{where}: {key} credentials run a command and are not accepted; "
                        "use a token or a client certificate"
                    )
                if key not in allowed:
                    raise KubeConfigError(
                        f"{where}: field {str(key)[:100]!r} is not supported; "
                        f"a {kind} may have {', '.join(sorted(allowed))}"
                    )


def _file_material(entry: dict[str, Any], key: str, base: Path, where: str) -> bytes | None:
    """``<key>-data`` (base64), else ``<key>``: a file path relative to the kubeconfig (local only)."""
    data = _decoded(entry, f"{key}-data", where)
    if data is not None:
        return data
    path = entry.get(key)
    if not path:
        return None
    file = Path(str(path)).expanduser()
    if not file.is_absolute():
        file = base / file
    if not file.is_file():
        raise KubeConfigError(f"{where}: {key} file {file} is not a regular file that can be read")
    try:
        with file.open("rb") as handle:
            data = handle.read(MAX_LOCAL_BYTES + 1)
    except OSError as exc:
        raise KubeConfigError(f"{where}: {key} file {file} cannot be read: {exc.strerror or exc}") from exc
    if len(data) > MAX_LOCAL_BYTES:
        raise KubeConfigError(f"{where}: {key} file {file} is larger than {MAX_LOCAL_BYTES} bytes")
    return data


def _named(items: Any, name: str, kind: str, source: str) -> dict[str, Any]:
    if not isinstance(items, list):
        raise KubeConfigError(f"{source}: '{kind}s' must be a list")
    for item in items:
        if isinstance(item, dict) and item.get("name") == name:
            body = item.get(kind)
            if not isinstance(body, dict):
                raise KubeConfigError(f"{source}: {kind} {name!r} has no '{kind}' mapping")
            return body
    known = [str(i.get("name"))[:100] for i in items[:20] if isinstance(i, dict)]
    raise KubeConfigError(f"{source}: no {kind} named {name[:100]!r} (known: {known})")


def _resolve(doc: dict[str, Any], context: str | None, source: str, files: Path | None) -> ClusterConnection:
    """One context of a parsed kubeconfig; ``files``: where file references are read (local only)."""
    ctx_name = context or doc.get("current-context")
    if not ctx_name:
        raise KubeConfigError(f"{source}: no context given and no current-context set")
    ctx = _named(doc.get("contexts") or [], str(ctx_name), "context", source)
    cluster = _named(doc.get("clusters") or [], str(ctx.get("cluster")), "cluster", source)
    user_name = ctx.get("user")
    user = _named(doc.get("users") or [], str(user_name), "user", source) if user_name else {}
    server = cluster.get("server")
    if not isinstance(server, str) or not server.startswith(("https://", "http://")):
        raise KubeConfigError(
            f"{source}: cluster {str(ctx.get('cluster'))[:100]!r} needs a 'server' URL (https://host:port)"
        )
    where = f"{source} context {str(ctx_name)[:100]!r}"
    if user.get("exec") or user.get("auth-provider"):
        raise KubeConfigError(f"{where}: exec and auth-provider credentials are not supported")
    token = user.get("token")
    if files is None:
        cert = _decoded(user, "client-certificate-data", where)
        key = _decoded(user, "client-key-data", where)
        ca = _decoded(cluster, "certificate-authority-data", where)
    else:
        if not token and user.get("tokenFile"):
            token = (_file_material(user, "tokenFile", files, where) or b"").decode().strip()
        cert = _file_material(user, "client-certificate", files, where)
        key = _file_material(user, "client-key", files, where)
        ca = _file_material(cluster, "certificate-authority", files, where)
    if bool(cert) != bool(key):
        raise KubeConfigError(f"{where}: client-certificate and client-key must be given together")
    return ClusterConnection(
        server=server.rstrip("/"),
        context=str(ctx_name),
        ca_pem=ca,
        client_cert_pem=cert,
        client_key_pem=key,
        token=str(token) if token else None,
        insecure_skip_tls_verify=bool(cluster.get("insecure-skip-tls-verify")),
    )


#: Resolved stored kubeconfigs remembered (a few KiB each: the key is a digest, not the text).
_PARSED_CACHE = 1024
_parsed: OrderedDict[tuple[bytes, str | None, str], ClusterConnection] = OrderedDict()
_parsed_lock = threading.Lock()


def parse_kubeconfig(
    text: str,
    *,
    context: str | None = None,
    source: str = "<kubeconfig>",
    base_dir: object = None,  # ignored: nothing a stored kubeconfig names is read (callers drop it)
) -> ClusterConnection:
    """Resolve one context of a self-contained kubeconfig (what the center stores); see the module.

    The center resolves a cluster's stored kubeconfig for every run it dispatches or analyses, on
    its event loop; one of the largest accepted (256 KiB) costs some 90 ms to parse, so what was
    resolved is remembered by the text's digest (:data:`_PARSED_CACHE` entries, errors never).
    """
    key = (hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest(), context, source)
    with _parsed_lock:
        if (conn := _parsed.get(key)) is not None:
            _parsed.move_to_end(key)
            return conn
    doc = _read_yaml(text, source, MAX_STORED_BYTES)
    _check_self_contained(doc, source)
    conn = _resolve(doc, context, source, None)
    with _parsed_lock:
        _parsed[key] = conn
        while len(_parsed) > _PARSED_CACHE:
            _parsed.popitem(last=False)
    return conn


def _read_local(path: str | Path) -> tuple[Path, str]:
    file = Path(path).expanduser()
    try:
        if not file.is_file():
            raise KubeConfigError(f"kubeconfig {file} cannot be read: not a regular file")
        with file.open(encoding="utf-8", errors="replace") as handle:
            return file, handle.read(MAX_LOCAL_BYTES + 1)
    except OSError as exc:
        raise KubeConfigError(f"kubeconfig {file} cannot be read: {exc.strerror or exc}") from exc


def load_kubeconfig(path: str | Path, context: str | None = None) -> ClusterConnection:
    """Resolve one context of the user's own kubeconfig file, reading the files it names."""
    file, text = _read_local(path)
    return _resolve(_read_yaml(text, str(file), MAX_LOCAL_BYTES), context, str(file), file.parent)


def inline_kubeconfig(path: str | Path, context: str | None = None) -> tuple[str, bool]:
    """The user's kubeconfig as a self-contained text for the center, and whether files were inlined.

    A file that is already self-contained is returned as it is; otherwise the one context is
    resolved here, on the user's machine, and written out with its files' contents inline.
    """
    file, text = _read_local(path)
    try:
        parse_kubeconfig(text, context=context, source=str(file))
    except KubeConfigError:
        conn = load_kubeconfig(file, context)
        return conn.to_kubeconfig(), True
    return text, False
