"""The resident operator as a user deploys it: the manifests of ``kubeprobe operator install
--deployment`` (CRD, peering, RBAC, the Deployment, with the image, cluster name, center URL and
token Secret set as ``deployment.yaml`` asks), its pod running the KubeProbe image on the real node
and reporting over the pod network to a center on this machine.

No report is lost:

- **its pod deleted**: the pod stops gracefully (SIGTERM → kopf stops the config's daemon → the
  loop's open summary period is closed at the stop and the outbox flushed, at most 5 s); the
  ReplicaSet's new pod takes the config over. The old pod's summaries reach up to the deletion,
  the new pod's begin at its first run; between them no pod probed, so no result existed.
- **the center down for a minute** (the issue's minute, not shortened): the center's process
  (``kubeprobe server`` on SQLite) is killed with SIGKILL, whatever it was doing, and started
  again on its port and database after the minute, while the operator probes on; its reports wait
  in the outbox (SQLite on the pod's emptyDir) and are sent in order when the center is back. Each
  report has an idempotency key made when it was written; the center stores a key once, so a
  batch it stored but could not answer before it died is counted once when sent again.

Evidence: the summaries of the config tile time — inside one process each period starts exactly
where the previous one ended (``Stats(start=end)``), so a missing or doubled report shows as a
gap or an overlap — with exactly one break, at the pod deletion; each summary counts about one run
per second of its period; the center holds one run per report; the pod's log shows the reports
that waited.

Limit (documented in the README): the outbox lives in the pod's emptyDir, which survives a
container restart (kill -9, OOM) but not the pod. A pod deleted *while the center is unreachable*
loses what waited in its outbox after its 5 s flush fails, and a pod killed without a graceful stop
(node lost) loses its open summary period.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio

from kubeprobe.kube.client import KubeClient, Obj
from kubeprobe.kube.errors import KubeError, NotFoundError
from kubeprobe.kube.waiting import WaitTimeout, wait_for
from kubeprobe.operator.install import MANIFESTS, apply, install, manifest
from kubeprobe.sandbox.cluster import Sandbox
from tests.operator.conftest import CenterProcess
from tests.operator.operator_process import create_config, drop_finalizers, get_config, probe_config

NS = "kubeprobe-system"  # where the manifests put the operator
DEPLOYMENT = f"/apis/apps/v1/namespaces/{NS}/deployments/kubeprobe-operator"
PODS = f"/api/v1/namespaces/{NS}/pods"
SELECTOR = "app.kubernetes.io/name=kubeprobe-operator"
CLUSTER = "real-resident"
OUTAGE_S = 60.0  # the "center down for a minute"
INTERVAL_S, SUMMARY_S = 1, 10


def _t(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def operator_deployment(image: str, center_url: str) -> Obj:
    """``deployment.yaml`` with what its header asks a user to set, on the real node, one replica
    (two replicas share the work by peering: the standby's takeover is tests/operator's)."""
    (dep,) = manifest(MANIFESTS[-1])
    dep = copy.deepcopy(dep)
    dep["spec"]["replicas"] = 1
    pod = dep["spec"]["template"]["spec"]
    pod["nodeSelector"] = {"type": "real"}
    pod["tolerations"] = [{"key": "kubeprobe.io/real-node", "operator": "Exists"}]
    (container,) = pod["containers"]
    container.update(image=image, imagePullPolicy="Never")
    container["resources"]["requests"]["cpu"] = "50m"
    values = {"KUBEPROBE_OPERATOR_CLUSTER": CLUSTER, "KUBEPROBE_OPERATOR_CENTER_URL": center_url}
    for env in container["env"]:
        if env["name"] in values:
            env["value"] = values[env["name"]]
    return dep


@pytest_asyncio.fixture
async def center(tmp_path: Path, real_sandbox: Sandbox) -> AsyncIterator[CenterProcess]:
    """``kubeprobe server`` at the sandbox's host address (where pods reach this machine)."""
    server = CenterProcess(tmp_path, str(real_sandbox.real_nodes["host_ip"]))
    await server.start()
    try:
        await server.register(CLUSTER, real_sandbox.kubeconfig.read_text())
        yield server
    finally:
        server.kill()


async def _operator_token(center: CenterProcess) -> str:
    async with center.client() as c:
        resp = await c.post("/api/v1/tokens", json={"name": "resident-real", "role": "operator"})
        assert resp.status_code == 201, resp.text
        return str(resp.json()["token"])


async def _running_pod(kube: KubeClient, not_named: str = "") -> Obj:
    async def pods() -> list[Obj]:
        items = await kube.list_all(PODS, labelSelector=SELECTOR)
        return [
            p
            for p in items
            if p["metadata"]["name"] != not_named
            and not p["metadata"].get("deletionTimestamp")
            and p["status"].get("phase") == "Running"
        ]

    try:
        (pod,) = await wait_for(pods, lambda ps: len(ps) == 1, timeout=180, what="the operator pod Running")
    except WaitTimeout:
        items = await kube.list_all(PODS, labelSelector=SELECTOR)
        events = await kube.list_all(f"/api/v1/namespaces/{NS}/events")
        seen = [(p["metadata"]["name"], p["status"]) for p in items]
        raise AssertionError(f"pods: {seen}\nevents: {[e.get('message') for e in events][-15:]}") from None
    return pod


async def _summaries_after(center: CenterProcess, at: dt.datetime) -> list[dict[str, Any]]:
    """Wait until a summary whose period starts after ``at`` arrived (all older ones are in: the
    outbox is sent in order); return every summary, oldest first."""

    async def summaries() -> list[dict[str, Any]]:
        reports = await center.reports(kind="summary")
        return sorted((r["body"] for r in reports), key=lambda b: b["period_start"])

    return await wait_for(
        summaries,
        lambda s: bool(s) and _t(s[-1]["period_start"]) > at,
        timeout=180,
        interval=0.5,
        what=f"a summary begun after {at:%H:%M:%S}",
    )


async def test_resident_operator_deployment_loses_no_report_on_pod_deletion_or_center_outage(
    real_sandbox: Sandbox,
    real_kube: KubeClient,
    real_namespace: str,
    kubeprobe_image: str,
    center: CenterProcess,
) -> None:
    kube = real_kube
    await install(kube)  # `kubeprobe operator install`: CRDs, peering, RBAC
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "kubeprobe-operator", "namespace": NS},
        "stringData": {"center-token": await _operator_token(center)},
    }
    await kube.create(f"/api/v1/namespaces/{NS}/secrets", secret)
    marks: dict[str, dt.datetime] = {}
    try:
        await apply(kube, operator_deployment(kubeprobe_image, center.url))
        spec = {"intervalSeconds": INTERVAL_S, "timeoutSeconds": 1, "summaryIntervalSeconds": SUMMARY_S}
        await create_config(kube, real_namespace, probe_config("api-read", "apiserver-read", **spec))
        first = await _running_pod(kube)
        assert first["spec"]["nodeName"] == "real-node-0"
        await _summaries_after(center, dt.datetime.min.replace(tzinfo=dt.UTC))

        marks["pod deleted"] = _now()  # graceful: SIGTERM, the open period closed, the outbox flushed
        await kube.delete(f"{PODS}/{first['metadata']['name']}")
        second = await _running_pod(kube, not_named=first["metadata"]["name"])
        await _summaries_after(center, marks["pod deleted"])

        center.kill()  # SIGKILL: a batch in flight may be stored without its answer (sent again)
        marks["center down"] = _now()
        runs_down = await _runs(kube, real_namespace)
        # The operator probes on for the minute (its status keeps counting runs); reports wait.
        await wait_for(
            lambda: _runs(kube, real_namespace),
            lambda _: _now() >= marks["center down"] + dt.timedelta(seconds=OUTAGE_S),
            timeout=OUTAGE_S + 30,
            interval=5,
            what="the minute without a center",
        )
        runs_up = await _runs(kube, real_namespace)
        await center.start()
        marks["center up"] = _now()
        assert runs_up - runs_down >= OUTAGE_S / INTERVAL_S / 2, (runs_down, runs_up)
        await _summaries_after(center, marks["center up"])
        log = str(await kube.request("GET", f"{PODS}/{second['metadata']['name']}/log"))
        assert "reports kept in the buffer" in log, log[-3000:]

        marks["deployment deleted"] = _now()
        await kube.delete(DEPLOYMENT)
        await _no_pod(kube)
    except (AssertionError, WaitTimeout) as exc:
        raise AssertionError(f"{exc}\n{await _logs(kube)}") from exc
    finally:
        await _remove(kube, real_namespace)
    await _check_reports(center, real_namespace, marks)


async def _logs(kube: KubeClient) -> str:
    """The operator pods' log tails (for a failure's message)."""
    out = []
    for pod in await kube.list_all(PODS, labelSelector=SELECTOR):
        name = pod["metadata"]["name"]
        with contextlib.suppress(KubeError):
            out.append(f"--- {name}:\n{str(await kube.request('GET', f'{PODS}/{name}/log'))[-4000:]}")
    return "\n".join(out)


async def _no_pod(kube: KubeClient) -> None:
    await wait_for(
        lambda: kube.list_all(PODS, labelSelector=SELECTOR), lambda p: not p, timeout=120, what="no pod"
    )


async def _runs(kube: KubeClient, namespace: str) -> int:
    status = (await get_config(kube, namespace, "api-read")).get("status") or {}
    return int(status.get("runs") or 0)


async def _remove(kube: KubeClient, namespace: str) -> None:
    for path in (DEPLOYMENT, f"/api/v1/namespaces/{NS}/secrets/kubeprobe-operator"):
        with contextlib.suppress(NotFoundError):
            await kube.delete(path)
    await _no_pod(kube)
    await drop_finalizers(kube, namespace)


async def _check_reports(center: CenterProcess, namespace: str, marks: dict[str, dt.datetime]) -> None:
    # (A cluster-wide operator also probes configs other tests left in a shared sandbox.)
    reports = [r for r in await center.reports() if r["config"] == f"{namespace}/api-read"]
    assert reports
    assert len({r["key"] for r in reports}) == len(reports)
    assert await center.run_count(reports[0]["case"]) == len(reports)  # one run per report
    bodies = [r["body"] for r in reports]
    summaries = sorted((b for b in bodies if b["kind"] == "summary"), key=lambda b: b["period_start"])
    breaks = []
    for a, b in itertools.pairwise(summaries):
        end, start = _t(a["period_end"]), _t(b["period_start"])
        assert start >= end, f"summaries overlap (a result counted twice): {a} / {b}"
        if start > end:
            breaks.append((a, b))
    # Inside a process the periods tile time exactly; the one break is the pod's replacement.
    assert len(breaks) == 1, [(a["period_end"], b["period_start"]) for a, b in breaks]
    ((old_last, new_first),) = breaks
    # The deleted pod's open period went out at its stop (after the deletion): it ends at the
    # stop, or at the last run when none came after (without the close it could end a whole
    # summary interval earlier: those runs were lost).
    last_run = dt.timedelta(seconds=INTERVAL_S + 1)
    assert _t(old_last["period_end"]) >= marks["pod deleted"] - last_run, ("open period lost", old_last)
    assert _t(new_first["period_start"]) < marks["center down"]
    # The outage lies inside the new pod's unbroken chain, and the last period reaches the end.
    assert _t(summaries[-1]["period_end"]) >= marks["deployment deleted"] - last_run
    for s in summaries:
        seconds = (_t(s["period_end"]) - _t(s["period_start"])).total_seconds()
        assert seconds / INTERVAL_S - 2 <= s["runs"] <= seconds / INTERVAL_S + 2, s
    waited = [s for s in summaries if marks["center down"] <= _t(s["period_end"]) <= marks["center up"]]
    assert len(waited) >= OUTAGE_S / SUMMARY_S - 2, len(waited)
    states = sorted((b for b in bodies if b["kind"] == "state"), key=lambda b: b["at"])
    for a, b in itertools.pairwise(states):
        assert b["previous"] in (a["state"], "unknown"), f"state chain broken: {a} / {b}"
    outage = sum(s["runs"] for s in waited)
    gap = (_t(new_first["period_start"]) - _t(old_last["period_end"])).total_seconds()
    print(
        f"{len(reports)} reports each once; {len(waited)} summaries ({outage} runs) made in the"
        f" outage; {gap:.1f} s without probing while the pod was replaced"
    )
