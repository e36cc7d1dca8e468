"""How a process reaches its cluster: a kubeconfig (out of cluster) or the pod's service account.

Used by the resident operator and by cases running in a run pod (``python -m kubeprobe.cases``).
"""

from __future__ import annotations

import os
from pathlib import Path

from kubeprobe.kube.config import ClusterConnection, load_kubeconfig
from kubeprobe.kube.errors import KubeConfigError

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def in_cluster_connection(root: Path | None = None) -> ClusterConnection:
    """The pod's service account (``KUBEPROBE_SERVICE_ACCOUNT_DIR`` moves its folder, for tests)."""
    root = root or Path(os.environ.get("KUBEPROBE_SERVICE_ACCOUNT_DIR") or SERVICE_ACCOUNT)
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        raise KubeConfigError("not in a pod: KUBERNETES_SERVICE_HOST/PORT are unset; pass --kubeconfig")
    try:
        token = (root / "token").read_text().strip()
        ca = (root / "ca.crt").read_bytes()
    except OSError as exc:
        raise KubeConfigError(f"service account files in {root} cannot be read: {exc}") from exc
    server = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
    return ClusterConnection(server=server, context="in-cluster", ca_pem=ca, token=token)


def resolve_connection(kubeconfig: str | None, context: str | None = None) -> ClusterConnection:
    """The kubeconfig if given (or $KUBECONFIG), else in-cluster."""
    path = kubeconfig or os.environ.get("KUBECONFIG")
    if path:
        return load_kubeconfig(path, context)
    return in_cluster_connection()
