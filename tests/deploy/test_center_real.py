"""The center chart on real nodes: two center replicas of the KubeProbe image Running and Ready on
the real node, on PostgreSQL (this machine's, through a proxy on the sandbox's host address, where
pods reach it), sharing the clusters by lease; a run through the pod runner started by a center
pod; ``helm upgrade`` rolls the replicas; ``helm test`` (health, then one smoke probe run by the center
on the sandbox) passes on the rolled replicas and fails, saying why, when the smoke probe cannot
run; ``helm uninstall`` leaves nothing of the release."""

from __future__ import annotations

import re
import subprocess
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import yaml
from cryptography.fernet import Fernet
from sqlalchemy.engine import make_url

from kubeprobe.cases.registry import builtin_registry
from kubeprobe.center.services.builtin import PROBE_RULES
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.waiting import WaitTimeout, wait_for
from kubeprobe.sandbox.cluster import Sandbox
from tests.center.replicas import DbProxy
from tests.deploy.conftest import CHART, Helm

ROOT = Path(__file__).resolve().parents[2]
RELEASE = "kp-center"
NS = "kp-center"
TOKEN = "kp_center-chart-admin-token"
INSTANCE = f"app.kubernetes.io/instance={RELEASE}"


def _server() -> str:
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "postgres")], check=True, capture_output=True, text=True
    ).stdout.strip()


async def _database(url: str) -> tuple[str, str]:
    """A new database on scripts/postgres: (server URL, database name)."""
    u, name = make_url(url), f"t_chart_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(host=u.host, port=u.port, user=u.username, database="postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return url, name


async def _ready_pods(
    kube: KubeClient, count: int, exclude: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    async def pods() -> list[dict[str, Any]]:
        items = await kube.list_all(f"/api/v1/namespaces/{NS}/pods", labelSelector=INSTANCE)
        return [
            p
            for p in items
            if p["metadata"]["name"] not in exclude
            and p["status"].get("phase") == "Running"
            and all(c.get("ready") for c in p["status"].get("containerStatuses") or [{}])
            and not p["metadata"].get("deletionTimestamp")
        ]

    try:
        return await wait_for(
            pods, lambda ps: len(ps) == count, timeout=240, what=f"{count} center pods Ready"
        )
    except WaitTimeout:
        items = await kube.list_all(f"/api/v1/namespaces/{NS}/pods", labelSelector=INSTANCE)
        seen = [(p["metadata"]["name"], p["status"]) for p in items]
        events = await kube.list_all(f"/api/v1/namespaces/{NS}/events")
        raise AssertionError(f"pods: {seen}\nevents: {[e.get('message') for e in events][-20:]}") from None


async def test_center_chart_on_real_nodes(
    real_sandbox: Sandbox, real_kube: KubeClient, kubeprobe_image: str, helm: Helm, tmp_path: Path
) -> None:
    host = str(real_sandbox.real_nodes["host_ip"])
    server, name = await _database(_server())
    pg = make_url(server)
    proxy = DbProxy(str(pg.host), int(pg.port or 5432), bind=host).start()
    repo, tag = kubeprobe_image.rsplit(":", 1)
    values = {
        "image": {"repository": repo, "tag": tag, "pullPolicy": "Never"},
        "replicaCount": 2,
        "nodeSelector": {"type": "real"},
        "tolerations": [{"key": "kubeprobe.io/real-node", "operator": "Exists"}],
        "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "768Mi"}},
        "secrets": {
            "databaseUrl": pg.set(host=host, port=proxy.port, database=name).render_as_string(False),
            "secretKey": Fernet.generate_key().decode(),
            "adminToken": TOKEN,
        },
        "networkPolicy": {"database": {"port": proxy.port, "to": []}},
        "tests": {"smoke": {"cluster": "real", "timeoutSeconds": 120}},
        "center": {
            "extraEnv": [
                {"name": "KUBEPROBE_HA_LEASE_SECONDS", "value": "6"},
                {"name": "KUBEPROBE_HA_RENEW_SECONDS", "value": "2"},
            ]
        },
    }
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    kcfg = str(real_sandbox.kubeconfig)
    base = ["--kubeconfig", kcfg, "-n", NS]
    try:
        helm("install", RELEASE, str(CHART), *base, "--create-namespace", "-f", str(path), timeout=300)
        first = await _ready_pods(real_kube, 2)
        await _run_through_a_center_pod(real_sandbox, first[0], host, kubeprobe_image)
        helm(
            "upgrade",
            RELEASE,
            str(CHART),
            *base,
            "--reuse-values",
            "--set",
            "podAnnotations.rolled=yes",
            timeout=300,
        )
        rolled = await _ready_pods(real_kube, 2, exclude=frozenset(p["metadata"]["name"] for p in first))
        assert all(p["metadata"]["annotations"].get("rolled") == "yes" for p in rolled)
        _helm_test(helm, base, real_sandbox, host)
        helm("uninstall", RELEASE, *base, "--wait", timeout=300)

        async def left() -> list[str]:
            found = []
            for kind in ("pods", "services", "secrets", "configmaps", "serviceaccounts"):
                items = await real_kube.list_all(f"/api/v1/namespaces/{NS}/{kind}", labelSelector=INSTANCE)
                found += [f"{kind}/{i['metadata']['name']}" for i in items]
            return found

        assert await wait_for(left, lambda x: not x, timeout=120, what="nothing of the release left") == []
    finally:
        helm("uninstall", RELEASE, *base, check=False)
        await real_kube.delete(f"/api/v1/namespaces/{NS}")
        proxy.close()
        conn = await asyncpg.connect(host=pg.host, port=pg.port, user=pg.username, database="postgres")
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


def _helm_test(helm: Helm, base: list[str], real_sandbox: Sandbox, host: str) -> None:
    """``helm test``: health and a smoke run of apiserver-probe on the sandbox pass; on a cluster
    whose API server does not answer the smoke run cannot run, and helm test fails, naming it."""
    ok = helm("test", RELEASE, *base, "--logs", timeout=300)
    for expected in ("test-health", "test-smoke", "/healthz 200", "/readyz 200"):
        assert expected in ok.stdout, ok.stdout
    assert len(re.findall(r"Phase:\s+Succeeded", ok.stdout)) == 2, ok.stdout
    assert "apiserver-probe on real: succeeded" in ok.stdout, ok.stdout  # as `kubeprobe run --wait` says
    helm("upgrade", RELEASE, str(CHART), *base, "--reuse-values", "--set", "tests.smoke.cluster=silent")
    bad = helm("test", RELEASE, *base, "--logs", check=False, timeout=300)
    assert bad.returncode != 0, bad.stdout
    out = bad.stdout + bad.stderr
    assert "test-smoke" in out, out
    assert "apiserver-probe on silent: error" in out, out
    # The failed pod is kept for its logs; the next helm test replaces it (uninstall would leave it).
    helm("upgrade", RELEASE, str(CHART), *base, "--reuse-values", "--set", "tests.smoke.cluster=real")
    again = helm("test", RELEASE, *base, timeout=300)
    assert len(re.findall(r"Phase:\s+Succeeded", again.stdout)) == 2, again.stdout


async def _run_through_a_center_pod(
    real_sandbox: Sandbox, pod: dict[str, Any], host: str, image: str
) -> None:
    """Register the sandbox (its API server at the host address, as pods see it) and run a built-in
    probe as a pod through the center pod's pod runner."""
    config = yaml.safe_load(real_sandbox.kubeconfig.read_text())
    for cluster in config["clusters"]:
        port = make_url(cluster["cluster"]["server"].replace("https", "postgresql", 1)).port
        cluster["cluster"]["server"] = f"https://{host}:{port}"
    url = f"http://{pod['status']['podIP']}:8080"
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    ) as api:
        resp = await api.post("/api/v1/clusters", json={"name": "real", "kubeconfig": yaml.safe_dump(config)})
        assert resp.status_code == 201, resp.text
        for cluster in config["clusters"]:  # nothing listens there: helm test's failing smoke run
            cluster["cluster"]["server"] = f"https://{host}:1"
        silent = {"name": "silent", "kubeconfig": yaml.safe_dump(config)}
        resp = await api.post("/api/v1/clusters", json=silent)
        assert resp.status_code == 201, resp.text
        template = {  # an image case: the center pod runs it as a pod through the pod runner
            "name": "apiserver-in-pod",
            "kind": "probe",
            "image": image,
            "command": ["python", "-m", "kubeprobe.cases", "apiserver-probe"],
            "params_schema": builtin_registry().get("apiserver-probe").param_schema(),
            "timeout_seconds": 120,
            "rbac_rules": [r.model_dump(exclude_none=True) for r in PROBE_RULES],
        }
        for path, body in (
            ("templates", template),
            ("cases", {"name": "apiserver-in-pod", "template": "apiserver-in-pod"}),
        ):
            resp = await api.post(f"/api/v1/{path}", json=body)
            assert resp.status_code == 201, resp.text
        resp = await api.post("/api/v1/runs", json={"case": "apiserver-in-pod", "cluster": "real"})
        assert resp.status_code == 201, resp.text
        run_id = resp.json()["id"]

        async def run() -> dict[str, Any]:
            return dict((await api.get(f"/api/v1/runs/{run_id}")).json())

        done = await wait_for(  # ended, and the pod runner's view (its pod's end) recorded too
            run,
            lambda r: (
                r["state"] not in ("pending", "dispatched", "running") and "runner" in (r["details"] or {})
            ),
            timeout=180,
            what="the run and its pod's end",
        )
        assert done["state"] == "succeeded", (done["messages"], done.get("details"))
