"""How the operator reaches its cluster: a kubeconfig (out of cluster) or the pod's service account.

The code lives in :mod:`kubeprobe.kube.incluster` (run pods use it too); re-exported here.
"""

from __future__ import annotations

from kubeprobe.kube.incluster import SERVICE_ACCOUNT, in_cluster_connection, resolve_connection

__all__ = ["SERVICE_ACCOUNT", "in_cluster_connection", "resolve_connection"]
