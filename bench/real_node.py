"""A real node end to end: pod-lifecycle through the pod runner, beside the same steps by kubectl.

    .venv/bin/python -m bench.real_node --runs 50 [--name bench-real] [--keep]

Uses (or starts: ``up --nodes 1 --real-nodes 1``, its join time recorded) a sandbox with one real
node, builds the KubeProbe image (cached while the sources are unchanged) and loads it. Each run:

- **pod runner**: :class:`~kubeprobe.runners.pod.PodRunner` runs ``python -m kubeprobe.cases
  pod-lifecycle`` in a pod on the real node (a real container from the image); the case creates
  its probe pod, waits until it is scheduled and Running, deletes it and reports to a receiver on
  the pod network (a stand-in for the center's report endpoint, answering 200 as it does); the
  runner sees the pod exit and cleans up. Timed from ``run()`` to its end.
- **kubectl**: the same steps on the real node by hand: ``kubectl run`` a pause pod there,
  ``kubectl wait --for=condition=Ready``, ``kubectl delete --wait``.

Also the RSS of the node's components (containerd, kubelet, kube-proxy) and CoreDNS.
Results: ``bench/results/real_node.json``.
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
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psutil
from rich.console import Console

from bench.common import write_result
from kubeprobe.center.services.builtin import PROBE_RULES
from kubeprobe.model import CaseKind, CaseSpec
from kubeprobe.runners.base import RunRequest
from kubeprobe.runners.pod import PodRunner
from kubeprobe.sandbox import realcluster, realnode
from kubeprobe.sandbox.build import Builder
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.image import ImageBuilder, default_tag
from kubeprobe.sandbox.nodebuild import NodeBuilder

console = Console(stderr=True)
COMPONENTS = ("containerd-0", "kubelet-0", "kube-proxy-0", "coredns")
RUNNER = PodRunner(poll_seconds=0.2)


class Reports:
    """A stand-in for the center's report endpoint on the pod network: keeps each body, says 200."""

    def __init__(self, host: str) -> None:
        self.bodies: list[dict[str, Any]] = []
        reports = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                reports.bodies.append(json.loads(self.rfile.read(size) or b"{}"))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"accepted": true}')

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


async def runner_run(box: Sandbox, image: str, reports: Reports) -> tuple[float, bool]:
    case = CaseSpec(
        "pod-lifecycle-bench",
        "pod-lifecycle",
        CaseKind.PROBE,
        120,
        image=image,
        command=("python", "-m", "kubeprobe.cases", "pod-lifecycle"),
        rbac_rules=tuple(r.model_dump(exclude_none=True) for r in PROBE_RULES),
    )
    run_id = f"bench-{uuid.uuid4().hex[:10]}"
    request = RunRequest(
        run_id=run_id,
        case=case,
        cluster="bench",
        kubeconfig=box.kubeconfig.read_text(),
        report_url=f"{reports.url}/api/v1/runs/{run_id}/report",
        report_token="bench",
        deadline=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=120),
    )
    before = len(reports.bodies)
    start = time.perf_counter()
    end = await RUNNER.run(request)
    took = time.perf_counter() - start
    ok = end.exit_code == 0 and any(b.get("ok") for b in reports.bodies[before:])
    return took, ok


def kubectl_run(box: Sandbox, kubectl: str) -> tuple[float, bool]:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "KUBECONFIG": str(box.kubeconfig)}
    overrides = json.dumps({"spec": realcluster.RUNNER_OVERRIDES})
    steps = [
        [kubectl, "run", name, f"--image={realnode.PAUSE_IMAGE}", "--image-pull-policy=Never",
         "--restart=Never", f"--overrides={overrides}"],
        [kubectl, "wait", "--for=condition=Ready", f"pod/{name}", "--timeout=120s"],
        [kubectl, "delete", "pod", name, "--wait=true", "--grace-period=0"],
    ]  # fmt: skip
    start = time.perf_counter()
    ok = all(subprocess.run(s, env=env, capture_output=True, check=False).returncode == 0 for s in steps)
    return time.perf_counter() - start, ok


def rss_mb(box: Sandbox) -> dict[str, float]:
    out = {}
    for comp in COMPONENTS:
        pid = box.pid(comp)
        if pid:
            key = comp.removesuffix("-0").replace("-", "_")
            out[f"rss_{key}_mb"] = round(psutil.Process(pid).memory_info().rss / 2**20, 1)
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--name", default="bench-real")
    parser.add_argument("--keep", action="store_true", help="leave the sandbox running")
    args = parser.parse_args()
    kubectl = shutil.which("kubectl")
    if not kubectl:
        raise SystemExit("kubectl is needed for the baseline (Debian: apt-get install kubernetes-client)")
    box = Sandbox(args.name)
    results: dict[str, Any] = {}
    started_here = not box.exists()
    if started_here:
        start = time.perf_counter()
        await box.up(Builder().build(), node_count=1, real_nodes=1, node_bin_dir=NodeBuilder().build())
        results["sandbox_up_with_real_node_s"] = round(time.perf_counter() - start, 1)
    try:
        image = default_tag()
        start = time.perf_counter()
        realcluster.load_archive(box.state, ImageBuilder().build(image))
        results["image_build_and_load_s"] = round(time.perf_counter() - start, 1)
        reports = Reports(str(box.real_nodes["host_ip"]))
        await runner_run(box, image, reports)  # warm-up: RBAC, first container of the image
        kubectl_run(box, kubectl)
        ours, theirs, failures = [], [], 0
        for i in range(args.runs):
            took, ok = await runner_run(box, image, reports)
            ours.append(took)
            failures += not ok
            took_k, ok_k = kubectl_run(box, kubectl)
            theirs.append(took_k)
            failures += not ok_k
            console.print(f"run {i + 1}/{args.runs}: pod runner {took:.2f} s, kubectl {took_k:.2f} s")
        results |= {
            "podrunner_pod_lifecycle_p50_s": pct(ours, 0.5),
            "podrunner_pod_lifecycle_p95_s": pct(ours, 0.95),
            "podrunner_pod_lifecycle_mean_s": round(statistics.mean(ours), 3),
            "kubectl_pod_lifecycle_p50_s": pct(theirs, 0.5),
            "kubectl_pod_lifecycle_p95_s": pct(theirs, 0.95),
            "failed_runs": failures,
            **rss_mb(box),
            "load_1m": round(os.getloadavg()[0], 2),
        }
    finally:
        if started_here and not args.keep:
            box.down()
    path = write_result(
        "real_node",
        {"runs": args.runs, "sandbox": args.name, "image": image, "real_nodes": 1, "kwok_nodes": 1},
        results,
        {"failed_runs": ["==", 0]},
    )
    console.print(json.dumps(results, indent=2))
    console.print(f"→ {path}")


if __name__ == "__main__":
    asyncio.run(main())
