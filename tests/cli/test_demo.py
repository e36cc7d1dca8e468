"""`kubeprobe demo` with one real node where the machine allows it, and why not where it does not.

The decision is tested on both sides (the preflight's own words when it fails, ``--no-real-nodes``);
the demo itself runs end to end with a real node under its own sandbox names (``--prefix``): the
first cluster has ``real-node-0`` Ready and node-probe, bound because of it, succeeds there.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from kubeprobe.center.settings import default_data_dir
from kubeprobe.cli.demo import real_node_plan
from kubeprobe.sandbox import preflight
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.components import free_port
from kubeprobe.sandbox.testing import require_real_nodes

KUBEPROBE = Path(sys.executable).with_name("kubeprobe")


def test_no_real_nodes_when_asked_not_to() -> None:
    assert real_node_plan(False) == (0, "kwok nodes only: --no-real-nodes")


def test_where_the_preflight_fails_the_demo_says_why_in_its_words(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    words = ["not root: real nodes need root (network namespaces, overlay mounts, cgroups); run as root"]
    monkeypatch.setattr(preflight, "missing", lambda: words)
    count, why = real_node_plan(True)
    assert count == 0
    assert why == f"kwok nodes only, this machine cannot run real nodes: {words[0]}"


def test_one_real_node_where_the_preflight_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(preflight, "missing", lambda: [])
    count, why = real_node_plan(True)
    assert count == 1
    assert "one real node" in why


@pytest.mark.sandbox
@pytest.mark.real_nodes
def test_the_demo_runs_a_probe_on_its_real_node() -> None:
    require_real_nodes()
    prefix = f"pytest-demo-{uuid.uuid4().hex[:6]}"
    box = Sandbox(f"{prefix}-1")
    argv = [str(KUBEPROBE), "demo", "--prefix", prefix, "--clusters", "1", "--nodes", "1"]
    argv += ["--duration", "30", "--interval", "60", "--no-heal", "--port", str(free_port())]
    try:
        env = {**os.environ, "COLUMNS": "200"}
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=600, env=env, check=False)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out
        assert "one real node (kubelet, containerd" in out, out
        assert f"{box.name} has a real node: node-probe's pod on real-node-0 runs a real container" in out
        nodes = asyncio.run(_nodes(box))
        assert nodes.get("real-node-0") == "True", nodes
        row = next((line for line in out.splitlines() if "node-probe" in line and "│" in line), "")
        assert "succeeded" in row, out  # the health table: node-probe's last state
    finally:
        subprocess.run(
            [str(KUBEPROBE), "sandbox", "down", "--name", box.name], capture_output=True, check=False
        )
        shutil.rmtree(default_data_dir() / prefix, ignore_errors=True)


async def _nodes(box: Sandbox) -> dict[str, str]:
    async with box.client() as kube:
        items = await kube.list_all("/api/v1/nodes")
    ready = {}
    for n in items:
        cond = [c for c in n["status"].get("conditions") or [] if c["type"] == "Ready"]
        ready[n["metadata"]["name"]] = cond[0]["status"] if cond else "?"
    return ready
