"""A sandbox: one real Kubernetes control plane on this machine, with kwok nodes.

A sandbox lives in ``<cache>/sandboxes/<name>/``: ``state.json`` (ports, pids, command lines),
``pki/``, the kubeconfigs, ``etcd-data/`` and ``logs/<component>.log``. Several sandboxes run side
by side on free loopback ports.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.config import load_kubeconfig
from kubeprobe.kube.errors import KubeError
from kubeprobe.sandbox import components, network, nodes, processes, realcluster, supervisor, teardown
from kubeprobe.sandbox.components import ORDER, Ports
from kubeprobe.sandbox.errors import PortInUseError, SandboxStateError, StartupError
from kubeprobe.sandbox.nodes import wait_for_service_account
from kubeprobe.sandbox.processes import ProcessState
from kubeprobe.sandbox.versions import cache_root

Report = Callable[[str], None]
NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$")
#: Components that run with leader election; after a restart they work only once they lead.
LEASED = ("kube-controller-manager", "kube-scheduler")
STARTUP_TIMEOUT = {
    "etcd": 60.0,
    "kube-apiserver": 180.0,
    "kube-controller-manager": 90.0,
    "kube-scheduler": 90.0,
    "kwok": 60.0,
}


def _quiet(_: str) -> None:
    return None


def sandboxes_root(root: Path | None = None) -> Path:
    return (root or cache_root()) / "sandboxes"


def list_sandboxes(root: Path | None = None) -> list[str]:
    base = sandboxes_root(root)
    return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    pid: int | None
    process: ProcessState
    healthy: bool


class Sandbox:
    """One named sandbox. Process control is synchronous; talking to its API is async."""

    def __init__(self, name: str = "default", root: Path | None = None) -> None:
        if not NAME_RE.match(name):
            raise SandboxStateError(
                f"invalid sandbox name {name!r}: use 1-40 lowercase letters, digits and '-', "
                "starting and ending with a letter or digit"
            )
        self.name = name
        self.folder = sandboxes_root(root) / name
        self.state_file = self.folder / "state.json"
        self.kubeconfig = self.folder / "kubeconfig"
        self.logs = self.folder / "logs"
        self._state: dict[str, Any] | None = None

    # -- state -------------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.folder.exists()

    @property
    def state(self) -> dict[str, Any]:
        if self._state is None:
            if not self.exists():
                raise SandboxStateError(
                    f"sandbox {self.name!r} does not exist; start it with "
                    f"`kubeprobe sandbox up --name {self.name}`"
                )
            try:
                self._state = json.loads(self.state_file.read_text())
            except (OSError, ValueError) as exc:
                raise SandboxStateError(
                    f"sandbox folder {self.folder} has no readable state.json ({exc}); it is left "
                    f"from an interrupted start. Remove it with `kubeprobe sandbox down --name {self.name}`"
                ) from exc
        return self._state

    def _save(self) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=2))
        tmp.replace(self.state_file)

    @property
    def ports(self) -> Ports:
        return Ports(**self.state["ports"])

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports.apiserver}"

    def log_file(self, component: str) -> Path:
        return self.logs / f"{component}.log"

    def client(self, timeout: float = 30.0) -> KubeClient:
        """An admin client of this sandbox's API server."""
        return KubeClient(load_kubeconfig(self.kubeconfig), timeout=timeout)

    def pid(self, component: str) -> int | None:
        if component not in self.state["components"]:
            raise SandboxStateError(f"unknown component {component!r}; known: {', '.join(self.order)}")
        return supervisor.read_pid(supervisor.pid_file(self.folder, component))

    @property
    def order(self) -> list[str]:
        """Components in start order (stop order is the reverse): the control plane, then CoreDNS
        and each real node's containerd, kubelet and kube-proxy when the sandbox has real nodes."""
        return list(self.state.get("order") or ORDER)

    @property
    def real_nodes(self) -> dict[str, Any]:
        """The real nodes' record (count, tag, host_ip, node names, node_bin_dir); empty without."""
        return dict(self.state.get("real_nodes") or {})

    @property
    def json_storage(self) -> bool:
        """Whether the API server keeps objects in etcd as JSON (started with ``json_storage``)."""
        return components.JSON_STORAGE_FLAG in self.state["components"]["kube-apiserver"]["argv"]

    def process_state(self, component: str) -> ProcessState:
        return processes.state(self.pid(component), self._match(component))

    def _match(self, component: str) -> str:
        spec = self.state["components"][component]
        return str(spec.get("match") or spec["argv"][0])

    # -- lifecycle ---------------------------------------------------------------------------
    async def up(
        self,
        bin_dir: Path,
        *,
        node_count: int = 3,
        apiserver_port: int | None = None,
        node_lease_seconds: int = 40,
        json_storage: bool = False,
        real_nodes: int = 0,
        node_bin_dir: Path | None = None,
        report: Report = _quiet,
    ) -> None:
        """Start the sandbox and return when it is ready (idempotent when it already runs).

        ``json_storage``: objects are kept in etcd as JSON (for the bulk loader of scale runs).
        ``real_nodes``: that many real nodes beside the kwok nodes, with CoreDNS and kube-proxy
        (:mod:`kubeprobe.sandbox.realcluster`); ``node_bin_dir`` holds their binaries.
        """
        if self.exists():
            if self._running_ok(report):
                return
            self._cleanup_stale(report)
        if apiserver_port is not None and not components.port_free(apiserver_port):
            raise PortInUseError(
                f"port {apiserver_port} is in use by another process; pick another with "
                "--apiserver-port or leave it out to get a free one"
            )
        if real_nodes and node_bin_dir is None:
            raise SandboxStateError(
                "real nodes need their binaries: pass node_bin_dir (NodeBuilder().build())"
            )
        ports = components.allocate_ports(apiserver_port)
        self.folder.mkdir(parents=True)
        self.logs.mkdir()
        net = network.allocate(self.folder) if real_nodes else None
        report(f"writing certificates and configuration to {self.folder}")
        components.write_pki(self.folder, self.name, ports, (net.host_ip,) if net else ())
        components.write_kwok_config(self.folder, bin_dir / "stages", node_lease_seconds)
        self._state = {
            "name": self.name,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "bin_dir": str(bin_dir),
            "ports": ports.as_dict(),
            "next_node_index": 0,
            "components": {
                c: {
                    "argv": components.argv(
                        c,
                        bin_dir,
                        self.folder,
                        self.name,
                        ports,
                        node_lease_seconds=node_lease_seconds,
                        json_storage=json_storage,
                    )
                }
                for c in ORDER
            },
            "order": list(ORDER),
        }
        if net and node_bin_dir:
            realcluster.plan(
                self._state, self.folder, self.name, net, count=real_nodes, node_bin=node_bin_dir
            )
        self._save()
        (self.folder / "run").mkdir()
        try:
            if net:
                report(
                    f"preparing the network of {real_nodes} real nodes (bridge {net.bridge}, {net.host_ip})"
                )
                realcluster.prepare_host(self.folder, net, real_nodes)
            self._spawn_supervisor()
            for component in self.order:
                report(f"starting {component}")
                await self._wait_healthy(component)
            report("waiting for the default service account")
            await self._wait_service_account()
            if node_count:
                report(f"creating {node_count} kwok nodes")
                await self.add_nodes(node_count)
            if net:
                async with self.client() as kube:
                    await realcluster.finish(self.state, kube, report)
        except BaseException:
            self.stop_all()
            raise
        report(f"sandbox {self.name!r} is ready: kubeconfig {self.kubeconfig}")

    def _running_ok(self, report: Report) -> bool:
        """True when the existing sandbox already runs; raise when it is half running."""
        comps = self.state["components"]
        states = {c: self.process_state(c) for c in comps}
        if all(s is ProcessState.STOPPED for s in states.values()):
            return False
        if all(s is ProcessState.RUNNING for s in states.values()):
            if not self.supervisor_running():
                report("the sandbox's supervisor was gone; starting it again")
                self._spawn_supervisor()
            report(f"sandbox {self.name!r} is already up: kubeconfig {self.kubeconfig}")
            return True
        desc = ", ".join(f"{c} {s}" for c, s in states.items())
        raise SandboxStateError(
            f"sandbox {self.name!r} is partly running ({desc}). Undo the fault "
            f"(`kubeprobe sandbox fault resume/start ...`) or recreate it with "
            f"`kubeprobe sandbox down --name {self.name}` and `up` again"
        )

    def _cleanup_stale(self, report: Report) -> None:
        report(f"removing stale sandbox folder {self.folder} (its processes are gone)")
        shutil.rmtree(self.folder)
        self._state = None

    def stop_all(self) -> None:
        """Stop the supervisor, then every component, newest first; keeps the folder and logs."""
        if not self.state_file.exists():
            return
        sup = supervisor.read_pid(self.folder / "run" / "supervisor.pid")
        if sup:
            processes.terminate(sup, contains=self._supervisor_marker)
        for component in reversed(self.order):
            if component in self.state["components"]:
                self.stop(component)
        if self.real_nodes or (self.folder / "nodes").exists():
            teardown.teardown(self.folder)

    def down(self, report: Report = _quiet) -> bool:
        """Stop every component and remove the folder; False when there was nothing."""
        if not self.exists():
            report(f"no sandbox named {self.name!r}")
            return False
        try:
            self.stop_all()
        except SandboxStateError:
            report(f"{self.folder} had no readable state; removing it")
            if (self.folder / "nodes").exists():
                teardown.teardown(self.folder)
        shutil.rmtree(self.folder, ignore_errors=True)
        report(f"sandbox {self.name!r} removed")
        return True

    # -- components --------------------------------------------------------------------------
    def supervisor_running(self) -> bool:
        # Matched by its module and folder, not the interpreter path: `python` and `python3` of one
        # venv are different paths for the same supervisor.
        pid = supervisor.read_pid(self.folder / "run" / "supervisor.pid")
        return processes.state(pid, contains=self._supervisor_marker) is not ProcessState.STOPPED

    @property
    def _supervisor_marker(self) -> str:
        return f"kubeprobe.sandbox.supervisor {self.folder}"

    def _spawn_supervisor(self) -> None:
        argv = [sys.executable, "-m", "kubeprobe.sandbox.supervisor", str(self.folder)]
        pid = processes.spawn(argv, self.log_file("supervisor"), self.folder)
        supervisor.write_pid(self.folder / "run" / "supervisor.pid", pid)

    async def start(self, component: str) -> None:
        """Undo :meth:`stop`: the supervisor starts it again; wait until it is healthy."""
        self.pid(component)  # validates the name
        supervisor.stopped_marker(self.folder, component).unlink(missing_ok=True)
        if not self.supervisor_running():
            self._spawn_supervisor()
        await self._wait_healthy(component)

    def stop(self, component: str) -> None:
        """Stop a component and tell the supervisor to leave it stopped."""
        argv0 = self._match(component)
        marker = supervisor.stopped_marker(self.folder, component)
        marker.parent.mkdir(exist_ok=True)
        marker.touch()
        pid = self.pid(component)
        if pid:
            processes.terminate(pid, argv0)

    def pause(self, component: str) -> None:
        """SIGSTOP: the process keeps its sockets but answers nothing."""
        pid = self._running_pid(component)
        processes.send(pid, signal.SIGSTOP)
        self._await_process(component, ProcessState.PAUSED)

    def resume(self, component: str) -> None:
        pid = self.pid(component)
        if pid:
            processes.send(pid, signal.SIGCONT)
            self._await_process(component, ProcessState.RUNNING)

    def _await_process(self, component: str, want: ProcessState, timeout: float = 5.0) -> None:
        """Signals are delivered asynchronously: poll until the kernel shows the new state."""
        deadline = time.monotonic() + timeout
        while self.process_state(component) is not want:
            if time.monotonic() > deadline:
                raise SandboxStateError(f"{component} did not become {want} within {timeout:.0f}s")
            time.sleep(0.01)

    def _running_pid(self, component: str) -> int:
        pid = self.pid(component)
        if not pid or self.process_state(component) is ProcessState.STOPPED:
            raise SandboxStateError(f"{component} of sandbox {self.name!r} is not running")
        return pid

    async def healthy(self, component: str, timeout: float = 3.0) -> bool:
        url = components.health_of(component, self.ports, self.state["components"][component])
        if url.startswith("file:"):
            return supervisor.healthy(url)  # a socket: there once the component serves
        try:
            async with httpx.AsyncClient(verify=False, timeout=timeout) as http:
                resp = await http.get(url)
        except httpx.HTTPError:
            return False
        if component == "etcd":
            return resp.status_code == 200 and '"health":"true"' in resp.text.replace(" ", "")
        return resp.status_code == 200

    async def wait_ready(self) -> None:
        """Wait until every component not stopped on purpose is healthy again (after a fault).

        A restarted scheduler or controller-manager is healthy before it leads: it must first wait
        for its dead predecessor's lease to expire. Ready means the running process holds its lease.
        """
        for component in self.order:
            if not supervisor.stopped_marker(self.folder, component).exists():
                await self._wait_healthy(component)
        for component in LEASED:
            if not supervisor.stopped_marker(self.folder, component).exists():
                await self._wait_leader(component)

    async def _wait_leader(self, component: str, timeout: float = 90.0) -> None:
        pid = self.pid(component)
        if not pid:
            return
        try:
            started = dt.datetime.fromtimestamp(psutil.Process(pid).create_time(), dt.UTC)
        except psutil.Error:
            return
        path = f"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/{component}"
        deadline = time.monotonic() + timeout
        async with self.client(timeout=5) as kube:
            while time.monotonic() < deadline:
                try:
                    spec = (await kube.get(path)).get("spec") or {}
                except KubeError:
                    spec = {}
                acquired = spec.get("acquireTime")
                if acquired and dt.datetime.fromisoformat(
                    acquired.replace("Z", "+00:00")
                ) >= started - dt.timedelta(seconds=1):
                    return
                await asyncio.sleep(0.5)
        raise StartupError(
            f"{component} of sandbox {self.name!r} did not take its leader lease in {timeout:.0f}s"
        )

    def _restarts(self, component: str) -> int:
        log = self.log_file("supervisor")
        if not log.exists():
            return 0
        return sum(1 for line in log.read_text().splitlines() if f" {component} (pid" in line)

    async def _wait_healthy(self, component: str) -> None:
        timeout = STARTUP_TIMEOUT.get(component, 120.0)
        deadline = time.monotonic() + timeout
        restarts_before = self._restarts(component)
        while time.monotonic() < deadline:
            if await self.healthy(component):
                return
            if self._restarts(component) - restarts_before >= 4:
                self._raise_crashing(component, "keeps exiting (restarted 4 times)")
            if not self.supervisor_running():
                raise StartupError(
                    f"the supervisor of sandbox {self.name!r} died; see {self.log_file('supervisor')}"
                )
            await asyncio.sleep(0.25)
        self._raise_crashing(component, f"is not healthy after {timeout:.0f}s")

    def _raise_crashing(self, component: str, what: str) -> None:
        log = self.log_file(component)
        lines = log.read_text(errors="replace").splitlines() if log.exists() else []
        text = "\n".join(f"    {line}" for line in lines[-12:])
        if any("address already in use" in line for line in lines[-200:]):
            raise PortInUseError(
                f"{component} of sandbox {self.name!r} could not bind its port: it is in use by "
                f"another process. Run `kubeprobe sandbox down --name {self.name}` and `up` again "
                f"(ports are chosen anew), or free the port.\n  log: {log}\n{text}"
            )
        raise StartupError(f"{component} of sandbox {self.name!r} {what}.\n  log: {log}\n{text}")

    # -- cluster content ---------------------------------------------------------------------
    async def _wait_service_account(self, timeout: float = 60.0) -> None:
        async with self.client() as kube:
            await wait_for_service_account(kube, "default", timeout)

    async def add_nodes(
        self,
        count: int,
        labels: dict[str, str] | None = None,
        *,
        wait: bool = True,
        progress: Callable[[int], None] | None = None,
    ) -> list[str]:
        """Add ``count`` kwok nodes; with ``wait``, return when they are Ready."""
        first = int(self.state.get("next_node_index", 0))
        self.state["next_node_index"] = first + count
        self._save()
        async with self.client() as kube:
            names = await nodes.create_nodes(kube, first, count, labels=labels, progress=progress)
            if wait:
                await nodes.wait_ready(kube, names, timeout=60.0 + count * 0.05)
        return names

    async def status(self) -> dict[str, Any]:
        comps = []
        for component in self.order:
            st = self.process_state(component)
            healthy = st is ProcessState.RUNNING and await self.healthy(component)
            comps.append(ComponentStatus(component, self.pid(component), st, healthy))
        result: dict[str, Any] = {
            "name": self.name,
            "server": self.server,
            "kubeconfig": str(self.kubeconfig),
            "logs": str(self.logs),
            "components": [c.__dict__ for c in comps],
        }
        try:
            async with self.client(timeout=5) as kube:
                version = await kube.get("/version")
                node_list = await kube.list_all("/api/v1/nodes")
            result["version"] = version.get("gitVersion")
            result["nodes"] = len(node_list)
            result["nodes_ready"] = sum(1 for n in node_list if nodes.is_ready(n))
            if self.real_nodes:
                result["real_nodes"] = self.real_nodes
        except KubeError as exc:
            result["api_error"] = str(exc)
        return result
