"""Starting and signalling the sandbox's component processes.

Components are spawned in their own session (so they outlive the command that started them and a
Ctrl-C in the terminal does not reach them), with stdout and stderr appended to one log file each.
``posix_spawn`` is used instead of ``subprocess.Popen`` because nothing here waits on the child:
a Popen object that is dropped while its child runs warns, and the sandbox tracks pids in its
state file instead.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from enum import StrEnum
from pathlib import Path

import psutil


class ProcessState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


def spawn(argv: list[str], log: Path, cwd: Path, env: dict[str, str] | None = None) -> int:
    """Start ``argv`` detached, logging to ``log``; return its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as out:
        out.write(f"\n=== {time.strftime('%Y-%m-%dT%H:%M:%S')} start: {' '.join(argv)}\n")
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(log), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    old = Path.cwd()
    os.chdir(cwd)
    try:
        return os.posix_spawn(
            argv[0],
            argv,
            env if env is not None else dict(os.environ),
            file_actions=actions,
            setsid=True,
        )
    finally:
        os.chdir(old)


def _reap(pid: int) -> None:
    """Collect the exit status if ``pid`` is our own child, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def state(pid: int | None, argv0: str | None = None, *, contains: str | None = None) -> ProcessState:
    """What the process is doing now; a pid reused by another program counts as stopped.

    ``argv0`` must equal the first word of its command line; ``contains`` must appear in it.
    """
    if not pid:
        return ProcessState.STOPPED
    _reap(pid)
    try:
        proc = psutil.Process(pid)
        status = proc.status()
        cmdline = proc.cmdline()
        if argv0 and cmdline[:1] != [argv0]:
            return ProcessState.STOPPED
        if contains and contains not in " ".join(cmdline):
            return ProcessState.STOPPED
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return ProcessState.STOPPED
    if status == psutil.STATUS_ZOMBIE:
        return ProcessState.STOPPED
    if status == psutil.STATUS_STOPPED:
        return ProcessState.PAUSED
    return ProcessState.RUNNING


def send(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def terminate(
    pid: int, argv0: str | None = None, timeout: float = 15.0, *, contains: str | None = None
) -> None:
    """SIGTERM (after SIGCONT, in case it is paused), then SIGKILL when it will not go."""
    if state(pid, argv0, contains=contains) is ProcessState.STOPPED:
        return
    send(pid, signal.SIGCONT)
    send(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if state(pid, argv0) is ProcessState.STOPPED:
            return
        time.sleep(0.05)
    send(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and state(pid, argv0) is not ProcessState.STOPPED:
        time.sleep(0.05)
