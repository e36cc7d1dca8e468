"""Probe noise: every built-in probe looping on a healthy sandbox must report zero failures; and a
healthy pod probe's duration against the same steps done by kubectl, in the same run.

    .venv/bin/python -m bench.probe_noise --duration-s 1800 [--sandbox probe-bench] [--keep]

kubectl is built once from the Go module proxy (k8s.io/kubernetes at the sandbox's pinned version,
the sandbox's wrapper go.mod with its replaces) into ``~/.cache/kubeprobe/bench/``. When the build
fails the comparison is skipped and the error is recorded in the result's params.

The kubectl baseline does what the pod probe does: create the pod, wait until it is scheduled,
wait until it is Running, delete it with grace period 0 and wait until it is gone. The probe's
time is the whole run as the center would see it (its namespace check and run anchor included).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from importlib import resources
from pathlib import Path
from typing import Any

from rich.console import Console

from bench.common import write_result
from kubeprobe.cases.execute import Outcome, execute
from kubeprobe.cases.registry import CaseTemplate, builtin_registry
from kubeprobe.kube.client import KubeClient
from kubeprobe.model import CaseKind
from kubeprobe.sandbox.build import Builder
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.versions import Pins, cache_root

console = Console(stderr=True)
NAMESPACE = "kubeprobe-system"


# -- kubectl --------------------------------------------------------------------------------------
def build_kubectl() -> Path:
    """kubectl at the sandbox's Kubernetes version, built once; BuildFailed with the log tail."""
    pins = Pins()
    root = cache_root() / "bench"
    exe = root / "bin" / f"kubectl-{pins.kubernetes}"
    if exe.is_file():
        return exe
    work = root / "src" / f"kubectl-{pins.kubernetes}"
    log = root / "logs" / "kubectl-build.log"
    work.mkdir(parents=True, exist_ok=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    gomod = resources.files("kubeprobe.sandbox") / "gomod" / "kubernetes"
    text = gomod.joinpath("go.mod").read_text()
    (work / "go.mod").write_text(
        text.replace("kubeprobe.local/sandbox/kubernetes", "kubeprobe.local/bench/kubectl")
    )
    (work / "go.sum").write_text(gomod.joinpath("go.sum").read_text())
    (work / "tools.go").write_text(
        '//go:build tools\n\npackage kubectl\n\nimport (\n\t_ "k8s.io/kubernetes/cmd/kubectl"\n)\n'
    )
    env = {**os.environ, "GOTOOLCHAIN": "local", "CGO_ENABLED": "0"}
    ldflags = (
        f"-s -w -X k8s.io/component-base/version.gitVersion={pins.kubernetes} "
        f"-X k8s.io/client-go/pkg/version.gitVersion={pins.kubernetes}"
    )
    steps = [
        ["go", "mod", "tidy"],
        ["go", "build", "-trimpath", "-ldflags", ldflags, "-o", str(exe), "k8s.io/kubernetes/cmd/kubectl"],
    ]
    with log.open("w") as out:
        for cmd in steps:
            out.write(f"$ {' '.join(cmd)}\n")
            out.flush()
            proc = subprocess.run(
                cmd, cwd=work, env={**env, "GOFLAGS": "-mod=mod"}, stdout=out, stderr=out, check=False
            )
            if proc.returncode != 0:
                tail = log.read_text(errors="replace").splitlines()[-5:]
                raise BuildFailed(f"`{' '.join(cmd)}` exited {proc.returncode}: " + " | ".join(tail))
    return exe


class BuildFailed(Exception):
    """kubectl could not be built; the message is the command and the tail of its log."""


def pod_manifest(name: str) -> dict[str, Any]:
    """The pod probe's pod, byte for byte the same spec."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"kubeprobe.io/bench": "kubectl"}},
        "spec": {
            "containers": [
                {
                    "name": "probe",
                    "image": "registry.k8s.io/pause:3.10",
                    "resources": {"requests": {"cpu": "1m"}},
                }
            ],
            "terminationGracePeriodSeconds": 0,
            "automountServiceAccountToken": False,
            "restartPolicy": "Never",
        },
    }


async def kubectl(exe: Path, kubeconfig: Path, *args: str, stdin: bytes | None = None) -> None:
    proc = await asyncio.create_subprocess_exec(
        str(exe),
        f"--kubeconfig={kubeconfig}",
        f"--namespace={NAMESPACE}",
        *args,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, err = await proc.communicate(stdin)
    if proc.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {err.decode(errors='replace').strip()}")


async def kubectl_pod_lifecycle(exe: Path, kubeconfig: Path) -> float:
    name = f"kp-kubectl-{uuid.uuid4().hex[:8]}"
    start = time.perf_counter()
    await kubectl(exe, kubeconfig, "create", "-f", "-", stdin=json.dumps(pod_manifest(name)).encode())
    await kubectl(exe, kubeconfig, "wait", "--for=condition=PodScheduled", f"pod/{name}", "--timeout=60s")
    await kubectl(
        exe, kubeconfig, "wait", "--for=jsonpath={.status.phase}=Running", f"pod/{name}", "--timeout=60s"
    )
    await kubectl(exe, kubeconfig, "delete", "pod", name, "--grace-period=0", "--force", "--wait=true")
    return time.perf_counter() - start


# -- probes ---------------------------------------------------------------------------------------
def probe_params(template: CaseTemplate, sandbox: Sandbox) -> dict[str, Any]:
    """Defaults, except where the sandbox differs from a real cluster (etcd over http)."""
    if template.name == "etcd-probe":
        return {"endpoint": f"http://127.0.0.1:{sandbox.ports.etcd}"}
    return {}


async def run_once(template: CaseTemplate, params: dict[str, Any], kube: KubeClient) -> tuple[Outcome, float]:
    start = time.perf_counter()
    outcome = await execute(
        template,
        params,
        kube,
        run_id=f"noise-{uuid.uuid4().hex[:12]}",
        cluster="bench",
        case=template.name,
        deadline=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=template.timeout_seconds),
    )
    return outcome, time.perf_counter() - start


async def compare_pod_probe(sandbox: Sandbox, kube: KubeClient, exe: Path, rounds: int) -> dict[str, float]:
    template = builtin_registry().get("pod-lifecycle")
    probe_s: list[float] = []
    kubectl_s: list[float] = []
    for _ in range(rounds):  # interleaved, so drift in the machine's load hits both alike
        outcome, seconds = await run_once(template, {}, kube)
        if outcome.state != "succeeded":
            raise RuntimeError(f"pod probe did not succeed on a healthy sandbox: {outcome.body['messages']}")
        probe_s.append(seconds)
        kubectl_s.append(await kubectl_pod_lifecycle(exe, sandbox.kubeconfig))
    # What four kubectl processes cost before doing anything (start, load kubeconfig, one GET).
    floor_s = []
    for _ in range(rounds):
        start = time.perf_counter()
        await kubectl(exe, sandbox.kubeconfig, "get", "--raw=/readyz")
        floor_s.append(time.perf_counter() - start)
    probe_med, kubectl_med = statistics.median(probe_s), statistics.median(kubectl_s)
    return {
        "pod_probe_median_s": round(probe_med, 3),
        "pod_probe_max_s": round(max(probe_s), 3),
        "kubectl_pod_steps_median_s": round(kubectl_med, 3),
        "kubectl_pod_steps_max_s": round(max(kubectl_s), 3),
        "pod_probe_to_kubectl_ratio": round(probe_med / kubectl_med, 3),
        "kubectl_4_process_floor_s": round(4 * statistics.median(floor_s), 3),
    }


async def noise_loop(sandbox: Sandbox, kube: KubeClient, duration_s: float) -> dict[str, float]:
    templates = builtin_registry().all(CaseKind.PROBE)
    states: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    seconds: dict[str, list[float]] = defaultdict(list)
    start = time.monotonic()
    cycles = 0
    while time.monotonic() - start < duration_s:
        for template in templates:
            outcome, took = await run_once(template, probe_params(template, sandbox), kube)
            states[template.name][outcome.state] += 1
            seconds[template.name].append(took)
            if outcome.state != "succeeded":
                console.print(f"[red]{template.name} {outcome.state}[/]: {outcome.body['messages']}")
        cycles += 1
        elapsed = time.monotonic() - start
        console.print(f"  cycle {cycles} done at {elapsed:.0f}s of {duration_s:.0f}s")
    results: dict[str, float] = {"duration_s": round(time.monotonic() - start, 1), "cycles": cycles}
    for state in ("succeeded", "failed", "error", "timed_out"):
        results[f"runs_{state}"] = sum(s[state] for s in states.values())
    results["runs"] = sum(sum(s.values()) for s in states.values())
    for name, took in sorted(seconds.items()):
        key = name.replace("-", "_")
        results[f"{key}_runs"] = len(took)
        results[f"{key}_not_succeeded"] = len(took) - states[name]["succeeded"]
        results[f"{key}_mean_s"] = round(statistics.mean(took), 3)
        results[f"{key}_max_s"] = round(max(took), 3)
    return results


async def run(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, float]]:
    sandbox = Sandbox(args.sandbox)
    await sandbox.up(Builder().build(), node_count=args.nodes)
    notes: dict[str, Any] = {}
    results: dict[str, float] = {}
    try:
        async with sandbox.client() as kube:
            try:
                exe = await asyncio.to_thread(build_kubectl)
            except (BuildFailed, OSError) as exc:
                notes["kubectl_error"] = str(exc)
                console.print(f"[red]kubectl could not be built[/]: {exc}")
            else:
                notes["kubectl"] = str(exe)
                results.update(await compare_pod_probe(sandbox, kube, exe, args.compare_rounds))
                console.print(f"pod probe vs kubectl: {results}")
            results.update(await noise_loop(sandbox, kube, args.duration_s))
    finally:
        if not args.keep:
            sandbox.down()
    return notes, results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration-s", type=float, default=1800, help="How long the probes loop.")
    parser.add_argument("--sandbox", default="probe-bench", help="Sandbox to start (or reuse).")
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--compare-rounds", type=int, default=15, help="Pod probe vs kubectl rounds.")
    parser.add_argument("--keep", action="store_true", help="Leave the sandbox running.")
    args = parser.parse_args(argv)
    if not shutil.which("go"):
        console.print("[yellow]no Go on PATH: the kubectl comparison will be skipped[/]")
    notes, results = asyncio.run(run(args))
    params = {
        "duration_s_requested": args.duration_s,
        "nodes": args.nodes,
        "compare_rounds": args.compare_rounds,
        "probes": [t.name for t in builtin_registry().all(CaseKind.PROBE)],
        **notes,
    }
    targets = {
        "runs_failed": ["==", 0],
        "runs_error": ["==", 0],
        "runs_timed_out": ["==", 0],
        "duration_s": [">=", 1800],
        "pod_probe_to_kubectl_ratio": ["<=", 2.0],
    }
    path = write_result("probe_noise", params, results, targets)
    console.print(f"wrote {path}")
    bad = results.get("runs_failed", 0) + results.get("runs_error", 0) + results.get("runs_timed_out", 0)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
