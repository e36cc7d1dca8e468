"""Fault to healed on the sandbox for `bench.remedy --heal-runs N` (see its docstring)."""

from __future__ import annotations

import os
import statistics
import tempfile
import uuid
from pathlib import Path

from tests.remedy.test_fault_to_healed import heal_once, healing_center

from bench.common import write_result
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.faults import Faults


async def heal_bench(sandbox_name: str, runs: int) -> None:
    if not sandbox_name:
        raise SystemExit("--heal-runs needs --sandbox NAME (a running sandbox)")
    sandbox = Sandbox(sandbox_name)
    namespace = f"kp-bench-heal-{uuid.uuid4().hex[:6]}"
    times: list[dict[str, float]] = []
    faults = Faults(sandbox)
    async with sandbox.client() as kube:
        await kube.create("/api/v1/namespaces", {"metadata": {"name": namespace}})
        try:
            async with healing_center(Path(tempfile.mkdtemp()), sandbox, namespace, "auto") as http:
                for i in range(runs):
                    done = await heal_once(http, kube, faults, namespace, approve=False, app=f"heal-{i}")
                    times.append(done)
                    print(f"run {i + 1}/{runs}: {times[-1]}", flush=True)
        finally:
            await kube.delete(f"/api/v1/namespaces/{namespace}")
    results: dict[str, float] = {}
    for key in ("detected_s", "proposed_s", "pod_healed_s", "resolved_s"):
        values = [t[key] for t in times]
        results[f"pod_fault_to_{key.removesuffix('_s')}_p50_s"] = round(statistics.median(values), 2)
        results[f"pod_fault_to_{key.removesuffix('_s')}_max_s"] = round(max(values), 2)
    results["load_1m"] = round(os.getloadavg()[0], 2)
    params = {"runs": runs, "case": "pod crash-loop (kwok), auto policy, crash-loop inspection on demand"}
    path = write_result("remedy_heal", params, results, {})
    print(path.read_text())
