"""The SDK: steps, report bodies, typed parameters, delivery with retries until the deadline."""

from __future__ import annotations

import datetime as dt

import pytest

from kubeprobe.sdk import ParamError, Report, ReportError, param
from kubeprobe.sdk.report import Destination, send
from tests.sdk.reportserver import report_server


def _dest(url: str, seconds: float = 30) -> Destination:
    return Destination(url, "tok-1", dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds), "r1")


def test_step_records_success_and_failure() -> None:
    report = Report()
    with report.step("create"):
        pass
    with pytest.raises(ValueError, match="boom"), report.step("wait"):
        raise ValueError("boom")
    assert [(s["name"], s["ok"], s["error"]) for s in report.steps] == [
        ("create", True, None),
        ("wait", False, "boom"),
    ]
    assert all(s["duration_ms"] >= 0 for s in report.steps)


def test_failure_body_always_has_a_message() -> None:
    report = Report()
    with pytest.raises(RuntimeError), report.step("scale-up"):
        raise RuntimeError("pod x-1 not running")
    body = report.body(ok=False)
    assert body["messages"] == ["step scale-up failed: pod x-1 not running"]
    assert report.body(ok=False, messages=["", "  "])["messages"] == [
        "step scale-up failed: pod x-1 not running"
    ]


def test_typed_params() -> None:
    env = {"REPLICAS": "3", "DRY_RUN": "yes", "SELECTOR": '{"a": "b"}', "RATIO": "x"}
    assert param("replicas", int, 1, env=env) == 3
    assert param("dry-run", bool, False, env=env) is True
    assert param("selector", dict, {}, env=env) == {"a": "b"}
    assert param("missing", int, 7, env=env) == 7
    with pytest.raises(ParamError, match=r"RATIO=.x..*not a valid float"):
        param("ratio", float, 1.0, env=env)
    with pytest.raises(ParamError, match="required: set NAMESPACE"):
        param("namespace", str, env=env)


def test_destination_from_env_names_what_is_missing() -> None:
    with pytest.raises(ReportError, match="KUBEPROBE_REPORT_URL, KUBEPROBE_REPORT_TOKEN"):
        Destination.from_env({"KUBEPROBE_DEADLINE": "2030-01-01T00:00:00Z"})
    with pytest.raises(ReportError, match="not an RFC 3339 time"):
        Destination.from_env(
            {"KUBEPROBE_REPORT_URL": "u", "KUBEPROBE_REPORT_TOKEN": "t", "KUBEPROBE_DEADLINE": "soon"}
        )


def test_send_retries_5xx_then_delivers_with_the_run_token() -> None:
    with report_server() as got:
        got.answers = [503, 502]
        send(Report().body(ok=True), _dest(got.url), first_backoff=0.01)
    assert got.reports == [{"ok": True, "messages": [], "steps": [], "findings": [], "metrics": {}}]
    assert got.headers[0]["Authorization"] == "Bearer tok-1"


def test_send_gives_up_at_once_on_410() -> None:
    with report_server() as got:
        got.answers = [410]
        with pytest.raises(ReportError, match="refused: HTTP 410"):
            send(Report().body(ok=True), _dest(got.url), first_backoff=0.01)


def test_send_gives_up_at_the_deadline() -> None:
    with report_server() as got:
        got.answers = [503] * 1000
        with pytest.raises(ReportError, match="not delivered before the deadline"):
            send(Report().body(ok=True), _dest(got.url, seconds=0.5), first_backoff=0.05)
