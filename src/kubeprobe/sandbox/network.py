"""The network of a sandbox with real nodes: a bridge on the host, a network namespace per node.

Each real node runs (containerd, kubelet, kube-proxy) inside its own network namespace
``kp-<tag>-<i>``, joined to the sandbox's bridge ``kpb<tag>`` on the host by a veth pair. So the
iptables rules kube-proxy writes, the pods' bridge and veths, and the per-namespace sysctls
(``ip_forward``, ``route_localnet``) never touch the host's own, two sandboxes with real nodes do
not fight over ``KUBE-SERVICES``, and deleting the namespaces takes all of it away.

Addresses: a sandbox takes a free slot ``k`` (0-27) machine-wide and with it ``10.(100+k).0.0/16``:
the bridge (this machine, where the API server, CoreDNS and the center are reached from pods) is
``10.(100+k).255.1/24``, node ``i`` is ``10.(100+k).255.(10+i)`` with pods in ``10.(100+k).i.0/24``.
The host routes each node's pod range via the node (routes vanish with the bridge); nodes route
each other's pod ranges directly over the bridge, so the host never forwards (its ``ip_forward``
stays as it was). ``<tag>`` is derived from the sandbox's folder, so everything can be found and
removed from the folder's path alone, even when its state file is gone.
"""

from __future__ import annotations

import hashlib
import ipaddress
import subprocess
from dataclasses import dataclass
from pathlib import Path

from kubeprobe.sandbox.errors import SandboxStateError
from kubeprobe.sandbox.locking import file_lock

SLOTS = 28
REGISTRY = Path("/run/kubeprobe/net")
NODE_IP_BASE = 10


def tag_of(folder: Path) -> str:
    """Six hex characters naming a sandbox's machine-wide objects (bridge, netns, cgroups, /run)."""
    return hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:6]


def run_dir(tag: str) -> Path:
    """``/run/kp-<tag>``: short on purpose, containerd drops its CRI plugin when its socket
    folder's path is longer than 42 characters."""
    return Path(f"/run/kp-{tag}")


@dataclass(frozen=True)
class NodeNet:
    index: int
    name: str
    netns: str
    veth: str
    ip: str
    pod_cidr: str


@dataclass(frozen=True)
class SandboxNet:
    slot: int
    tag: str

    @property
    def bridge(self) -> str:
        return f"kpb{self.tag}"

    @property
    def host_ip(self) -> str:
        return f"10.{100 + self.slot}.255.1"

    @property
    def cluster_cidr(self) -> str:
        return f"10.{100 + self.slot}.0.0/16"

    def node(self, index: int) -> NodeNet:
        return NodeNet(
            index=index,
            name=f"real-node-{index}",
            netns=f"kp-{self.tag}-{index}",
            veth=f"kpv{self.tag}{index}",
            ip=f"10.{100 + self.slot}.255.{NODE_IP_BASE + index}",
            pod_cidr=f"10.{100 + self.slot}.{index}.0/24",
        )

    def as_dict(self) -> dict[str, int | str]:
        return {"slot": self.slot, "tag": self.tag}


def ip(*args: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = ["ip", *(["-n", netns] if netns else []), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=30)
    if check and proc.returncode != 0:
        raise SandboxStateError(f"`{' '.join(cmd)}` failed: {proc.stderr.strip()}")
    return proc


def _used_networks() -> list[ipaddress.IPv4Network]:
    out = ip("-4", "-o", "addr", check=False).stdout + ip("-4", "route", check=False).stdout
    nets = []
    for word in out.split():
        try:
            nets.append(ipaddress.ip_network(word, strict=False))
        except ValueError:
            continue
    return [n for n in nets if isinstance(n, ipaddress.IPv4Network) and n.prefixlen >= 8]


def allocate(folder: Path) -> SandboxNet:
    """Take a free slot for this sandbox (or the one it holds already)."""
    tag = tag_of(folder)
    with file_lock(REGISTRY / ".lock"):
        free: int | None = None
        for slot in range(SLOTS):
            entry = REGISTRY / str(slot)
            owner = entry.read_text().strip() if entry.exists() else ""
            if owner == str(folder.resolve()):
                return SandboxNet(slot, tag)
            if owner and Path(owner).exists():
                continue
            block = ipaddress.ip_network(f"10.{100 + slot}.0.0/16")
            if free is None and not any(n.overlaps(block) for n in _used_networks()):
                free = slot
        if free is None:
            raise SandboxStateError(
                f"no free network for real nodes: all {SLOTS} ranges 10.100-127.0.0/16 are in use "
                "by other sandboxes or this machine's interfaces; take a sandbox with real nodes down"
            )
        (REGISTRY / str(free)).write_text(str(folder.resolve()))
        return SandboxNet(free, tag)


def release(folder: Path) -> None:
    if not REGISTRY.exists():
        return
    with file_lock(REGISTRY / ".lock"):
        for entry in REGISTRY.iterdir():
            if entry.name.isdigit() and entry.read_text().strip() == str(folder.resolve()):
                entry.unlink()


def create(net: SandboxNet, count: int) -> None:
    """The bridge, and per node a namespace joined to it, with routes for every pod range."""
    if ip("link", "show", net.bridge, check=False).returncode != 0:
        ip("link", "add", net.bridge, "type", "bridge")
    ip("addr", "replace", f"{net.host_ip}/24", "dev", net.bridge)
    ip("link", "set", net.bridge, "up")
    nodes = [net.node(i) for i in range(count)]
    for node in nodes:
        if node.netns not in ip("netns", "list").stdout.split():
            ip("netns", "add", node.netns)
        if ip("link", "show", node.veth, check=False).returncode != 0:
            ip("link", "add", node.veth, "type", "veth", "peer", "name", "eth0", "netns", node.netns)
        ip("link", "set", node.veth, "master", net.bridge, "up")
        ip("addr", "replace", f"{node.ip}/24", "dev", "eth0", netns=node.netns)
        ip("link", "set", "lo", "up", netns=node.netns)
        ip("link", "set", "eth0", "up", netns=node.netns)
        ip("route", "replace", "default", "via", net.host_ip, netns=node.netns)
        ip("route", "replace", node.pod_cidr, "via", node.ip, "dev", net.bridge)
        for peer in nodes:
            if peer is not node:
                ip("route", "replace", peer.pod_cidr, "via", peer.ip, netns=node.netns)
        _sysctl_in(node.netns, "net/ipv4/ip_forward", "1")


def _sysctl_in(netns: str, key: str, value: str) -> None:
    """Write a per-namespace sysctl from inside the namespace (``/proc/sys/net`` follows the
    writer's network namespace)."""
    cmd = ["nsenter", f"--net=/run/netns/{netns}", "--", "sh", "-c", f"echo {value} > /proc/sys/{key}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=30)
    if proc.returncode != 0:
        raise SandboxStateError(f"setting {key}={value} in {netns} failed: {proc.stderr.strip()}")


def netns_exec(netns: str) -> list[str]:
    """The argv prefix that runs a command in a node's network namespace (and nothing else: the
    mount namespace stays the host's, so kubelet and containerd see each other's mounts)."""
    return ["nsenter", f"--net=/run/netns/{netns}", "--"]


def leftovers(tag: str) -> list[str]:
    """What of a sandbox's network still exists (namespaces, links), for teardown and its tests."""
    found = [n for n in ip("netns", "list", check=False).stdout.split() if n.startswith(f"kp-{tag}-")]
    links = ip("-o", "link", "show", check=False).stdout
    for line in links.splitlines():
        parts = line.split(":")
        if len(parts) > 1:
            dev = parts[1].strip().split("@")[0]
            if dev in (f"kpb{tag}",) or dev.startswith(f"kpv{tag}"):
                found.append(dev)
    return found


def destroy(tag: str) -> None:
    """Delete the namespaces (their veths, bridges and iptables rules go with them) and the bridge."""
    for netns in ip("netns", "list", check=False).stdout.split():
        if netns.startswith(f"kp-{tag}-"):
            ip("netns", "del", netns, check=False)
    ip("link", "del", f"kpb{tag}", check=False)
    for dev in leftovers(tag):
        if dev.startswith(f"kpv{tag}"):
            ip("link", "del", dev, check=False)
