"""Can this machine run real nodes? Each missing requirement is named with how to get it.

Real nodes need root (network namespaces, mounts, cgroups), writable cgroups, overlayfs, the
``ip``, ``nsenter``, ``iptables`` and ``conntrack`` commands, runc and the CNI plugins bridge,
host-local, portmap and loopback. ``scripts/real-node-deps`` installs the packages on Debian.
A sandbox without real nodes needs none of it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from kubeprobe.sandbox.errors import SandboxError
from kubeprobe.sandbox.realnode import CNI_BIN_DIRS, RUNC

INSTALL = "scripts/real-node-deps installs it (Debian: apt-get install {pkg})"
COMMANDS = {
    "ip": "iproute2",
    "nsenter": "util-linux",
    "iptables": "iptables",
    "iptables-restore": "iptables",
    "conntrack": "conntrack",
}
CNI_PLUGINS = ("bridge", "host-local", "portmap", "loopback")


class PreflightError(SandboxError):
    """The machine lacks what real nodes need; the message lists each missing piece."""


def _cgroup_writable() -> str | None:
    base = Path("/sys/fs/cgroup")
    hierarchy = base / "cpu" if (base / "cpu").is_dir() else base
    probe = hierarchy / f"kp-preflight-{uuid.uuid4().hex[:6]}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError as exc:
        return (
            f"cgroups are not writable ({hierarchy}: {exc.strerror}): real nodes need root on a "
            "host whose cgroup filesystem is mounted read-write"
        )
    return None


def missing() -> list[str]:
    """What is missing for real nodes on this machine; empty when they can run."""
    problems: list[str] = []
    if os.geteuid() != 0:
        problems.append(
            "not root: real nodes need root (network namespaces, overlay mounts, cgroups); "
            "run as root, or use a sandbox without --real-nodes"
        )
        return problems
    for cmd, pkg in COMMANDS.items():
        if not shutil.which(cmd):
            problems.append(f"no `{cmd}` on PATH: {INSTALL.format(pkg=pkg)}")
    if not Path(RUNC).is_file():
        problems.append(f"no runc at {RUNC}: {INSTALL.format(pkg='runc')}")
    for plugin in CNI_PLUGINS:
        if not any((Path(d) / plugin).is_file() for d in CNI_BIN_DIRS):
            where = " or ".join(CNI_BIN_DIRS)
            problems.append(
                f"no CNI plugin {plugin!r} in {where}: {INSTALL.format(pkg='containernetworking-plugins')}"
            )
    if "overlay" not in Path("/proc/filesystems").read_text():
        problems.append(
            "the kernel has no overlay filesystem (containerd's snapshotter needs it): `modprobe overlay`"
        )
    problem = _cgroup_writable()
    if problem:
        problems.append(problem)
    return problems


def check() -> None:
    """Raise :class:`PreflightError` naming everything missing."""
    problems = missing()
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise PreflightError(f"this machine cannot run real nodes:\n{lines}")
