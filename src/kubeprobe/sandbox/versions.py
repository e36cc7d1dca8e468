"""Pinned versions of the sandbox's components, and where their builds are cached."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

KUBERNETES_VERSION = "v1.36.3"
ETCD_VERSION = "v3.6.16"
KWOK_VERSION = "v0.8.0"
#: The oldest Go that builds all three (their go.mod files say go 1.26.0).
MIN_GO = (1, 26)

#: Binaries of the sandbox, and the Go module (under ``gomod/``) and package each is built from.
COMPONENTS: dict[str, tuple[str, str]] = {
    "etcd": ("etcd", "kubeprobe.local/sandbox/etcd"),
    "kube-apiserver": ("kubernetes", "k8s.io/kubernetes/cmd/kube-apiserver"),
    "kube-controller-manager": ("kubernetes", "k8s.io/kubernetes/cmd/kube-controller-manager"),
    "kube-scheduler": ("kubernetes", "k8s.io/kubernetes/cmd/kube-scheduler"),
    "kwok": ("kwok", "sigs.k8s.io/kwok/cmd/kwok"),
}

#: kwok stage files copied from the kwok module next to the binaries.
KWOK_STAGES = (
    "kustomize/stage/node/fast/node-initialize.yaml",
    "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "kustomize/stage/node/chaos/node-not-ready.yaml",
    "kustomize/stage/pod/fast/pod-ready.yaml",
    "kustomize/stage/pod/fast/pod-complete.yaml",
    "kustomize/stage/pod/fast/pod-delete.yaml",
)


def cache_root() -> Path:
    """``$KUBEPROBE_CACHE_DIR``, else ``$XDG_CACHE_HOME/kubeprobe``, else ``~/.cache/kubeprobe``."""
    explicit = os.environ.get("KUBEPROBE_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "kubeprobe"


@dataclass(frozen=True)
class Pins:
    """The versions a build is keyed by."""

    kubernetes: str = KUBERNETES_VERSION
    etcd: str = ETCD_VERSION
    kwok: str = KWOK_VERSION

    @property
    def key(self) -> str:
        return f"k8s-{self.kubernetes}_etcd-{self.etcd}_kwok-{self.kwok}"

    def bin_dir(self, root: Path | None = None) -> Path:
        return (root or cache_root()) / "sandbox" / "bin" / self.key


# -- real nodes ----------------------------------------------------------------------------------
CONTAINERD_VERSION = "v2.3.7"
COREDNS_VERSION = "v1.15.0"
#: Binaries of real nodes, and the Go module (under ``gomod/``), package and build tags of each.
#: runc, the CNI plugins, iptables and conntrack come from the host's packages
#: (``scripts/real-node-deps``: Debian's runc, containernetworking-plugins, iptables, conntrack).
NODE_COMPONENTS: dict[str, tuple[str, str, str]] = {
    "kubelet": ("node", "k8s.io/kubernetes/cmd/kubelet", ""),
    "kube-proxy": ("node", "k8s.io/kubernetes/cmd/kube-proxy", ""),
    "containerd": (
        "containerd",
        "github.com/containerd/containerd/v2/cmd/containerd",
        "no_btrfs urfave_cli_no_docs",
    ),
    "ctr": ("containerd", "github.com/containerd/containerd/v2/cmd/ctr", "no_btrfs urfave_cli_no_docs"),
    "containerd-shim-runc-v2": (
        "containerd",
        "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2",
        "no_btrfs urfave_cli_no_docs",
    ),
    # Only the plugins cluster DNS uses (gomod/coredns/main.go): 160 s cold instead of 85 min.
    "coredns": ("coredns", ".", ""),
    "pause": ("pause", ".", ""),
}


@dataclass(frozen=True)
class NodePins:
    """The versions a build of the real-node binaries is keyed by."""

    kubernetes: str = KUBERNETES_VERSION
    containerd: str = CONTAINERD_VERSION
    coredns: str = COREDNS_VERSION

    @property
    def key(self) -> str:
        return f"k8s-{self.kubernetes}_containerd-{self.containerd}_coredns-{self.coredns}"

    def bin_dir(self, root: Path | None = None) -> Path:
        return (root or cache_root()) / "sandbox" / "node-bin" / self.key
