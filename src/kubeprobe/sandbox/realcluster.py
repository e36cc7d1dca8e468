"""Adding real nodes to a sandbox: planning their components, preparing the host, joining them.

:func:`plan` adds to a new sandbox's state what the supervisor starts for real nodes (CoreDNS on
the host, then per node containerd, kubelet and kube-proxy in the node's network namespace) and
changes the API server's flags so kubelets and pods can reach it; :func:`prepare_host` makes the
network; :func:`finish` runs once the components are healthy: it loads the pause image, creates
the ``kube-dns`` Service, waits until the nodes are Ready, and tells the pod runner to place run
pods on real nodes (ConfigMap ``kubeprobe-system/kubeprobe-runner``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.errors import ConflictError, KubeError
from kubeprobe.sandbox import network, oci, realnode
from kubeprobe.sandbox.components import Ports, free_port
from kubeprobe.sandbox.errors import StartupError
from kubeprobe.sandbox.network import SandboxNet
from kubeprobe.sandbox.nodes import is_ready
from kubeprobe.sandbox.teardown import SysctlGuard

Report = Callable[[str], None]
RUNNER_CONFIGMAP = "kubeprobe-runner"
#: What the pod runner adds to run pods on a sandbox with real nodes (kwok nodes run no container).
RUNNER_OVERRIDES: dict[str, Any] = {
    "nodeSelector": {realnode.TAINT_KEY: "true"},
    "tolerations": [{"key": realnode.TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}],
}


def apiserver_flags(argv: list[str], folder: Path, host_ip: str) -> list[str]:
    """The API server's command line for a sandbox with real nodes: listening where pods reach it,
    advertising that address (the ``kubernetes`` Service's endpoint), the Node authorizer, and a
    client certificate for kubelets, whose serving certificates it checks."""
    pkid = folder / "pki"
    replaced = {
        "--bind-address=127.0.0.1": "--bind-address=0.0.0.0",
        "--advertise-address=127.0.0.1": f"--advertise-address={host_ip}",
        "--authorization-mode=RBAC": "--authorization-mode=Node,RBAC",
    }
    out = [replaced.get(arg, arg) for arg in argv]
    return [
        *out,
        f"--kubelet-client-certificate={pkid / 'apiserver-kubelet-client.crt'}",
        f"--kubelet-client-key={pkid / 'apiserver-kubelet-client.key'}",
        f"--kubelet-certificate-authority={pkid / 'ca.crt'}",
        "--kubelet-preferred-address-types=InternalIP",
    ]


def plan(
    state: dict[str, Any],
    folder: Path,
    name: str,
    net: SandboxNet,
    *,
    count: int,
    node_bin: Path,
) -> None:
    """Add the real nodes' components to a new sandbox's ``state`` and write their files."""
    ports = Ports(**state["ports"])
    comps = state["components"]
    comps["kube-apiserver"]["argv"] = apiserver_flags(comps["kube-apiserver"]["argv"], folder, net.host_ip)
    realnode.write_shared(folder, name, net, ports.apiserver)
    health_port = free_port()
    (folder / "Corefile").write_text(realnode.corefile(net, folder, name, health_port))
    comps["coredns"] = {
        "argv": [str(node_bin / "coredns"), "-conf", str(folder / "Corefile")],
        "health": f"http://127.0.0.1:{health_port}/health",
    }
    order = [*state.get("order", list(comps)), "coredns"]
    for index in range(count):
        node = net.node(index)
        realnode.write_node(folder, name, net, node, ports.apiserver)
        health = realnode.health(net.tag, node)
        for component, argv in realnode.argvs(folder, node_bin, net, node).items():
            nsenter = shutil.which("nsenter") or "/usr/bin/nsenter"
            comps[component] = {
                "argv": [nsenter, *argv[1:]],
                # nsenter (and env) exec the component: the running process's command line starts here.
                "match": next(a for a in argv if a.startswith(str(node_bin))),
                "health": health[component],
            }
            order.append(component)
    state["order"] = [c for c in order if c in comps]
    state["real_nodes"] = {
        "count": count,
        **net.as_dict(),
        "host_ip": net.host_ip,
        "node_bin_dir": str(node_bin),
        "nodes": [net.node(i).name for i in range(count)],
    }


def prepare_host(folder: Path, net: SandboxNet, count: int) -> None:
    """Create the network and the nodes' cgroup roots (kubelet does not create its
    ``cgroupRoot``), and record the machine-wide sysctls kubelet is about to change."""
    network.create(net, count)
    for index in range(count):
        make_cgroup(f"kp-{net.tag}-{index}")
    network.run_dir(net.tag).mkdir(parents=True, exist_ok=True)
    SysctlGuard().claim(str(folder.resolve()))


def make_cgroup(name: str, base: Path = Path("/sys/fs/cgroup")) -> None:
    """``/<name>`` in every cgroup hierarchy (cgroup v1: each controller; a new cpuset gets its
    parent's cpus and mems, or nothing could run in it)."""
    hierarchies = (
        [base]
        if (base / "cgroup.controllers").exists()
        else [
            p for p in base.iterdir() if p.is_dir() and not p.is_symlink() and (p / "cgroup.procs").exists()
        ]
    )
    for hierarchy in hierarchies:
        target = hierarchy / name
        target.mkdir(exist_ok=True)
        for key in ("cpuset.cpus", "cpuset.mems"):
            if (hierarchy / key).exists() and not (target / key).read_text().strip():
                (target / key).write_text((hierarchy / key).read_text())


def ctr(node_bin: Path, tag: str, index: int, *args: str, timeout: float = 600) -> str:
    """Run ``ctr`` against one node's containerd, in its ``k8s.io`` namespace."""
    sock = realnode.containerd_socket(tag, index)
    cmd = [str(node_bin / "ctr"), "--address", str(sock), "-n", "k8s.io", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=timeout)
    if proc.returncode != 0:
        raise StartupError(f"`{' '.join(cmd)}` failed: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def load_archive(state: dict[str, Any], archive: Path, nodes: list[int] | None = None) -> list[str]:
    """Import an OCI or Docker image archive into the containerd of every real node (or ``nodes``);
    return the node names it went to."""
    real = state.get("real_nodes") or {}
    node_bin, tag = Path(real["node_bin_dir"]), str(real["tag"])
    done = []
    for index in nodes if nodes is not None else range(int(real["count"])):
        ctr(node_bin, tag, index, "images", "import", str(archive))
        done.append(str(real["nodes"][index]))
    return done


def pause_archive(node_bin: Path) -> Path:
    """The pause image as an OCI archive next to the binaries (written once)."""
    out = node_bin / "images" / "pause.tar"
    if out.exists():
        return out
    with tempfile.TemporaryDirectory() as tmp:
        layer = oci.layer_from_files(
            {"/pause": ((node_bin / "pause").read_bytes(), 0o755)}, Path(tmp) / "l.tgz"
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        oci.write_archive(realnode.PAUSE_IMAGE, [layer], oci.ImageConfig(entrypoint=("/pause",), env=()), out)
    return out


async def finish(state: dict[str, Any], kube: KubeClient, report: Report, timeout: float = 120.0) -> None:
    """Once the components are healthy: pause image, cluster DNS, nodes Ready, runner placement."""
    real = state["real_nodes"]
    report(f"loading the pause image into {real['count']} real nodes")
    await asyncio.to_thread(load_archive, state, pause_archive(Path(real["node_bin_dir"])))
    for path, obj in realnode.dns_objects(SandboxNet(int(real["slot"]), str(real["tag"]))):
        with contextlib.suppress(ConflictError):
            await kube.create(path, obj)
    await ensure_runner_config(kube)
    report(f"waiting for real nodes {', '.join(real['nodes'])} to be Ready")
    await wait_nodes_ready(kube, list(real["nodes"]), timeout)


async def ensure_runner_config(kube: KubeClient) -> None:
    """Tell the pod runner (:mod:`kubeprobe.runners.pod`) to place run pods on real nodes."""
    with contextlib.suppress(ConflictError):
        await kube.create(
            "/api/v1/namespaces",
            {
                "metadata": {
                    "name": "kubeprobe-system",
                    "labels": {"app.kubernetes.io/managed-by": "kubeprobe"},
                }
            },
        )
    body = {
        "metadata": {"name": RUNNER_CONFIGMAP, "labels": {"app.kubernetes.io/managed-by": "kubeprobe"}},
        "data": {"pod-overrides": json.dumps(RUNNER_OVERRIDES)},
    }
    try:
        await kube.create("/api/v1/namespaces/kubeprobe-system/configmaps", body)
    except ConflictError:
        await kube.patch(
            f"/api/v1/namespaces/kubeprobe-system/configmaps/{RUNNER_CONFIGMAP}", {"data": body["data"]}
        )


async def wait_nodes_ready(kube: KubeClient, names: list[str], timeout: float) -> dict[str, float]:
    """Poll until every named node is Ready; return when each became Ready (seconds from now)."""
    start = time.monotonic()
    deadline = start + timeout
    ready_at: dict[str, float] = {}
    while time.monotonic() < deadline:
        with contextlib.suppress(KubeError):
            for node in await kube.list_all("/api/v1/nodes", labelSelector="type=real"):
                node_name = node["metadata"]["name"]
                if node_name in names and node_name not in ready_at and is_ready(node):
                    ready_at[node_name] = round(time.monotonic() - start, 2)
        if len(ready_at) == len(names):
            return ready_at
        await asyncio.sleep(0.25)
    missing = sorted(set(names) - set(ready_at))
    raise StartupError(
        f"real nodes {', '.join(missing)} are not Ready after {timeout:.0f}s; see the kubelet-N and "
        "containerd-N logs in the sandbox's logs folder"
    )
