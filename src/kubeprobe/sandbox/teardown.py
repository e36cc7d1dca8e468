"""Removing everything real nodes leave on the machine, from the sandbox folder's path alone.

Containers and their shims outlive containerd, and a killed supervisor or kubelet cleans nothing,
so teardown does not ask the components: it finds what belongs to the sandbox's tag
(:func:`kubeprobe.sandbox.network.tag_of`) and removes it, in this order:

1. processes: those inside a node's network namespace, in a cgroup under ``/kp-<tag>-*``, or whose
   command line names ``/run/kp-<tag>/`` or the sandbox folder (containerd's shims), SIGKILLed
   until none is left;
2. mounts under the sandbox folder and ``/run/kp-<tag>`` (overlay rootfs, tmpfs volumes, pod
   network namespaces), lazily, deepest first;
3. cgroups ``/kp-<tag>-*`` in every hierarchy, deepest first;
4. the network (:func:`kubeprobe.sandbox.network.destroy`) and ``/run/kp-<tag>``;
5. the machine-wide sysctls kubelet changes, restored to what they were before the first real
   node of any sandbox started, once no sandbox with real nodes is left (:class:`SysctlGuard`).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import time
from pathlib import Path

import psutil

from kubeprobe.sandbox import network
from kubeprobe.sandbox.locking import file_lock
from kubeprobe.sandbox.network import run_dir

CGROUP_ROOT = Path("/sys/fs/cgroup")
MNT_DETACH = 2
#: Machine-wide sysctls kubelet sets on start (``setupKernelTunables``).
KUBELET_SYSCTLS = (
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
)
SYSCTL_RECORD = Path("/run/kubeprobe/sysctl.json")


def _netns_inodes(tag: str) -> set[int]:
    inodes = set()
    netns_dir = Path("/run/netns")
    if netns_dir.is_dir():
        for entry in netns_dir.iterdir():
            if entry.name.startswith(f"kp-{tag}-"):
                with contextlib.suppress(OSError):
                    inodes.add(entry.stat().st_ino)
    return inodes


def _cgroup_dirs(tag: str) -> list[Path]:
    """Every ``/kp-<tag>-*`` cgroup folder (v1: one per hierarchy; v2: one)."""
    found: list[Path] = []
    if not CGROUP_ROOT.is_dir():
        return found
    bases = [CGROUP_ROOT] + [p for p in CGROUP_ROOT.iterdir() if p.is_dir() and not p.is_symlink()]
    for base in bases:
        with contextlib.suppress(OSError):
            found.extend(p for p in base.glob(f"kp-{tag}-*") if p.is_dir())
    return found


def processes_of(tag: str, folder: Path) -> list[int]:
    """Pids of every process that belongs to the sandbox's real nodes."""
    me = os.getpid()
    inodes = _netns_inodes(tag)
    marks = (f"/run/kp-{tag}/", str(folder.resolve()) + "/nodes/")
    pids: set[int] = set()
    for cg in _cgroup_dirs(tag):
        for procs in cg.rglob("cgroup.procs"):
            with contextlib.suppress(OSError, ValueError):
                pids.update(int(x) for x in procs.read_text().split())
    for proc in psutil.process_iter(["pid", "cmdline"]):
        pid = proc.info["pid"]
        if pid == me:
            continue
        cmdline = " ".join(proc.info.get("cmdline") or [])
        if any(m in cmdline for m in marks):
            pids.add(pid)
            continue
        if inodes:
            with contextlib.suppress(OSError):
                if os.stat(f"/proc/{pid}/ns/net").st_ino in inodes:
                    pids.add(pid)
    pids.discard(me)
    return sorted(pids)


def kill_all(tag: str, folder: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        pids = processes_of(tag, folder)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGCONT)
                os.kill(pid, signal.SIGKILL)
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes of real nodes would not die: {pids}")
        for pid in pids:  # reap our own children (the supervisor's are reaped by init)
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, os.WNOHANG)
        time.sleep(0.1)


def mounts_under(*roots: Path) -> list[str]:
    """Mount points under any of ``roots``, deepest first."""
    prefixes = [str(r.resolve()) if r.exists() else str(r) for r in roots]
    points = []
    with open("/proc/self/mountinfo") as info:
        for line in info:
            point = line.split()[4].replace("\\040", " ")
            if any(point == p or point.startswith(p + "/") for p in prefixes):
                points.append(point)
    return sorted(set(points), key=lambda p: (-p.count("/"), p))


def unmount_all(*roots: Path) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for _ in range(5):  # a lazy unmount can reveal one that was stacked beneath it
        points = mounts_under(*roots)
        if not points:
            return
        for point in points:
            libc.umount2(point.encode(), MNT_DETACH)


def remove_cgroups(tag: str) -> None:
    for top in _cgroup_dirs(tag):
        for sub in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            with contextlib.suppress(OSError):
                sub.rmdir()
        with contextlib.suppress(OSError):
            top.rmdir()


class SysctlGuard:
    """Records the machine-wide sysctls before the first real node of any sandbox changes them,
    and restores them when the last sandbox with real nodes is removed."""

    def __init__(self, record: Path = SYSCTL_RECORD) -> None:
        self.record = record
        self.lock = record.parent / ".sysctl.lock"

    def _read(self) -> tuple[dict[str, str], list[str]] | None:
        try:
            data = json.loads(self.record.read_text())
            return dict(data["original"]), list(data["owners"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _write(self, original: dict[str, str], owners: list[str]) -> None:
        self.record.write_text(json.dumps({"original": original, "owners": owners}))

    def claim(self, owner: str) -> None:
        with file_lock(self.lock):
            record = self._read()
            if record is None:
                original = {}
                for key in KUBELET_SYSCTLS:
                    with contextlib.suppress(OSError):
                        original[key] = (Path("/proc/sys") / key).read_text().strip()
                record = (original, [])
            original, owners = record
            self._write(original, [*owners, owner] if owner not in owners else owners)

    def release(self, owner: str) -> None:
        with file_lock(self.lock):
            record = self._read()
            if record is None:
                return
            original, owners = record
            live = [o for o in owners if o != owner and Path(o).exists()]
            if live:
                self._write(original, live)
                return
            for key, value in original.items():
                with contextlib.suppress(OSError):
                    (Path("/proc/sys") / key).write_text(f"{value}\n")
            self.record.unlink(missing_ok=True)


def changed_sysctls(record: Path = SYSCTL_RECORD) -> dict[str, tuple[str, str]]:
    """Sysctls that differ from the recorded originals (empty when nothing is recorded)."""
    try:
        original = json.loads(record.read_text()).get("original") or {}
    except (OSError, ValueError):
        return {}
    now = {k: (Path("/proc/sys") / k).read_text().strip() for k in original}
    return {k: (v, now[k]) for k, v in original.items() if now[k] != v}


def teardown(folder: Path) -> None:
    """Remove every trace of the sandbox's real nodes from the machine (idempotent)."""
    tag = network.tag_of(folder)
    kill_all(tag, folder)
    unmount_all(folder / "nodes", run_dir(tag))
    remove_cgroups(tag)
    network.destroy(tag)
    unmount_all(run_dir(tag))
    shutil.rmtree(run_dir(tag), ignore_errors=True)
    for cache in Path("/var/lib/cni/results").glob(f"kp-{tag}-*"):
        cache.unlink(missing_ok=True)
    network.release(folder)
    SysctlGuard().release(str(folder.resolve()))


def leftovers(folder: Path) -> dict[str, list[str]]:
    """What of the sandbox's real nodes is still on the machine (for ``down``'s tests)."""
    tag = network.tag_of(folder)
    return {
        "processes": [str(p) for p in processes_of(tag, folder)],
        "mounts": mounts_under(folder, run_dir(tag)),
        "cgroups": [str(p) for p in _cgroup_dirs(tag)],
        "network": network.leftovers(tag),
        "run_dir": [str(run_dir(tag))] if run_dir(tag).exists() else [],
    }
