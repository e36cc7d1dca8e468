"""Fault to healed for the node case, for `bench.remedy --node-runs N --sandbox NAME` (see its
docstring): a real node's kubelet stopped, healed through the node agent."""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
from pathlib import Path

from tests.remedy.node_heal import heal_node_once, healing_center, helm_runner, node_agent_installed, uncordon

from bench.common import write_result
from kubeprobe.kube.waiting import WaitTimeout
from kubeprobe.sandbox import realcluster
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.image import ImageBuilder, default_tag

MILESTONES = ("not_ready_s", "detected_s", "healed_s", "resolved_s")


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


async def node_bench(sandbox_name: str, runs: int) -> None:
    if not sandbox_name:
        raise SystemExit("--node-runs needs --sandbox NAME (a running sandbox with a real node)")
    sandbox = Sandbox(sandbox_name)
    if not sandbox.real_nodes:
        raise SystemExit(f"sandbox {sandbox_name} has no real node: `kubeprobe sandbox up --real-nodes 1`")
    folder = Path(tempfile.mkdtemp(prefix="kp-bench-node-"))
    image = default_tag()
    realcluster.load_archive(sandbox.state, ImageBuilder().build(image))
    load_before, uptime_before = round(os.getloadavg()[0], 2), uptime()
    times: list[dict[str, float]] = []
    with node_agent_installed(helm_runner(folder / "helm"), sandbox, image, folder):
        async with sandbox.client() as kube, healing_center(folder, sandbox, action_burst=100) as http:
            await uncordon(kube, sandbox)  # and the operations earlier runs left
            try:
                for i in range(runs):
                    try:
                        got = await heal_node_once(http, sandbox, kube)
                    except WaitTimeout as exc:
                        print(f"run {i + 1}: {str(exc)[:300]}; stopping", flush=True)
                        break
                    states = [state for _, _, state in got["remediations"]]
                    if states != ["verified"] * 3 or got["green"] != "succeeded":
                        print(f"run {i + 1}: not healed: {got['remediations']}; stopping", flush=True)
                        break
                    times.append({k: float(got[k]) for k in MILESTONES})
                    print(f"run {i + 1}/{runs}: {times[-1]}", flush=True)
            finally:
                await uncordon(kube, sandbox)
    if not times:
        raise SystemExit("no run healed")
    results: dict[str, float] = {}
    for key in MILESTONES:
        values = [t[key] for t in times]
        name = key.removesuffix("_s")
        results[f"node_fault_to_{name}_p50_s"] = round(statistics.median(values), 2)
        results[f"node_fault_to_{name}_max_s"] = round(max(values), 2)
    healing = [t["healed_s"] - t["detected_s"] for t in times]
    results["node_detected_to_healed_p50_s"] = round(statistics.median(healing), 2)
    results["load_1m_before"] = load_before
    results["load_1m_after"] = round(os.getloadavg()[0], 2)
    params = {
        "runs": runs,
        "case": "real node, kubelet stopped; node-probe on demand once NotReady; auto policy: drain, "
        "restart kubelet through the node agent, uncordon; the sandbox's node-monitor-grace-period 50 s",
        "uptime_before": uptime_before,
        "uptime_after": uptime(),
    }
    results["runs"] = float(len(times))
    # The issue asks for the p50 over 10 runs (it sets no time to meet).
    path = write_result("remedy_node", params, results, {"runs": [">=", 10]})
    print(path.read_text())
