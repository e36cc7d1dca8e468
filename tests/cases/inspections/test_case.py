"""The catalog run as an inspection case by the in-process executor, as the center would run it."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from kubeprobe.cases.execute import Outcome, execute
from kubeprobe.cases.inspections import case as _case  # noqa: F401 (registers the template)
from kubeprobe.cases.registry import REGISTRY
from kubeprobe.kube.client import KubeClient
from kubeprobe.model import CaseKind


async def _run(kube: KubeClient, params: dict[str, Any]) -> Outcome:
    template = REGISTRY.get("inspect")
    assert template.kind is CaseKind.INSPECTION
    return await execute(
        template,
        params,
        kube,
        run_id=f"insp-{uuid.uuid4().hex[:8]}",
        cluster="sandbox",
        case="inspect",
        deadline=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2),
    )


async def test_every_check_runs_as_a_case(kube: KubeClient) -> None:
    failed = await _run(kube, {"checks": ["etcd.backup-coverage"], "fail_on": "high"})
    assert failed.state == "failed"
    assert [f["check_id"] for f in failed.body["findings"]] == ["etcd.backup-coverage"]
    assert "etcd.backup-coverage" in failed.body["messages"][0]
    checks = ["node.pressure", "cert.apiserver-serving", "cert.kubeconfig-client"]
    quiet = await _run(kube, {"checks": checks, "settings": {"cert_warn_days": 1}})
    assert quiet.state == "succeeded", quiet.body
    assert quiet.body["metrics"]["objects"] > 0


async def test_bad_parameters_are_an_error_not_a_finding(kube: KubeClient) -> None:
    for params in ({"checks": ["no.such"]}, {"exclude": ["colour=red"]}, {"settings": {"colour": 1}}):
        outcome = await _run(kube, params)
        assert outcome.state == "error", params
        assert outcome.body["findings"] == []
