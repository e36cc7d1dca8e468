"""Fleet drift between two real clusters: the test session's sandbox and a second one."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from kubeprobe.cases.inspections.check import CheckContext
from kubeprobe.cases.inspections.engine import compare_fleet, inspect
from kubeprobe.cases.inspections.registry import CATALOG
from kubeprobe.cases.inspections.settings import InspectionSettings
from kubeprobe.cli.main import app
from kubeprobe.kube.client import KubeClient
from kubeprobe.sandbox.build import Builder
from kubeprobe.sandbox.cluster import Sandbox

FLOWSCHEMAS = "/apis/flowcontrol.apiserver.k8s.io/v1/flowschemas"
RISK = "ConfigMap/kube-system/insp-rate-limits"


@pytest.fixture(scope="module")
def second() -> Iterator[Sandbox]:
    box = Sandbox(f"insp-fleet-{uuid.uuid4().hex[:6]}")
    asyncio.run(box.up(Builder().build(), node_count=1))
    try:
        yield box
    finally:
        box.down()


def _flowschema(name: str, precedence: int) -> dict[str, object]:
    return {
        "apiVersion": "flowcontrol.apiserver.k8s.io/v1",
        "kind": "FlowSchema",
        "metadata": {"name": name},
        "spec": {
            "priorityLevelConfiguration": {"name": "workload-low"},
            "matchingPrecedence": precedence,
            "rules": [
                {
                    "subjects": [{"kind": "Group", "group": {"name": "insp:batch"}}],
                    "resourceRules": [
                        {"verbs": ["list"], "apiGroups": ["*"], "resources": ["*"], "namespaces": ["*"]}
                    ],
                }
            ],
        },
    }


async def test_drift_between_clusters(kube: KubeClient, sandbox: Sandbox, second: Sandbox) -> None:
    name = f"insp-drift-{uuid.uuid4().hex[:6]}"
    checks = CATALOG.select(["config.drift", "config.risk-control-missing"])
    settings = InspectionSettings(risk_control=(RISK,))
    async with second.client() as other:
        try:
            # Both clusters have the schema and the risk-control ConfigMap, but with other settings.
            await kube.create(FLOWSCHEMAS, _flowschema(name, 900))
            await other.create(FLOWSCHEMAS, _flowschema(name, 500))
            await kube.create(
                "/api/v1/namespaces/kube-system/configmaps",
                {"metadata": {"name": "insp-rate-limits"}, "data": {"qps": "50"}},
            )
            reports = [
                await inspect(kube, checks, CheckContext("a", settings=settings)),
                await inspect(other, checks, CheckContext("b", settings=settings)),
            ]
            fleet = compare_fleet(reports, checks, CheckContext("fleet", settings=settings), baseline="a")
            drift = {(f.cluster, f.details["key"], f.details["value"] == "<missing>") for f in fleet}
            assert ("b", f"FlowSchema/{name}", False) in drift
            assert ("b", RISK, True) in drift
            assert not [f for f in fleet if f.cluster == "a"]
            missing = [f for f in reports[1].findings if f.check_id == "config.risk-control-missing"]
            assert [f.object.name for f in missing if f.object] == ["insp-rate-limits"]
            assert [f for f in reports[0].findings if f.check_id == "config.risk-control-missing"] == []

            # The same comparison from the command line, then once the clusters agree again.
            args = [
                "inspect",
                "--sandbox",
                sandbox.name,
                "--sandbox",
                second.name,
                "-c",
                "config.drift",
                "--baseline",
                sandbox.name,
                "-o",
                "json",
            ]
            doc = json.loads(await asyncio.to_thread(lambda: CliRunner().invoke(app, args).output))
            assert any(f["details"]["key"] == f"FlowSchema/{name}" for f in doc["fleet_findings"])
            await other.patch(f"{FLOWSCHEMAS}/{name}", {"spec": {"matchingPrecedence": 900}})
            await other.create(
                "/api/v1/namespaces/kube-system/configmaps",
                {"metadata": {"name": "insp-rate-limits"}, "data": {"qps": "50"}},
            )
            reports = [
                await inspect(kube, checks, CheckContext("a", settings=settings)),
                await inspect(other, checks, CheckContext("b", settings=settings)),
            ]
            fleet = compare_fleet(reports, checks, CheckContext("fleet", settings=settings), baseline="a")
            assert [f for f in fleet if name in f.message or RISK in f.message] == []
        finally:
            await kube.delete(f"{FLOWSCHEMAS}/{name}")
            await kube.delete("/api/v1/namespaces/kube-system/configmaps/insp-rate-limits")
