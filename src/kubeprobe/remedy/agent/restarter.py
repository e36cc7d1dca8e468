"""How the node agent restarts a node component: through what keeps the components running.

On a sandbox's real nodes that is the sandbox's supervisor on the host (as systemd is on a
machine): :class:`SupervisorRestarter` speaks its restart interface, the files in its ``run``
folder (mounted from the host), with the host's process table (the agent pod has ``hostPID``):

- a component stopped on purpose has ``<unit>.stopped``: removing it makes the supervisor start
  the component again (what ``kubeprobe sandbox fault start`` does);
- a running component is sent SIGTERM, after checking that the pid in ``<unit>.pid`` is really
  that component (its program's name); the supervisor starts it again.

Either way the agent never starts a component itself, so it can never run a second copy; the
restart is done when the supervisor wrote a new pid and that process runs. Without a running
supervisor nothing would start the component again, so the agent refuses to stop it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import psutil

#: component → the program name its process runs (checked before a signal is sent).
PROGRAMS = {"kubelet": "kubelet", "container-runtime": "containerd", "kube-proxy": "kube-proxy"}


class RestartError(Exception):
    """The component could not be restarted; the message goes to the operation's status."""


class ComponentRestarter(Protocol):
    """Restarts this node's components."""

    def components(self) -> tuple[str, ...]: ...

    async def restart(self, component: str, timeout: float) -> str:
        """Restart ``component``; a message for the status, or RestartError."""
        ...


def _running(pid: int | None, program: str) -> bool:
    if not pid:
        return False
    try:
        proc = psutil.Process(pid)
        cmdline = proc.cmdline()
        return proc.status() != psutil.STATUS_ZOMBIE and bool(cmdline) and Path(cmdline[0]).name == program
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


class SupervisorRestarter:
    """Restarts through a sandbox supervisor's ``run`` folder; ``units`` maps a component
    (``kubelet``, ``container-runtime``, ``kube-proxy``) to the supervisor's name for it on this
    node (``kubelet-0`` ...)."""

    def __init__(self, run_dir: Path, units: Mapping[str, str], *, interval: float = 0.2) -> None:
        unknown = sorted(set(units) - set(PROGRAMS))
        if unknown:
            raise ValueError(f"unknown component(s) {', '.join(unknown)}; known: {', '.join(PROGRAMS)}")
        self.run_dir, self.units, self.interval = run_dir, dict(units), interval

    def components(self) -> tuple[str, ...]:
        return tuple(self.units)

    def supervisor_running(self) -> bool:
        pid = _read_pid(self.run_dir / "supervisor.pid")
        if not pid:
            return False
        try:
            return "kubeprobe.sandbox.supervisor" in " ".join(psutil.Process(pid).cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            return False

    async def restart(self, component: str, timeout: float) -> str:
        unit = self.units.get(component)
        if unit is None:
            raise RestartError(f"this node has no {component} the agent can restart")
        if not self.supervisor_running():
            raise RestartError(f"the supervisor in {self.run_dir} is not running: nothing would start {unit}")
        program = PROGRAMS[component]
        pid_file, marker = self.run_dir / f"{unit}.pid", self.run_dir / f"{unit}.stopped"
        old = _read_pid(pid_file)
        if marker.exists():
            how = "was stopped; the supervisor started it again"
            marker.unlink(missing_ok=True)
        elif _running(old, program):
            how = "restarted by its supervisor"
            assert old is not None
            with contextlib.suppress(ProcessLookupError):
                os.kill(old, signal.SIGTERM)
        else:
            how = "was not running; its supervisor started it again"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            new = _read_pid(pid_file)
            if new and new != old and _running(new, program):
                return f"{component} ({unit}) {how}: pid {new}"
            if new == old and _running(old, program) and how.startswith("was"):
                return f"{component} ({unit}) is running: pid {old}"
            await asyncio.sleep(self.interval)
        raise RestartError(f"{component} ({unit}) did not run again within {timeout:.0f}s")
