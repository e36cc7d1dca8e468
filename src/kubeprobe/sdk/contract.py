"""The case↔center contract of DESIGN.md: environment variable names and the report body."""

from __future__ import annotations

from typing import Any, TypedDict

RUN_ID = "KUBEPROBE_RUN_ID"
REPORT_URL = "KUBEPROBE_REPORT_URL"
REPORT_TOKEN = "KUBEPROBE_REPORT_TOKEN"
DEADLINE = "KUBEPROBE_DEADLINE"
CLUSTER = "KUBEPROBE_CLUSTER"
CASE = "KUBEPROBE_CASE"

#: Kuberhealthy's names, set too, so existing Kuberhealthy check images run unchanged.
KH_REPORTING_URL = "KH_REPORTING_URL"
KH_RUN_UUID = "KH_RUN_UUID"
KH_CHECK_RUN_DEADLINE = "KH_CHECK_RUN_DEADLINE"
KH_POD_NAMESPACE = "KH_POD_NAMESPACE"


class StepReport(TypedDict):
    name: str
    ok: bool
    duration_ms: float
    error: str | None


class ReportBody(TypedDict):
    """``ok: false`` needs at least one non-empty message."""

    ok: bool
    messages: list[str]
    steps: list[StepReport]
    findings: list[dict[str, Any]]
    metrics: dict[str, float]


def param_env_name(name: str) -> str:
    """The environment variable of a rendered parameter: its schema name, upper-cased, ``-`` → ``_``."""
    return name.upper().replace("-", "_")
