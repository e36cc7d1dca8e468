"""Real nodes of a sandbox: what containerd, kubelet, kube-proxy and CoreDNS start with.

A real node ``real-node-<i>`` is a kubelet with its own containerd (runc, the host's CNI plugins)
and kube-proxy (iptables mode), all three inside the node's network namespace
(:mod:`kubeprobe.sandbox.network`). Its pods live in the cgroup root ``/kp-<tag>-<i>``; its
containerd keeps images and snapshots in ``nodes/<i>/containerd`` of the sandbox folder and its
sockets, runc state and pod network namespaces under ``/run/kp-<tag>/n<i>``. CoreDNS runs on the
host, on the bridge address, behind the ``kube-dns`` Service (``10.96.0.10``).

Real nodes register with the taint ``kubeprobe.io/real-node=true:NoSchedule`` and the labels
``type=real`` and ``kubeprobe.io/real-node=true``, so pods meant for kwok nodes never land on them.

Facts of this kind of machine built into the configuration: without CAP_SYS_RESOURCE runc cannot
lower ``oom_score_adj`` (containerd ``restrict_oom_score_adj``, kubelet and kube-proxy
``oomScoreAdj: 0``); cgroup v1 hosts need ``failCgroupV1: false``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from kubeprobe.sandbox import pki
from kubeprobe.sandbox.components import kubeconfig
from kubeprobe.sandbox.network import NodeNet, SandboxNet, netns_exec, run_dir

TAINT_KEY = "kubeprobe.io/real-node"
REAL_LABELS = {"type": "real", TAINT_KEY: "true"}
DNS_SERVICE_IP = "10.96.0.10"
CLUSTER_DOMAIN = "cluster.local"
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"  # the name probes and clusters expect; built here
CNI_BIN_DIRS = ("/usr/lib/cni", "/opt/cni/bin")
RUNC = "/usr/sbin/runc"


def node_components(index: int) -> tuple[str, str, str]:
    return (f"containerd-{index}", f"kubelet-{index}", f"kube-proxy-{index}")


def node_dir(folder: Path, index: int) -> Path:
    return folder / "nodes" / str(index)


def socket_dir(tag: str, index: int) -> Path:
    return run_dir(tag) / f"n{index}"


def containerd_socket(tag: str, index: int) -> Path:
    return socket_dir(tag, index) / "containerd.sock"


def _load_ca(folder: Path) -> pki.KeyPair:
    return pki.KeyPair((folder / "pki" / "ca.crt").read_bytes(), (folder / "pki" / "ca.key").read_bytes())


def write_shared(folder: Path, name: str, net: SandboxNet, apiserver_port: int) -> None:
    """Certificates and kubeconfigs the real nodes share: the API server's client certificate for
    kubelets, kube-proxy's kubeconfig."""
    ca = _load_ca(folder)
    pki.issue(ca, "kube-apiserver-kubelet-client", organizations=("system:masters",), client=True).write(
        folder / "pki", "apiserver-kubelet-client"
    )
    server = f"https://{net.host_ip}:{apiserver_port}"
    proxy = pki.issue(ca, "system:kube-proxy", client=True)
    (folder / "kube-proxy.kubeconfig").write_text(
        kubeconfig(f"kubeprobe-{name}", server, ca.cert_pem, proxy, "system:kube-proxy")
    )


def write_node(folder: Path, name: str, net: SandboxNet, node: NodeNet, apiserver_port: int) -> None:
    """Everything one node's components read: certificates, kubeconfig, the three configs, CNI."""
    ndir = node_dir(folder, node.index)
    for sub in ("pki", "cni", "cni-data", "kubelet", "pod-logs", "containerd"):
        (ndir / sub).mkdir(parents=True, exist_ok=True)
    ca = _load_ca(folder)
    client = pki.issue(ca, f"system:node:{node.name}", organizations=("system:nodes",), client=True)
    server = f"https://{net.host_ip}:{apiserver_port}"
    (ndir / "kubelet.kubeconfig").write_text(
        kubeconfig(f"kubeprobe-{name}", server, ca.cert_pem, client, f"system:node:{node.name}")
    )
    pki.issue(ca, node.name, dns_names=(node.name,), ip_addresses=(node.ip,), server=True).write(
        ndir / "pki", "kubelet"
    )
    (ndir / "containerd.toml").write_text(containerd_config(folder, net.tag, node))
    (ndir / "kubelet.yaml").write_text(yaml.safe_dump(kubelet_config(folder, net.tag, node), sort_keys=False))
    (ndir / "kube-proxy.yaml").write_text(
        yaml.safe_dump(kube_proxy_config(folder, net, node), sort_keys=False)
    )
    (ndir / "cni" / "10-kubeprobe.conflist").write_text(json.dumps(cni_config(folder, net, node), indent=2))
    # Pods with dnsPolicy Default get this; the host's resolver may be unreachable from pods.
    (ndir / "resolv.conf").write_text(f"nameserver {net.host_ip}\n")


def containerd_config(folder: Path, tag: str, node: NodeNet) -> str:
    ndir = node_dir(folder, node.index)
    sock = socket_dir(tag, node.index)
    runtime = "plugins.'io.containerd.cri.v1.runtime'"
    return "\n".join(
        [
            "version = 3",
            f"root = '{ndir / 'containerd'}'",
            f"state = '{sock / 'state'}'",
            "[grpc]",
            f"  address = '{sock / 'containerd.sock'}'",
            "[ttrpc]",
            f"  address = '{sock / 'containerd.sock.ttrpc'}'",
            "[plugins.'io.containerd.cri.v1.images']",
            "  snapshotter = 'overlayfs'",
            "[plugins.'io.containerd.cri.v1.images'.pinned_images]",
            f"  sandbox = '{PAUSE_IMAGE}'",
            f"[{runtime}]",
            "  restrict_oom_score_adj = true",
            "  netns_mounts_under_state_dir = true",
            "  enable_cdi = false",
            "  disable_hugetlb_controller = true",
            f"[{runtime}.containerd]",
            "  default_runtime_name = 'runc'",
            f"[{runtime}.containerd.runtimes.runc]",
            "  runtime_type = 'io.containerd.runc.v2'",
            f"[{runtime}.containerd.runtimes.runc.options]",
            f"  BinaryName = '{RUNC}'",
            f"  Root = '{sock / 'runc'}'",
            "  SystemdCgroup = false",
            f"[{runtime}.cni]",
            f"  bin_dirs = {list(CNI_BIN_DIRS)!r}",
            f"  conf_dir = '{ndir / 'cni'}'",
            "[plugins.'io.containerd.grpc.v1.cri']",
            f"  stream_server_address = '{node.ip}'",
            "",
        ]
    )


def kubelet_config(folder: Path, tag: str, node: NodeNet) -> dict[str, Any]:
    ndir = node_dir(folder, node.index)
    sock = f"unix://{containerd_socket(tag, node.index)}"
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": node.ip,
        "port": 10250,
        "readOnlyPort": 0,
        "healthzBindAddress": node.ip,
        "healthzPort": 10248,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": False},
            "x509": {"clientCAFile": str(folder / "pki" / "ca.crt")},
        },
        "authorization": {"mode": "AlwaysAllow"},
        "tlsCertFile": str(ndir / "pki" / "kubelet.crt"),
        "tlsPrivateKeyFile": str(ndir / "pki" / "kubelet.key"),
        "containerRuntimeEndpoint": sock,
        "imageServiceEndpoint": sock,
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": f"/kp-{tag}-{node.index}",
        "failCgroupV1": False,
        "failSwapOn": False,
        "oomScoreAdj": 0,
        "clusterDNS": [DNS_SERVICE_IP],
        "clusterDomain": CLUSTER_DOMAIN,
        "resolvConf": str(ndir / "resolv.conf"),
        "podLogsDir": str(ndir / "pod-logs"),
        "registerWithTaints": [{"key": TAINT_KEY, "value": "true", "effect": "NoSchedule"}],
        "protectKernelDefaults": False,
        # The host's disk is shared with everything else: evict only when it is really full, and
        # never garbage-collect the images loaded by hand (nothing can pull them back).
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "1%",
            "imagefs.available": "1%",
            "nodefs.inodesFree": "1%",
        },
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "serializeImagePulls": False,
        "maxPods": 110,
        "nodeStatusUpdateFrequency": "5s",
        "syncFrequency": "10s",
        "fileCheckFrequency": "20s",
        "localStorageCapacityIsolation": True,
    }


def kube_proxy_config(folder: Path, net: SandboxNet, node: NodeNet) -> dict[str, Any]:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(folder / "kube-proxy.kubeconfig")},
        "mode": "iptables",
        "clusterCIDR": net.cluster_cidr,
        "hostnameOverride": node.name,
        "bindAddress": node.ip,
        "healthzBindAddress": f"{node.ip}:10256",
        "metricsBindAddress": f"{node.ip}:10249",
        "oomScoreAdj": 0,
        # Conntrack limits are machine-wide: leave them as they are.
        "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
        "iptables": {"minSyncPeriod": "0s", "syncPeriod": "30s"},
    }


def cni_config(folder: Path, net: SandboxNet, node: NodeNet) -> dict[str, Any]:
    return {
        "cniVersion": "1.0.0",
        "name": f"kp-{net.tag}-{node.index}",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": node.pod_cidr}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(node_dir(folder, node.index) / "cni-data"),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def argvs(folder: Path, node_bin: Path, net: SandboxNet, node: NodeNet) -> dict[str, list[str]]:
    """The command lines of one node's components (each inside the node's network namespace)."""
    ndir = node_dir(folder, node.index)
    inside = netns_exec(node.netns)
    containerd, kubelet, proxy = node_components(node.index)
    labels = ",".join(f"{k}={v}" for k, v in REAL_LABELS.items())
    return {
        # containerd finds its shim on PATH (and the shim finds runc by its absolute BinaryName).
        containerd: [
            *inside,
            "/usr/bin/env",
            f"PATH={node_bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            str(node_bin / "containerd"),
            f"--config={ndir / 'containerd.toml'}",
        ],
        kubelet: [
            *inside,
            str(node_bin / "kubelet"),
            f"--config={ndir / 'kubelet.yaml'}",
            f"--kubeconfig={ndir / 'kubelet.kubeconfig'}",
            f"--root-dir={ndir / 'kubelet'}",
            f"--cert-dir={ndir / 'pki'}",
            f"--hostname-override={node.name}",
            f"--node-ip={node.ip}",
            f"--node-labels={labels}",
            "--v=1",
        ],
        proxy: [*inside, str(node_bin / "kube-proxy"), f"--config={ndir / 'kube-proxy.yaml'}", "--v=1"],
    }


def health(tag: str, node: NodeNet) -> dict[str, str]:
    containerd, kubelet, proxy = node_components(node.index)
    return {
        containerd: f"file:{containerd_socket(tag, node.index)}",
        kubelet: f"http://{node.ip}:10248/healthz",
        proxy: f"http://{node.ip}:10256/healthz",
    }


def corefile(net: SandboxNet, folder: Path, name: str, health_port: int) -> str:
    return f""".:53 {{
    bind {net.host_ip}
    errors
    health 127.0.0.1:{health_port}
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        kubeconfig {folder / "admin.kubeconfig"} kubeprobe-{name}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 5
    }}
    cache 5
}}
"""


def dns_objects(net: SandboxNet) -> list[tuple[str, dict[str, Any]]]:
    """The ``kube-dns`` Service and its EndpointSlice (CoreDNS runs on the host, not in a pod)."""
    labels = {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"}
    ports = [("dns", "UDP"), ("dns-tcp", "TCP")]
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": labels},
        "spec": {
            "clusterIP": DNS_SERVICE_IP,
            "ports": [{"name": n, "protocol": p, "port": 53, "targetPort": 53} for n, p in ports],
        },
    }
    slice_ = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "kube-dns-host",
            "namespace": "kube-system",
            "labels": {
                "kubernetes.io/service-name": "kube-dns",
                "endpointslice.kubernetes.io/managed-by": "sandbox.kubeprobe.io",
            },
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": [net.host_ip], "conditions": {"ready": True}}],
        "ports": [{"name": n, "protocol": p, "port": 53} for n, p in ports],
    }
    return [
        ("/api/v1/namespaces/kube-system/services", service),
        ("/apis/discovery.k8s.io/v1/namespaces/kube-system/endpointslices", slice_),
    ]
