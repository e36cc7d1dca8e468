"""The catalog as a case of the center: template ``inspect``, one run sweeps the chosen checks.

Any check (or a glob of them) runs as an inspection case by naming it in ``checks``. Findings go
into the run's report; findings at or above ``fail_on`` fail the run; a check that could not run
is named in the messages. Bad parameters (unknown check, bad exclusion or setting) are refused
when the parameters are rendered, so the run ends in ``error``, never with a finding.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator

from kubeprobe.cases.context import CaseContext, ProbeFailure
from kubeprobe.cases.inspections.check import CheckContext
from kubeprobe.cases.inspections.engine import inspect
from kubeprobe.cases.inspections.errors import InspectionError
from kubeprobe.cases.inspections.exclusions import Exclusion
from kubeprobe.cases.inspections.registry import CATALOG
from kubeprobe.cases.inspections.settings import load_settings
from kubeprobe.cases.registry import REGISTRY
from kubeprobe.model import Severity


class InspectionParams(BaseModel):
    checks: list[str] = Field(default_factory=list, description="Check ids or globs (empty: all).")
    exclude: list[str] = Field(default_factory=list, description="Exclusions: check=ID,namespace=NS,...")
    settings: dict[str, Any] = Field(default_factory=dict, description="Thresholds and inputs of the checks.")
    fail_on: Severity = Field(Severity.HIGH, description="Findings at least this severe fail the run.")

    @field_validator("checks")
    @classmethod
    def _known_checks(cls, value: list[str]) -> list[str]:
        try:
            CATALOG.select(value)
        except InspectionError as exc:
            raise ValueError(str(exc)) from exc
        return value

    @field_validator("exclude")
    @classmethod
    def _exclusions(cls, value: list[str]) -> list[str]:
        try:
            for text in value:
                Exclusion.parse(text)
        except InspectionError as exc:
            raise ValueError(str(exc)) from exc
        return value

    @field_validator("settings")
    @classmethod
    def _settings(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            load_settings(None, value)
        except InspectionError as exc:
            raise ValueError(str(exc)) from exc
        return value


@REGISTRY.inspection("inspect", params=InspectionParams, timeout_seconds=900)
async def inspect_case(ctx: CaseContext, params: InspectionParams) -> None:
    """Sweep the cluster once with the chosen inspection checks and report their findings."""
    check_ctx = CheckContext(
        cluster=ctx.cluster, settings=load_settings(None, params.settings), connection=ctx.kube.conn
    )
    with ctx.report.step("sweep"):
        report = await inspect(
            ctx.kube,
            CATALOG.select(params.checks),
            check_ctx,
            exclusions=[Exclusion.parse(t) for t in params.exclude],
        )
    # the run knows its cluster: the report's findings have no such field (the center refuses it)
    ctx.report.findings.extend(
        {k: v for k, v in f.to_dict().items() if k != "cluster"} for f in report.findings
    )
    ctx.report.metrics.update(
        {"sweep_s": round(report.seconds, 3), "objects": report.objects, "findings": len(report.findings)}
    )
    ctx.report.messages.extend(f"check {cid} could not run: {why}" for cid, why in report.errors.items())
    bad = [f for f in report.findings if f.severity.rank <= params.fail_on.rank]
    if bad:
        first = bad[0]
        raise ProbeFailure(
            f"{len(bad)} finding(s) at or above {params.fail_on}; first: {first.check_id} "
            f"{first.object or ''}: {first.message}"
        )
