"""What case code imports: report_success / report_failure, steps, params. Light: no server deps.

    from kubeprobe import sdk

    with sdk.step("create"):
        ...
    sdk.report_success()          # or sdk.report_failure(["pod x not running after 60s"])

The functions use one report per process; :class:`Report` is there for code that runs several.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kubeprobe.sdk.contract import ReportBody
from kubeprobe.sdk.params import ParamError, param
from kubeprobe.sdk.report import Destination, Report, ReportError, StepFailed, send

__all__ = [
    "Destination",
    "ParamError",
    "Report",
    "ReportError",
    "StepFailed",
    "add_finding",
    "metric",
    "param",
    "report_failure",
    "report_success",
    "step",
]

_report = Report()


@contextmanager
def step(name: str) -> Iterator[None]:
    """Time a step of this run; an exception inside fails the step and propagates."""
    with _report.step(name):
        yield


def metric(name: str, value: float) -> None:
    _report.metrics[name] = float(value)


def add_finding(check_id: str, severity: str, message: str, **fields: Any) -> None:
    """Record one finding (inspections): check id, severity, message, and object/hint fields."""
    _report.findings.append({"check_id": check_id, "severity": severity, "message": message, **fields})


def _deliver(body: ReportBody) -> None:
    send(body, Destination.from_env())


def report_success() -> None:
    """Report the run as succeeded, with the steps, findings and metrics recorded so far."""
    _deliver(_report.body(ok=True))


def report_failure(messages: list[str]) -> None:
    """Report the run as failed; ``messages`` say what is broken (at least one non-empty)."""
    _deliver(_report.body(ok=False, messages=messages))
