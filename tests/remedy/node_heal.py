"""A NotReady real node healed through the node agent, end to end (used by the real-node test and
``bench/remedy.py --node-runs``).

:func:`node_agent_installed` installs the operator chart with only the node agent (its CRD and
DaemonSet, the KubeProbe image), wired to the sandbox's supervisor: its ``run`` folder and, per
real node, the supervisor's names of its components. :func:`healing_center` serves a dispatching
center with self-healing on and the node.not_ready policy (drain, restart the kubelet through the
agent, uncordon: a sequence) in ``auto`` mode, the sandbox registered as ``real`` and node-probe
on the real nodes as a case. :func:`heal_node_once` stops the kubelet and follows the loop.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import yaml

from kubeprobe.center.settings import CenterSettings
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.waiting import wait_for
from kubeprobe.remedy import operations as ops
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.nodefaults import NodeFaults
from kubeprobe.sandbox.nodes import is_ready
from tests.deploy.conftest import OPERATOR_CHART
from tests.web.browser import free_port, serving_dashboard

RELEASE, NAMESPACE = "kp-node-agent", "kubeprobe-node-agent"
ADMIN = "kp_node-heal-admin"
DONE = {"verified", "failed", "unverified", "denied", "precondition", "shadow", "fenced", "error"}
TERMINAL_RUN = {"succeeded", "failed", "timed_out", "error", "cancelled"}
POLICY = """
name: node-not-ready
cause: node.not_ready
mode: auto
ladder:
  - {action: node-drain, timeout_seconds: 60, on_verified: next}
  - {action: restart-node-component, timeout_seconds: 90, params: {component: kubelet}, on_verified: next}
  - {action: node-uncordon, timeout_seconds: 60, max_tries: 3}
"""
Helm = Callable[..., subprocess.CompletedProcess[str]]


def agent_values(sandbox: Sandbox, image: str) -> dict[str, Any]:
    real = sandbox.real_nodes
    repo, tag = image.rsplit(":", 1)
    units = {
        node: {
            "kubelet": f"kubelet-{i}",
            "container-runtime": f"containerd-{i}",
            "kube-proxy": f"kube-proxy-{i}",
        }
        for i, node in enumerate(real["nodes"])
    }
    return {
        "image": {"repository": repo, "tag": tag, "pullPolicy": "IfNotPresent"},
        "operator": {"enabled": False},
        "probesNamespace": {"create": False},
        "centerAccess": {"enabled": False},
        "nodeAgent": {
            "enabled": True,
            "apiServer": {"host": str(real["host_ip"]), "port": sandbox.ports.apiserver},
            "supervisor": {"runDir": str(sandbox.folder / "run"), "units": units},
            "nodeSelector": {"kubeprobe.io/real-node": "true"},
        },
    }


def helm_runner(home: Path) -> Helm:
    """Helm (the pinned build) with its own config and cache under ``home``; fails on non-zero."""
    from kubeprobe.sandbox.helm import build_helm

    binary = build_helm()
    env = {"HELM_CONFIG_HOME": str(home / "config"), "HELM_CACHE_HOME": str(home / "cache"),
           "HELM_DATA_HOME": str(home / "data"), "HOME": str(home), "PATH": "/usr/bin:/bin"}  # fmt: skip

    def run(*args: str, check: bool = True, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(binary), *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
        )
        if check and proc.returncode != 0:
            raise RuntimeError(f"helm {' '.join(args)} exited {proc.returncode}: {proc.stderr[-2000:]}")
        return proc

    return run


@contextlib.contextmanager
def node_agent_installed(helm: Helm, sandbox: Sandbox, image: str, folder: Path) -> Iterator[None]:
    values = folder / "node-agent-values.yaml"
    values.write_text(yaml.safe_dump(agent_values(sandbox, image)))
    where = ("--kubeconfig", str(sandbox.kubeconfig), "--namespace", NAMESPACE)
    helm("uninstall", RELEASE, *where, check=False)  # a leftover of an interrupted run
    helm("install", RELEASE, str(OPERATOR_CHART), *where, "--create-namespace", "-f", str(values),
         "--wait", "--timeout", "180s")  # fmt: skip
    try:
        yield
    finally:
        helm("uninstall", RELEASE, *where, "--wait", "--timeout", "120s", check=False)


async def _ok(resp: httpx.Response, status: int = 200) -> Any:
    assert resp.status_code == status, f"{resp.request.url}: {resp.status_code} {resp.text}"
    return resp.json() if resp.content else None


@contextlib.asynccontextmanager
async def healing_center(
    folder: Path, sandbox: Sandbox, *, action_burst: float = 3.0
) -> AsyncIterator[httpx.AsyncClient]:
    (folder / "policies.yaml").write_text(POLICY)
    settings = CenterSettings(
        data_dir=folder / "center",
        admin_token=ADMIN,
        port=free_port(),
        runner_mode="local",
        analysis={"self_healing": True},
        remedy={
            "policies_file": folder / "policies.yaml",
            "action_burst": action_burst,
            "fleet_burst": action_burst,
        },
    )
    with serving_dashboard(settings, dispatch=True, maintenance=False) as base:
        async with httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {ADMIN}"}, timeout=60
        ) as http:
            body = {"name": "real", "kubeconfig": sandbox.kubeconfig.read_text()}
            await _ok(await http.post("/api/v1/clusters", json=body), 201)
            case = {"name": "real-nodes", "template": "node-probe", "params": {"node_selector": "type=real"}}
            await _ok(await http.post("/api/v1/cases", json=case), 201)
            yield http


async def run_case(http: httpx.AsyncClient) -> dict[str, Any]:
    run = await _ok(await http.post("/api/v1/runs", json={"case": "real-nodes", "cluster": "real"}), 201)

    async def get() -> dict[str, Any]:
        return dict(await _ok(await http.get(f"/api/v1/runs/{run['id']}")))

    return await wait_for(get, lambda r: r["state"] in TERMINAL_RUN, timeout=180, what="node-probe")


async def heal_node_once(http: httpx.AsyncClient, sandbox: Sandbox, kube: KubeClient) -> dict[str, Any]:
    """Kubelet stopped → NotReady → node-probe fails → drain, restart kubelet through the agent,
    uncordon (each verified) → node-probe passes → the incident resolves. Seconds from the fault
    to each milestone, the remediations and the RemedyOperation."""
    node = str(sandbox.real_nodes["nodes"][0])
    faults = NodeFaults(sandbox)
    earlier = await _ok(await http.get("/api/v1/remediations", params={"limit": 1}))
    seen = max((r["id"] for r in earlier), default=0)  # this run's remediations come after these
    start = time.monotonic()
    faults.stop_kubelet()
    try:
        await wait_for(
            lambda: kube.get(f"/api/v1/nodes/{node}"), lambda n: not is_ready(n), timeout=150, what="NotReady"
        )
        not_ready = time.monotonic() - start
        failed = await run_case(http)
        assert failed["state"] == "failed", failed
        detected = time.monotonic() - start

        async def remediations() -> list[dict[str, Any]]:
            got = await _ok(await http.get("/api/v1/remediations", params={"limit": 10}))
            return [r for r in got if r["id"] > seen]

        seq = await wait_for(
            remediations,
            lambda rs: (
                any(r["action"] == "node-uncordon" and r["state"] in DONE for r in rs)
                or any(r["state"] in DONE - {"verified"} for r in rs)
            ),
            timeout=300,
            what="the node remediations",
        )
    finally:
        if not await _kubelet_running(sandbox):
            await faults.start_kubelet()  # the agent did not: leave the node as it was
    healed = time.monotonic() - start
    green = await run_case(http)
    incident = seq[0]["incident_id"]

    async def closed() -> dict[str, Any]:
        return dict(await _ok(await http.get(f"/api/v1/incidents/{incident}")))

    resolved = await wait_for(closed, lambda i: i["state"] == "resolved", timeout=120, what="resolved")
    mine = ops.of_remediation(await kube.list_all(ops.COLLECTION), _restart_of(seq))
    op = max(mine, key=lambda o: str(o["metadata"]["creationTimestamp"]), default={})  # ids repeat
    return {
        "not_ready_s": not_ready,
        "detected_s": detected,
        "healed_s": healed,
        "resolved_s": time.monotonic() - start,
        "remediations": sorted((r["id"], r["action"], r["state"]) for r in seq),
        "green": green["state"],
        "incident": resolved,
        "operation": op,
        "node": await kube.get(f"/api/v1/nodes/{node}"),
    }


async def uncordon(kube: KubeClient, sandbox: Sandbox) -> None:
    """Put the real node back into service whatever a failed run left (for the next test or run),
    and remove the RemedyOperations KubeProbe made."""
    node = str(sandbox.real_nodes["nodes"][0])
    with contextlib.suppress(Exception):
        # The fencing token is a center's own: a stale one would fence out the next center.
        marks = {"kubeprobe.io/remedy": None, "kubeprobe.io/remedy-fence": None}
        await kube.patch(
            f"/api/v1/nodes/{node}", {"spec": {"unschedulable": None}, "metadata": {"annotations": marks}}
        )
    with contextlib.suppress(Exception):
        for op in await kube.list_all(ops.COLLECTION, labelSelector="app.kubernetes.io/managed-by=kubeprobe"):
            await kube.delete(ops.path(op["metadata"]["name"]))


def _restart_of(seq: list[dict[str, Any]]) -> str:
    rid = next((r["id"] for r in seq if r["action"] == "restart-node-component"), 0)
    return f"remediation-{rid}"


async def _kubelet_running(sandbox: Sandbox) -> bool:
    return not (sandbox.folder / "run" / "kubelet-0.stopped").exists() and await sandbox.healthy("kubelet-0")
