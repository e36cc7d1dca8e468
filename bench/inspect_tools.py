"""Building Popeye and k8sgpt from the Go module proxy, and running a command under time and memory caps."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console

console = Console(stderr=True)
CACHE = Path(os.environ.get("KUBEPROBE_CACHE_DIR", Path.home() / ".cache" / "kubeprobe")) / "bench"
TOOLS = {
    "popeye": ("github.com/derailed/popeye", "v0.22.1"),
    "k8sgpt": ("github.com/k8sgpt-ai/k8sgpt", "v0.4.17"),
}


# -- tools ----------------------------------------------------------------------------------------
def build_tool(name: str, wait: float = 600) -> Path:
    """The tool's binary, built once from the Go module proxy (GOTOOLCHAIN=local) and cached."""
    module, version = TOOLS[name]
    binary = CACHE / "bin" / f"{name}-{version}"
    _wait_for_other_build(binary, wait)
    if binary.exists():
        return binary
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod"}
    console.print(f"building {module}@{version} (once; cached in {binary.parent})")
    info = subprocess.run(
        ["go", "mod", "download", "-json", f"{module}@{version}"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=CACHE,
    )
    if info.returncode != 0:
        raise RuntimeError(
            f"go mod download {module}@{version}: {(info.stdout + info.stderr).strip()[-800:]}"
        )
    source = CACHE / "src" / f"{name}-{version}"
    shutil.rmtree(source, ignore_errors=True)
    shutil.copytree(json.loads(info.stdout)["Dir"], source)
    subprocess.run(["chmod", "-R", "u+w", str(source)], check=True)
    built = subprocess.run(
        ["go", "build", "-p", "1", "-o", str(binary), "."],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=source,
    )
    if built.returncode != 0:
        raise RuntimeError(f"go build {module}@{version}: {built.stderr.strip()[-800:]}")
    return binary


def _wait_for_other_build(binary: Path, timeout: float) -> None:
    """Another process (an earlier run) may be building the same binary: wait for it to end."""
    deadline = time.monotonic() + timeout
    while True:
        busy = False
        for proc in psutil.process_iter(["cmdline"]):
            cmdline = proc.info.get("cmdline") or []
            if "build" in cmdline and str(binary) in cmdline:
                busy = True
                break
        if not busy:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"another build of {binary.name} from the Go module proxy was still running after "
                f"{timeout:.0f}s of waiting (on this machine's 2 cores); no binary to run"
            )
        console.print(f"waiting for another build of {binary.name}")
        time.sleep(15)


def _rss_tree(proc: psutil.Process) -> int:
    """RSS of a process and its children, in bytes (0 once it is gone)."""
    total = 0
    try:
        for p in [proc, *proc.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
    except psutil.Error:
        return 0
    return total


def measured(
    argv: list[str], *, env: dict[str, str] | None = None, timeout: float, memory_cap_mb: float = 0
) -> dict[str, Any]:
    """Run a command; its wall time, peak RSS (from wait4), CPU time, exit code and output.

    ``memory_cap_mb`` (0: none) caps the command so it cannot take the shared machine down: a
    watchdog kills it when its RSS passes the cap, and RLIMIT_AS at twice the cap backs that up
    (Go reserves address space beyond what it touches). ``exceeded`` then says which limit ended it.
    """
    out_file = CACHE / "logs" / f"{Path(argv[0]).name}.out"
    out_file.parent.mkdir(parents=True, exist_ok=True)

    exceeded = ""
    watch_rss = 0
    start = time.perf_counter()
    with out_file.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
        if memory_cap_mb:  # set from outside right after the start (no preexec_fn with threads)
            cap = int(memory_cap_mb * 2 * 2**20)
            with contextlib.suppress(OSError):
                resource.prlimit(proc.pid, resource.RLIMIT_AS, (cap, cap))
        ps = psutil.Process(proc.pid)
        deadline = start + timeout
        next_sample = 0.0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            now = time.perf_counter()
            if memory_cap_mb and now >= next_sample:
                next_sample = now + 0.2
                watch_rss = max(watch_rss, _rss_tree(ps))
                if watch_rss > memory_cap_mb * 2**20:
                    exceeded = f"memory cap {memory_cap_mb:.0f} MB"
            if now > deadline:
                exceeded = f"time limit {timeout:.0f} s"
            if exceeded:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    text = out_file.read_bytes()
    if not exceeded and memory_cap_mb and code != 0 and b"out of memory" in text[-20000:]:
        exceeded = f"address-space limit {2 * memory_cap_mb:.0f} MB (fatal error: out of memory)"
    return {
        "seconds": round(seconds, 3),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(max(usage.ru_maxrss / 1024, watch_rss / 2**20), 1),
        "exit": code,
        "timed_out": exceeded.startswith("time"),
        "exceeded": exceeded,
        "output": text,
    }


async def settle(pid: int | None, *, idle: float = 0.1, window: float = 0.5, limit: float = 30) -> float:
    """Wait until the process ``pid`` (the API server) has used under ``idle`` of a core for a
    ``window`` of seconds, at most ``limit`` seconds; the seconds waited. So that no run is timed
    while the API server still works off the last one: a Go GC cycle over its heap of several GB
    (the 10,000-node sandbox's) costs it 1-4 CPU-s, and lands in whichever run comes next. A cycle
    a run's own allocations start is that run's cost, and is still counted."""
    if pid is None:
        return 0.0
    try:
        proc = psutil.Process(pid)
        start = time.monotonic()
        while time.monotonic() - start < limit:
            before, t0 = sum(proc.cpu_times()[:2]), time.monotonic()
            await asyncio.sleep(window)
            if (sum(proc.cpu_times()[:2]) - before) / (time.monotonic() - t0) < idle:
                break
        return time.monotonic() - start
    except psutil.Error:
        return 0.0
