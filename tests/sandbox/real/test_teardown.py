"""``kubeprobe sandbox down`` after the supervisor of a sandbox with a real node was killed (-9):
nothing of it is left on the machine.

The sandbox is this test's own (other tests' sandboxes, and other sandboxes on the machine, stay
untouched and are told apart by name). What "nothing left" means is read from the machine with
its own tools, not from the teardown code: while the sandbox runs, its processes are noted (the
components, everything in the node's network namespace per ``ip netns pids``, the containerd
shims and the containers under them, with their start times), and the machine is compared before
``up`` and after ``down``: ``ip -o link`` (bridge, veths), ``ip netns``, ``iptables-save`` of the
host, ``/proc/self/mountinfo``, the top-level cgroup folders of every hierarchy and the sysctls
kubelet changes. The snapshot is checked to see the sandbox while it runs, so the test cannot pass
by looking in the wrong place.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from kubeprobe.kube.waiting import wait_for
from kubeprobe.sandbox import network, realnode, supervisor
from kubeprobe.sandbox.build import Builder
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.nodebuild import NodeBuilder
from kubeprobe.sandbox.teardown import KUBELET_SYSCTLS
from kubeprobe.sandbox.testing import require_real_nodes

pytestmark = [pytest.mark.sandbox, pytest.mark.real_nodes]
CGROUP = Path("/sys/fs/cgroup")
KUBEPROBE = Path(sys.executable).with_name("kubeprobe")


def _lines(*argv: str) -> set[str]:
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return {line for line in out.splitlines() if line.strip()}


@dataclass(frozen=True)
class Machine:
    """What of a sandbox can be seen on the machine from outside."""

    links: frozenset[str]
    netns: frozenset[str]
    iptables: frozenset[str]
    mounts: frozenset[str]
    cgroups: frozenset[str]
    sysctls: tuple[tuple[str, str], ...]

    @classmethod
    def now(cls) -> Machine:
        links = {line.split(":")[1].strip().split("@")[0] for line in _lines("ip", "-o", "link", "show")}
        netns = {line.split()[0] for line in _lines("ip", "netns", "list")}
        # Rules and chains, without the packet counters and the dump's comments.
        rules = {re.sub(r" \[\d+:\d+\]$", "", r) for r in _lines("iptables-save") if not r.startswith("#")}
        with open("/proc/self/mountinfo") as info:
            mounts = {line.split()[4] for line in info}
        tops = [CGROUP, *(p for p in CGROUP.iterdir() if p.is_dir() and not p.is_symlink())]
        cgroups = {str(d) for top in tops for d in top.iterdir() if d.is_dir()}
        sysctls = tuple((k, (Path("/proc/sys") / k).read_text().strip()) for k in KUBELET_SYSCTLS)
        return cls(
            frozenset(links),
            frozenset(netns),
            frozenset(rules),
            frozenset(mounts),
            frozenset(cgroups),
            sysctls,
        )

    def new_since(self, before: Machine, *mine: str) -> dict[str, list[str]]:
        """What is here now and was not ``before`` that names this sandbox (its tag or folder);
        other sandboxes may come and go meanwhile. The host's iptables are nobody's: all of it."""

        def of(now: frozenset[str], then: frozenset[str]) -> list[str]:
            return sorted(x for x in now - then if any(m in x for m in mine))

        return {
            "links": of(self.links, before.links),
            "netns": of(self.netns, before.netns),
            "iptables": sorted(self.iptables - before.iptables),
            "mounts": of(self.mounts, before.mounts),
            "cgroups": of(self.cgroups, before.cgroups),
        }


def _processes(box: Sandbox, tag: str) -> dict[int, tuple[float, str]]:
    """pid → (start time, program) of every process of the running sandbox, found from outside."""
    pids = {int(supervisor.read_pid(box.folder / "run" / "supervisor.pid") or 0)}
    pids |= {box.pid(c) or 0 for c in box.state["components"]}
    for ns in (n for n in _lines("ip", "netns", "list") if f"kp-{tag}-" in n):
        pids |= {int(p) for p in _lines("ip", "netns", "pids", ns.split()[0])}
    for proc in psutil.process_iter(["pid", "cmdline"]):
        if any(f"kp-{tag}" in a or str(box.folder) in a for a in proc.info["cmdline"] or []):
            pids.add(proc.info["pid"])  # the shims: /run/kp-<tag>/... in their arguments
    found: dict[int, tuple[float, str]] = {}
    for pid in pids - {0}:
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            for p in (proc, *proc.children(recursive=True)):  # the containers under the shims
                found[p.pid] = (p.create_time(), (p.cmdline() or [""])[0])
    return found


def _alive(pid: int, started: float) -> bool:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # our own children (what `up` spawned) are ours to reap
    try:
        proc = psutil.Process(pid)
        return proc.create_time() == started and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


async def _pause_pod_running(box: Sandbox) -> None:
    pod = {
        "metadata": {"name": "left-behind"},
        "spec": {
            "nodeSelector": {"type": "real"},
            "tolerations": [{"key": "kubeprobe.io/real-node", "operator": "Exists"}],
            "containers": [{"name": "c", "image": realnode.PAUSE_IMAGE, "imagePullPolicy": "Never"}],
        },
    }
    async with box.client() as kube:
        await kube.create("/api/v1/namespaces/default/pods", pod)
        await wait_for(
            lambda: kube.get("/api/v1/namespaces/default/pods/left-behind"),
            lambda p: p["status"].get("phase") == "Running",
            timeout=90,
            what="a pod running on the real node",
        )


async def test_down_after_the_supervisor_was_killed_leaves_nothing_behind() -> None:
    require_real_nodes()
    bin_dir, node_bin = Builder().build(), NodeBuilder().build()
    before = Machine.now()
    box = Sandbox(f"pytest-down-{uuid.uuid4().hex[:6]}")
    tag = network.tag_of(box.folder)
    try:
        await box.up(bin_dir, node_count=0, real_nodes=1, node_bin_dir=node_bin)
        await _pause_pod_running(box)
        seen = Machine.now().new_since(before, tag, str(box.folder))
        assert all(seen[k] for k in ("links", "netns", "cgroups", "mounts")), seen  # it sees the sandbox
        procs = await asyncio.to_thread(_processes, box, tag)
        kinds = {program for _, program in procs.values()}
        assert any("containerd-shim" in k for k in kinds), kinds
        assert any(k.endswith("/pause") for k in kinds), kinds  # the container itself
        kube_chains = _lines("ip", "netns", "exec", f"kp-{tag}-0", "iptables-save")
        assert any(line.startswith(":KUBE-SERVICES") for line in kube_chains)

        sup = int(supervisor.read_pid(box.folder / "run" / "supervisor.pid") or 0)
        os.kill(sup, signal.SIGKILL)
        await wait_for(
            lambda: asyncio.to_thread(_alive, sup, procs[sup][0]),
            lambda a: not a,
            timeout=10,
            what="supervisor dead",
        )
        assert all(_alive(p, t) for p, (t, _) in procs.items() if p != sup)  # the rest is orphaned
    finally:
        down = await asyncio.to_thread(
            subprocess.run,
            [str(KUBEPROBE), "sandbox", "down", "--name", box.name],
            capture_output=True,
            text=True,
        )
    assert down.returncode == 0, down.stdout + down.stderr
    after = Machine.now()
    left = {k: v for k, v in after.new_since(before, tag, str(box.folder)).items() if v}
    alive = sorted(program for p, (t, program) in procs.items() if _alive(p, t))
    assert not alive, alive
    assert not left, left
    assert after.sysctls == before.sysctls  # restored, or still another real-node sandbox's
    assert not box.folder.exists()
