"""`kubeprobe demo`: bring up a sandbox cluster and show it working, step by step."""

from __future__ import annotations

import asyncio
import time

import typer
from rich.console import Console
from rich.table import Table

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.waiting import wait_for
from kubeprobe.sandbox.cluster import Sandbox, wait_for_service_account

console = Console()
DEMO_NS = "kubeprobe-demo"


def _deployment(replicas: int) -> dict[str, object]:
    labels = {"app": "hello"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "hello", "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "hello", "image": "registry.k8s.io/pause:3.10"}]},
            },
        },
    }


async def _show_workload(kube: KubeClient) -> None:
    ns_path = "/api/v1/namespaces"
    await kube.delete(f"{ns_path}/{DEMO_NS}")
    await wait_for(
        lambda: kube.list_all(ns_path, fieldSelector=f"metadata.name={DEMO_NS}"),
        lambda items: not items,
        timeout=60,
        what=f"old namespace {DEMO_NS} gone",
    )
    await kube.create(ns_path, {"metadata": {"name": DEMO_NS}})
    await wait_for_service_account(kube, DEMO_NS)
    deps = f"/apis/apps/v1/namespaces/{DEMO_NS}/deployments"
    start = time.monotonic()
    await kube.create(deps, _deployment(3))
    await wait_for(
        lambda: kube.get(f"{deps}/hello"),
        lambda d: d.get("status", {}).get("availableReplicas") == 3,
        timeout=60,
        what="deployment hello available",
    )
    console.print(f"deployment [bold]hello[/] has 3 available replicas after {time.monotonic() - start:.1f}s")
    table = Table(title=f"pods in {DEMO_NS}")
    for col in ("pod", "phase", "node", "pod IP"):
        table.add_column(col)
    for pod in await kube.list_all(f"/api/v1/namespaces/{DEMO_NS}/pods"):
        table.add_row(
            pod["metadata"]["name"],
            pod["status"].get("phase", ""),
            pod["spec"].get("nodeName", ""),
            pod["status"].get("podIP", ""),
        )
    console.print(table)


def demo(
    name: str = typer.Option("demo", "--name", "-n", help="Name of the demo's sandbox."),
    nodes: int = typer.Option(3, "--nodes", min=1, help="kwok nodes in the sandbox."),
) -> None:
    """Start a sandbox cluster (building it on first use) and show a workload running on it.

    Idempotent: a second run reuses the built binaries and the running sandbox.
    """
    from kubeprobe.cli.sandbox import _say, build_binaries

    console.rule("[bold]1. sandbox binaries")
    bin_dir = build_binaries()
    console.rule(f"[bold]2. sandbox cluster {name!r}")
    sandbox = Sandbox(name)
    asyncio.run(sandbox.up(bin_dir, node_count=nodes, report=_say))
    status = asyncio.run(sandbox.status())
    console.print(
        f"Kubernetes {status.get('version')} at {status['server']}, "
        f"{status.get('nodes_ready')}/{status.get('nodes')} nodes Ready"
    )
    console.rule("[bold]3. a workload")

    async def workload() -> None:
        async with sandbox.client() as kube:
            await _show_workload(kube)

    asyncio.run(workload())
    console.rule("[bold]next")
    console.print(
        f"export KUBECONFIG={sandbox.kubeconfig}\n"
        f"kubeprobe sandbox status --name {name}\n"
        f"kubeprobe sandbox fault pause kube-scheduler --name {name}   # then: fault resume ...\n"
        f"kubeprobe sandbox down --name {name}"
    )
