"""The full inspection catalog on a big sandbox, against the bare LIST floor, Popeye and k8sgpt.

    .venv/bin/python -m bench.inspect_scale --nodes 10000 --pods 100000 [--name insp-scale] [--keep]

In one run on one cluster:

- ``floor_s``: a bare paginated LIST (decode only, no checks) of exactly the resources the catalog's
  sweep lists, with the same metadata-only choices, selectors, page size and concurrency;
- ``sweep_s``: the whole catalog (``kubeprobe inspect``, every check) as the engine times it, and
  ``sweep_process_s`` / ``peak_rss_mb`` for the whole CLI process (started fresh, RSS from wait4);
- Popeye and k8sgpt, built from the Go module proxy at pinned versions (cached under
  ``~/.cache/kubeprobe/bench/``), run against the same kubeconfig: wall time and peak RSS. A tool
  that cannot be built or run records its error instead.

Each of floor and sweep runs ``--repeats`` times; the best time is kept (peak RSS: the worst).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console

from bench.common import write_result
from kubeprobe.cases.inspections.check import CheckContext
from kubeprobe.cases.inspections.registry import CATALOG
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.collect import ALL_RESOURCES, ListSpec, discover, plan
from kubeprobe.sandbox.build import Builder
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.scale import populate

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


# -- floor ----------------------------------------------------------------------------------------
async def sweep_plan(kube: KubeClient) -> list[ListSpec]:
    """The LISTs the whole catalog's sweep makes (same merge as the engine)."""
    ctx = CheckContext("bench")
    needs = [n for cls in CATALOG for n in cls(ctx).wants()]
    discovery = await discover(kube) if any(n.resource == ALL_RESOURCES for n in needs) else None
    return plan(needs, discovery)


async def floor(
    kube: KubeClient, specs: list[ListSpec], page_size: int, concurrency: int
) -> tuple[float, int]:
    """Bare paginated LISTs of the specs with the client's own pager: (seconds, objects)."""
    sem = asyncio.Semaphore(concurrency)
    count = 0

    async def one(spec: ListSpec) -> None:
        nonlocal count
        params: dict[str, Any] = {}
        if spec.field_selector:
            params["fieldSelector"] = spec.field_selector
        if spec.label_selector:
            params["labelSelector"] = spec.label_selector
        async with sem:
            try:
                async for page in kube.iter_pages(
                    spec.resource.path(), limit=page_size, metadata_only=spec.metadata_only, **params
                ):
                    count += len(page.get("items") or [])
            except Exception as exc:  # a resource the sweep cannot list either
                console.print(f"  floor: {spec.resource}: {exc}")

    start = time.perf_counter()
    await asyncio.gather(*(one(s) for s in specs))
    return time.perf_counter() - start, count


# -- the run --------------------------------------------------------------------------------------
def run_sweep(name: str, page_size: int, timeout: float) -> dict[str, Any]:
    argv = [sys.executable, "-m", "kubeprobe.cli.main", "inspect", "--sandbox", name, "-o", "json"]
    result = measured([*argv, "--page-size", str(page_size)], timeout=timeout)
    text = result.pop("output").decode(errors="replace")
    try:
        doc = json.loads(text[: text.rindex("}") + 1])
    except ValueError as exc:
        raise RuntimeError(f"kubeprobe inspect failed (exit {result['exit']}): {text[-1500:]}") from exc
    [cluster] = doc["clusters"]
    result.update(
        engine_seconds=cluster["seconds"],
        objects=cluster["objects"],
        lists=cluster["lists"],
        bytes=cluster["bytes"],
        findings=len(cluster["findings"]),
        checks=len(cluster["checks"]),
        check_errors={c["id"]: c["error"] for c in cluster["checks"] if c["error"]},
    )
    return result


def run_tool(
    name: str, kubeconfig: Path, timeout: float, build_wait: float, memory_cap_mb: float
) -> dict[str, Any]:
    try:
        binary = build_tool(name, build_wait)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        return {"error": f"build: {exc}"}
    home = CACHE / "home" / name
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    if name == "popeye":
        argv = [
            str(binary),
            "--kubeconfig",
            str(kubeconfig),
            "-A",
            "-o",
            "json",
            "--force-exit-zero",
            # Its default client timeout cuts the unpaginated LIST of 100,000 pods short (and it
            # then reports those sections clean, having seen nothing): give it the whole limit.
            "--request-timeout",
            f"{int(timeout)}s",
            "--logs",
            str(home / "popeye.log"),
        ]
    else:
        argv = [str(binary), "analyze", "--kubeconfig", str(kubeconfig), "--output", "json"]
    result = measured(argv, env=env, timeout=timeout, memory_cap_mb=memory_cap_mb)
    output = result.pop("output")
    result["output_bytes"] = len(output)
    # klog error lines (E1122 12:00:00 ...): requests the tool gave up on, so its report is partial.
    result["logged_errors"] = len(re.findall(rb"^E\d{4} ", output, re.MULTILINE))
    if name == "popeye":
        result["scanned"] = popeye_scanned(output)
    if result["exceeded"]:
        result["error"] = (
            f"exceeded {result['exceeded']} after {result['seconds']:.0f} s (peak RSS seen "
            f"{result['peak_rss_mb']:.0f} MB); killed, no report: "
            + output.decode(errors="replace").strip()[-400:]
        )
    elif result["exit"] != 0:
        result["error"] = f"exit {result['exit']}: " + output.decode(errors="replace").strip()[-800:]
    return result


def popeye_scanned(output: bytes) -> dict[str, int]:
    """Objects Popeye's report covers per linter (its tally), to tell a full scan from a partial one."""
    start = output.find(b'{"popeye"')
    try:
        doc = json.loads(output[start:]) if start >= 0 else {}
    except ValueError:
        return {}
    scanned = {}
    for section in (doc.get("popeye") or {}).get("sections") or []:
        tally = section.get("tally") or {}
        scanned[section.get("linter", "?")] = sum(
            int(tally.get(k, 0)) for k in ("ok", "info", "warning", "error")
        )
    return scanned


async def prepare(args: argparse.Namespace) -> Sandbox:
    sandbox = Sandbox(args.name)
    if args.reuse:
        _ = sandbox.state  # a clear error when it does not exist
        return sandbox
    await sandbox.up(
        Builder().build(),
        node_count=0,
        node_lease_seconds=args.node_lease_seconds,
        json_storage=not args.via_api,
    )
    last = {"t": 0.0}

    def progress(what: str, done: int, total: int) -> None:
        if time.monotonic() - last["t"] > 10 or done >= total:
            last["t"] = time.monotonic()
            console.print(f"  {what}: {done}/{total}")

    timings = await populate(
        sandbox, nodes=args.nodes, pods=args.pods, namespaces=max(10, args.pods // 2000), progress=progress
    )
    console.print(f"populated: {timings}")
    return sandbox


async def count_cluster(sandbox: Sandbox) -> tuple[int, int]:
    """Nodes and pods of a cluster (metadata-only pages)."""
    counts = []
    async with sandbox.client(timeout=300) as kube:
        for path in ("/api/v1/nodes", "/api/v1/pods"):
            total = 0
            async for page in kube.iter_pages(path, limit=5000, metadata_only=True):
                total += len(page.get("items") or [])
            counts.append(total)
    return counts[0], counts[1]


async def measure_floor(sandbox: Sandbox, args: argparse.Namespace) -> tuple[float, int, int, float]:
    """(best seconds, objects, LISTs, CPU seconds of this process for the best one)."""
    async with sandbox.client(timeout=300) as kube:
        specs = await sweep_plan(kube)
        best, objects, cpu = float("inf"), 0, 0.0
        for _ in range(args.repeats):
            cpu0 = time.process_time()
            seconds, objects = await floor(kube, specs, args.page_size, 4)
            if seconds < best:
                best, cpu = seconds, time.process_time() - cpu0
    return best, objects, len(specs), cpu


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=10000)
    parser.add_argument("--name", default="insp-scale")
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument(
        "--node-lease-seconds",
        type=int,
        default=3600,
        help="kwok node lease (renewed every quarter of it); long, so 10,000 nodes stay Ready on a "
        "busy machine (at 240 s the renewals fell behind and nodes went NotReady). Default 3600.",
    )
    parser.add_argument(
        "--tool-timeout",
        type=float,
        default=1200,
        help="Wall-time limit of each run of kubeprobe, Popeye or k8sgpt, in seconds (default 1200).",
    )
    parser.add_argument(
        "--tool-memory-gib",
        type=float,
        default=6,
        help="Memory cap of Popeye and k8sgpt (RSS watchdog, RLIMIT_AS at twice it); default 6.",
    )
    parser.add_argument(
        "--build-wait", type=float, default=600, help="How long to wait for a tool's running build."
    )
    parser.add_argument(
        "--tools", default="popeye,k8sgpt", help="Comma-separated tools to compare ('' for none)."
    )
    parser.add_argument(
        "--via-api",
        action="store_true",
        help="create every pod through the API server (slow) instead of the etcd bulk loader",
    )
    parser.add_argument("--keep", action="store_true", help="Leave the sandbox running afterwards.")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="Inspect an existing, populated sandbox as it is (never stopped afterwards); "
        "--nodes/--pods are then read from the cluster.",
    )
    args = parser.parse_args()
    load_start = round(os.getloadavg()[0], 2)
    sandbox = asyncio.run(prepare(args))
    if args.reuse:
        args.nodes, args.pods = asyncio.run(count_cluster(sandbox))
    results: dict[str, Any] = {}
    errors: dict[str, str] = {}
    try:
        sweeps = []
        floors = []
        for _ in range(args.repeats):
            floors.append(
                asyncio.run(measure_floor(sandbox, argparse.Namespace(**{**vars(args), "repeats": 1})))
            )
            sweeps.append(run_sweep(sandbox.name, args.page_size, args.tool_timeout))
            console.print(f"  floor {floors[-1][0]:.2f}s, sweep {sweeps[-1]['engine_seconds']:.2f}s")
        floor_s, floor_objects, lists, floor_cpu = min(floors)
        best = min(sweeps, key=lambda s: s["engine_seconds"])
        paired = sorted(s["engine_seconds"] / f[0] for s, f in zip(sweeps, floors, strict=True))
        results.update(
            load_avg_1m_start=load_start,
            floor_s=round(floor_s, 3),
            floor_cpu_s=round(floor_cpu, 2),
            floor_objects=floor_objects,
            floor_lists=lists,
            sweep_s=best["engine_seconds"],
            sweep_process_s=best["seconds"],
            peak_rss_mb=max(s["peak_rss_mb"] for s in sweeps),
            ratio_to_floor=round(best["engine_seconds"] / floor_s, 3),
            # Each sweep against the floor measured just before it: less exposed to load swings.
            ratio_to_floor_paired_median=round(paired[len(paired) // 2], 3),
            sweep_cpu_s=best["cpu_seconds"],
            sweep_objects_per_cpu_s=round(best["objects"] / max(best["cpu_seconds"], 0.01)),
            sweep_objects=best["objects"],
            sweep_lists=best["lists"],
            sweep_mb_transferred=round(best["bytes"] / 2**20, 1),
            sweep_findings=best["findings"],
            checks=best["checks"],
            check_errors=len(best["check_errors"]),
        )
        if best["check_errors"]:
            errors["kubeprobe_check_errors"] = json.dumps(best["check_errors"])[:1500]
        for tool in [t for t in args.tools.split(",") if t]:
            if tool in TOOLS:
                console.print(f"running {tool}")
                cap_mb = args.tool_memory_gib * 1024
                outcome = run_tool(tool, sandbox.kubeconfig, args.tool_timeout, args.build_wait, cap_mb)
                if "error" in outcome:
                    errors[tool] = outcome["error"]
                    console.print(f"  {tool}: {outcome['error'][:300]}")
                if "seconds" in outcome:
                    results[f"{tool}_sweep_s"] = outcome["seconds"]
                    results[f"{tool}_cpu_s"] = outcome["cpu_seconds"]
                    results[f"{tool}_peak_rss_mb"] = outcome["peak_rss_mb"]
                    results[f"{tool}_exit_code"] = outcome["exit"]
                    results[f"{tool}_logged_errors"] = outcome["logged_errors"]
                    # 1 when the tool was killed at its memory cap or time limit (no report).
                    results[f"{tool}_exceeded_limit"] = int(bool(outcome["exceeded"]))
                    for linter in ("pods", "nodes"):  # 0: its report silently skipped them
                        if linter in outcome.get("scanned", {}):
                            results[f"{tool}_{linter}_scanned"] = outcome["scanned"][linter]
                    results[f"{tool}_ratio_to_sweep"] = round(outcome["seconds"] / results["sweep_s"], 2)
                    console.print(f"  {tool}: {outcome['seconds']:.1f}s, {outcome['peak_rss_mb']:.0f} MB")
        results["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    finally:
        if not args.keep and not args.reuse:
            sandbox.down()
    params: dict[str, Any] = {
        "nodes": args.nodes,
        "pods": args.pods,
        "page_size": args.page_size,
        "concurrency": 4,
        "repeats": args.repeats,
        "popeye": "@".join(TOOLS["popeye"]),
        "k8sgpt": "@".join(TOOLS["k8sgpt"]),
        "tool_memory_cap_mb": args.tool_memory_gib * 1024,
        "tool_time_limit_s": args.tool_timeout,
    }
    targets = {"ratio_to_floor": ["<=", 1.5], "peak_rss_mb": ["<=", 1024]}
    # The size keeps the plain name; smaller runs are kept beside it, keyed by size.
    full = args.nodes >= 10_000 and args.pods >= 99_000
    path = write_result(
        "inspect_scale" if full else f"inspect_scale_{args.nodes}n_{args.pods}p", params, results, targets
    )
    if errors:  # what could not be measured, and exactly why, beside the numbers
        doc = json.loads(path.read_text())
        doc["errors"] = errors
        path.write_text(json.dumps(doc, indent=2) + "\n")
    console.print_json(path.read_text())
    sys.exit(0)


if __name__ == "__main__":
    main()
