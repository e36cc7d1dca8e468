"""The local runner: built-in cases, entry points and commands as subprocesses under the contract."""

from __future__ import annotations

import datetime as dt
import sys
import uuid

import pytest

from kubeprobe.cases.registry import builtin_registry
from kubeprobe.model import CaseKind, CaseSpec
from kubeprobe.runners.base import RunnerError, RunRequest
from kubeprobe.runners.local import LocalRunner
from kubeprobe.sandbox.cluster import Sandbox
from tests.sdk.reportserver import report_server


def request(case: CaseSpec, url: str, kubeconfig: str = "", seconds: float = 60) -> RunRequest:
    return RunRequest(
        run_id=f"r-{uuid.uuid4().hex[:10]}",
        case=case,
        cluster="sandbox",
        kubeconfig=kubeconfig,
        report_url=url,
        report_token="tok",
        deadline=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds),
    )


def runner() -> LocalRunner:
    return LocalRunner(frozenset(t.name for t in builtin_registry().all()))


async def test_builtin_probe_runs_and_reports(sandbox: Sandbox) -> None:
    case = CaseSpec("pod-fast", "pod-lifecycle", CaseKind.PROBE, 60, params={"running_seconds": 20})
    with report_server() as got:
        end = await runner().run(request(case, got.url, sandbox.kubeconfig.read_text()))
    assert end.state == "exited", end
    assert end.exit_code == 0, end.logs
    assert got.reports[0]["ok"] is True


async def test_command_case_gets_the_contract_and_params() -> None:
    script = (
        "import os, json, urllib.request as u;"
        "m = os.environ['GREETING'] + ' ' + os.environ['KUBEPROBE_RUN_ID'];"
        "b = json.dumps({'ok': False, 'messages': [m],"
        " 'steps': [], 'findings': [], 'metrics': {}}).encode();"
        "u.urlopen(u.Request(os.environ['KUBEPROBE_REPORT_URL'], data=b, method='POST'))"
    )
    case = CaseSpec(
        "cmd",
        "custom",
        CaseKind.PROBE,
        30,
        params={"greeting": "hello"},
        command=(sys.executable, "-c", script),
    )
    with report_server() as got:
        req = request(case, got.url)
        end = await runner().run(req)
    assert end.state == "exited", end
    assert end.exit_code == 0, end
    assert got.reports[0]["messages"] == [f"hello {req.run_id}"]


async def test_deadline_kills_the_case() -> None:
    case = CaseSpec(
        "slow", "custom", CaseKind.PROBE, 1, command=(sys.executable, "-c", "import time; time.sleep(60)")
    )
    end = await runner().run(request(case, "http://127.0.0.1:1/", seconds=1))
    assert end.state == "timed_out"


async def test_unreachable_cluster_is_an_error() -> None:
    kubeconfig = """
apiVersion: v1
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
users: [{name: u, user: {token: x}}]
"""
    case = CaseSpec("pod", "pod-lifecycle", CaseKind.PROBE, 30)
    with report_server() as got:
        end = await runner().run(request(case, got.url, kubeconfig))
    assert end.state == "error"
    assert "could not run pod-lifecycle on cluster sandbox" in end.reason
    assert got.reports == []


async def test_nothing_to_run_is_refused() -> None:
    with pytest.raises(RunnerError, match="neither an entry point nor a command"):
        await runner().run(request(CaseSpec("x", "custom", CaseKind.PROBE, 5), "http://127.0.0.1:1/"))
