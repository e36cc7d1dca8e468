"""What each sandbox component is started with: certificates, kubeconfigs, config files, argv."""

from __future__ import annotations

import base64
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from kubeprobe.sandbox import pki

#: Start order; stop order is the reverse.
ORDER = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")
SERVICE_CIDR = "10.96.0.0/16"
SERVICE_IP = "10.96.0.1"
KWOK_ANNOTATION = "kwok.x-k8s.io/node"
JSON_STORAGE_FLAG = "--storage-media-type=application/json"


@dataclass(frozen=True)
class Ports:
    etcd: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int
    kwok: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def allocate_ports(apiserver: int | None = None) -> Ports:
    """Free loopback ports for every listener; ``apiserver`` pins the API server's port."""
    chosen: set[int] = set()

    def pick() -> int:
        while True:
            port = free_port()
            if port not in chosen and port != apiserver:
                chosen.add(port)
                return port

    return Ports(
        etcd=pick(),
        etcd_peer=pick(),
        apiserver=apiserver or pick(),
        controller_manager=pick(),
        scheduler=pick(),
        kwok=pick(),
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def kubeconfig(name: str, server: str, ca: bytes, client: pki.KeyPair, user: str) -> str:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": server, "certificate-authority-data": _b64(ca)}}],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": _b64(client.cert_pem),
                    "client-key-data": _b64(client.key_pem),
                },
            }
        ],
        "contexts": [{"name": name, "context": {"cluster": name, "user": user}}],
        "current-context": name,
    }
    return yaml.safe_dump(doc, sort_keys=False)


def write_pki(folder: Path, name: str, ports: Ports, extra_ips: tuple[str, ...] = ()) -> None:
    """CA, serving and client certificates, service-account keys and kubeconfigs for a sandbox.

    ``extra_ips``: more addresses the API server's certificate is valid for (where real nodes and
    their pods reach it)."""
    pkid = folder / "pki"
    pkid.mkdir(parents=True, exist_ok=True)
    ca = pki.make_ca(f"kubeprobe-sandbox-{name}-ca")
    ca.write(pkid, "ca")
    pki.issue(
        ca,
        "kube-apiserver",
        dns_names=(
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ),
        ip_addresses=("127.0.0.1", SERVICE_IP, *extra_ips),
        server=True,
    ).write(pkid, "apiserver")
    sa_key, sa_pub = pki.service_account_key()
    (pkid / "sa.key").write_bytes(sa_key)
    (pkid / "sa.pub").write_bytes(sa_pub)
    server = f"https://127.0.0.1:{ports.apiserver}"
    users = {
        "admin": ("kubeprobe-admin", ("system:masters",)),
        "controller-manager": ("system:kube-controller-manager", ()),
        "scheduler": ("system:kube-scheduler", ()),
    }
    for file, (cn, orgs) in users.items():
        client = pki.issue(ca, cn, organizations=orgs, client=True)
        (folder / f"{file}.kubeconfig").write_text(
            kubeconfig(f"kubeprobe-{name}", server, ca.cert_pem, client, cn)
        )
    (folder / "kubeconfig").write_text((folder / "admin.kubeconfig").read_text())


def write_kwok_config(folder: Path, stages_dir: Path, node_lease_seconds: int = 40) -> Path:
    """kwok's configuration: node and pod lifecycles from the stage files of the kwok module."""
    docs: list[object] = [
        {
            "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
            "kind": "KwokConfiguration",
            "options": {
                "manageAllNodes": False,
                "manageNodesWithAnnotationSelector": f"{KWOK_ANNOTATION}=fake",
                "nodeLeaseDurationSeconds": node_lease_seconds,
                "nodeLeaseParallelism": 16,
                "nodePlayStageParallelism": 16,
                "podPlayStageParallelism": 32,
            },
        }
    ]
    for stage in sorted(stages_dir.glob("*.yaml")):
        docs.extend(d for d in yaml.safe_load_all(stage.read_text()) if d)
    path = folder / "kwok.yaml"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def argv(
    component: str,
    bin_dir: Path,
    folder: Path,
    name: str,
    ports: Ports,
    *,
    node_lease_seconds: int = 40,
    json_storage: bool = False,
) -> list[str]:
    """The command line of one component.

    ``node_lease_seconds`` is how long a kwok node lease lasts (renewed every quarter of it); the
    controller-manager's grace period follows it. Big sandboxes use longer leases so 10,000 nodes
    do not cost 1,000 lease writes a second.

    ``json_storage`` (scale runs only) makes the API server keep objects in etcd as JSON instead
    of protobuf, so :mod:`kubeprobe.sandbox.scale` can bulk-load pods through etcd's own API.
    """
    pkid = folder / "pki"
    exe = str(bin_dir / component)
    if component == "etcd":
        client = f"http://127.0.0.1:{ports.etcd}"
        peer = f"http://127.0.0.1:{ports.etcd_peer}"
        return [
            exe,
            f"--name={name}",
            f"--data-dir={folder / 'etcd-data'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster={name}={peer}",
            "--quota-backend-bytes=8589934592",
            "--auto-compaction-mode=periodic",
            "--auto-compaction-retention=5m",
            # A sandbox trades durability for speed: a machine crash loses it anyway.
            "--unsafe-no-fsync",
            "--log-level=warn",
        ]
    if component == "kube-apiserver":
        return [
            exe,
            f"--etcd-servers=http://127.0.0.1:{ports.etcd}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={ports.apiserver}",
            f"--cert-dir={pkid}",
            f"--tls-cert-file={pkid / 'apiserver.crt'}",
            f"--tls-private-key-file={pkid / 'apiserver.key'}",
            f"--client-ca-file={pkid / 'ca.crt'}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pkid / 'sa.pub'}",
            f"--service-account-signing-key-file={pkid / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=RBAC",
            "--allow-privileged=true",
            "--max-requests-inflight=1000",
            "--max-mutating-requests-inflight=500",
            *([JSON_STORAGE_FLAG] if json_storage else []),
            "--v=1",
        ]
    common = [
        "--bind-address=127.0.0.1",
        "--leader-elect=true",
        "--kube-api-qps=1000",
        "--kube-api-burst=2000",
        "--v=1",
    ]
    if component == "kube-controller-manager":
        kc = str(folder / "controller-manager.kubeconfig")
        return [
            exe,
            f"--kubeconfig={kc}",
            f"--authentication-kubeconfig={kc}",
            f"--authorization-kubeconfig={kc}",
            f"--secure-port={ports.controller_manager}",
            f"--service-account-private-key-file={pkid / 'sa.key'}",
            f"--root-ca-file={pkid / 'ca.crt'}",
            f"--cluster-signing-cert-file={pkid / 'ca.crt'}",
            f"--cluster-signing-key-file={pkid / 'ca.key'}",
            "--use-service-account-credentials=true",
            f"--node-monitor-grace-period={max(50, node_lease_seconds + 10)}s",
            f"--cluster-name={name}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            *common,
        ]
    if component == "kube-scheduler":
        kc = str(folder / "scheduler.kubeconfig")
        return [
            exe,
            f"--kubeconfig={kc}",
            f"--authentication-kubeconfig={kc}",
            f"--authorization-kubeconfig={kc}",
            f"--secure-port={ports.scheduler}",
            *common,
        ]
    if component == "kwok":
        return [
            exe,
            f"--kubeconfig={folder / 'admin.kubeconfig'}",
            f"--config={folder / 'kwok.yaml'}",
            f"--server-address=127.0.0.1:{ports.kwok}",
            # INFO logs every lease renewal: at 10,000 nodes that is thousands of lines a second.
            "--v=WARN",
        ]
    raise ValueError(f"unknown sandbox component {component!r}; known: {', '.join(ORDER)}")


def health_of(component: str, ports: Ports, spec: dict[str, object]) -> str:
    """Where a component's health is read: its state entry's ``health`` (real nodes: a URL, or
    ``file:PATH`` for a socket that exists once it serves), else the control plane's own."""
    health = spec.get("health")
    return str(health) if health else health_url(component, ports)


def health_url(component: str, ports: Ports) -> str:
    return {
        "etcd": f"http://127.0.0.1:{ports.etcd}/health",
        "kube-apiserver": f"https://127.0.0.1:{ports.apiserver}/readyz",
        "kube-controller-manager": f"https://127.0.0.1:{ports.controller_manager}/healthz",
        "kube-scheduler": f"https://127.0.0.1:{ports.scheduler}/healthz",
        "kwok": f"http://127.0.0.1:{ports.kwok}/healthz",
    }[component]
