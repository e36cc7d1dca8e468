"""The sandbox's kubelet: keeps each component running unless it was stopped on purpose.

Run as ``python -m kubeprobe.sandbox.supervisor FOLDER``, one per sandbox, detached. Like a
kubelet restarting static pods, it restarts a component that exited (the controller-manager and
the scheduler exit by design when they lose their leader lease during an API server outage).
A component with a ``run/<component>.stopped`` marker is left alone: that is the `stop` fault.

Files in ``FOLDER/run``: ``<component>.pid`` (written here), ``<component>.stopped`` (written by
whoever stops it), ``supervisor.pid``. It exits when FOLDER is removed or on SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import sys
import time
import urllib.request
from pathlib import Path
from types import FrameType

from kubeprobe.sandbox import processes
from kubeprobe.sandbox.components import ORDER, Ports, health_of
from kubeprobe.sandbox.processes import ProcessState

POLL_SECONDS = 0.25
#: Restart back-off, as a kubelet's CrashLoopBackOff: doubles per quick exit, capped.
BACKOFF_START, BACKOFF_MAX, STABLE_AFTER = 0.5, 8.0, 30.0


def pid_file(folder: Path, component: str) -> Path:
    return folder / "run" / f"{component}.pid"


def stopped_marker(folder: Path, component: str) -> Path:
    return folder / "run" / f"{component}.stopped"


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def write_pid(path: Path, pid: int) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(str(pid))
    tmp.replace(path)


def healthy(url: str) -> bool:
    if url.startswith("file:"):
        return Path(url[5:]).exists()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, timeout=2, context=ctx) as resp:
            return bool(resp.status == 200)
    except (OSError, ValueError):
        return False


def supervise(folder: Path) -> None:
    state = json.loads((folder / "state.json").read_text())
    order: list[str] = list(state.get("order") or ORDER)
    argvs: dict[str, list[str]] = {c: state["components"][c]["argv"] for c in order}
    #: What the running process's command line starts with (real nodes' components run via nsenter).
    match = {c: str(state["components"][c].get("match") or argvs[c][0]) for c in order}
    ports = Ports(**state["ports"])
    urls = {c: health_of(c, ports, state["components"][c]) for c in order}
    log = folder / "logs" / "supervisor.log"
    last_start: dict[str, float] = {}
    backoff: dict[str, float] = dict.fromkeys(order, 0.0)
    restarts: dict[str, int] = dict.fromkeys(order, 0)
    restart_at: dict[str, float] = {}
    # On the first start, each component waits for those before it to be healthy (no boot-time
    # crash loops from a controller-manager that finds RBAC not yet bootstrapped).
    booted: set[str] = set()
    running = True

    def on_term(signum: int, frame: FrameType | None) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    write_pid(folder / "run" / "supervisor.pid", os.getpid())
    while running and (folder / "state.json").exists():
        for component in order:
            if stopped_marker(folder, component).exists():
                continue
            pid = read_pid(pid_file(folder, component))
            if processes.state(pid, match[component]) is not ProcessState.STOPPED:
                booted.add(component)
                continue
            if component not in booted:
                before = order[: order.index(component)]
                if not all(healthy(urls[c]) for c in before):
                    continue
                booted.add(component)
            now = time.monotonic()
            if component in last_start and component not in restart_at:
                # Just noticed the exit: decide when to restart.
                ran = now - last_start[component]
                quick = ran < STABLE_AFTER
                backoff[component] = min(backoff[component] * 2, BACKOFF_MAX) if quick else 0.0
                backoff[component] = max(backoff[component], BACKOFF_START)
                restart_at[component] = now + backoff[component]
            if now < restart_at.get(component, 0.0):
                continue
            restart_at.pop(component, None)
            if component in last_start:
                restarts[component] += 1
                with log.open("a") as out:
                    out.write(
                        f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {component} (pid {pid}) exited; "
                        f"restart #{restarts[component]} after {backoff[component]:.1f}s back-off\n"
                    )
            last_start[component] = now
            new = processes.spawn(argvs[component], folder / "logs" / f"{component}.log", folder)
            write_pid(pid_file(folder, component), new)
        time.sleep(POLL_SECONDS)


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python -m kubeprobe.sandbox.supervisor SANDBOX_FOLDER")
    supervise(Path(sys.argv[1]))


if __name__ == "__main__":
    main()
