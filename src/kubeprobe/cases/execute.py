"""Running one case in this process: render parameters, anchor the run, call the case, classify the end.

The outcome separates what the case proved (``failed``) from what stopped KubeProbe from running
it (``error``: cluster unreachable, bad credentials, bad parameters) and from running out of time
(``timed_out``), as the run lifecycle of DESIGN.md requires.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from kubeprobe.cases.context import CaseContext, ProbeFailure, create_anchor, ensure_namespace
from kubeprobe.cases.registry import CaseTemplate
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.errors import KubeAPIError, KubeConfigError, KubeConnectionError, KubeError
from kubeprobe.sdk import Report
from kubeprobe.sdk.contract import ReportBody, param_env_name

log = logging.getLogger(__name__)
OutcomeState = Literal["succeeded", "failed", "error", "timed_out"]


@dataclass(frozen=True)
class Outcome:
    state: OutcomeState
    body: ReportBody
    reason: str = ""


def params_from_env(template: CaseTemplate, env: Mapping[str, str]) -> dict[str, Any]:
    """A template's parameters from their environment variables (JSON where it parses)."""
    values: dict[str, Any] = {}
    for field in template.params_model.model_fields:
        raw = env.get(param_env_name(field))
        if raw is None:
            continue
        try:
            values[field] = json.loads(raw)
        except ValueError:
            values[field] = raw
    return values


def _failed_step(report: Report) -> str:
    failed = [s["name"] for s in report.steps if not s["ok"]]
    return failed[-1] if failed else "setup"


async def execute(
    template: CaseTemplate,
    params: dict[str, Any],
    kube: KubeClient,
    *,
    run_id: str,
    cluster: str,
    case: str,
    deadline: dt.datetime,
) -> Outcome:
    """Run ``template`` against ``kube`` until ``deadline``; never raises for case problems."""
    report = Report()
    try:
        rendered = template.render(params)
    except ValidationError as exc:
        errors = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return Outcome(
            "error", report.body(False, [f"bad parameters for {template.name}: {errors}"]), "params"
        )
    ctx = CaseContext(kube, run_id, cluster, case, deadline, report)
    label = f"{template.name} {template.kind}"
    try:
        async with asyncio.timeout(max(ctx.seconds_left(), 0.001)):
            try:
                await ensure_namespace(kube, ctx.namespace)
                ctx.owner = await create_anchor(kube, ctx.namespace, run_id, case)
                await template.func(ctx, rendered)
            finally:
                if ctx.owner:
                    with contextlib.suppress(KubeError):
                        await kube.delete(
                            f"/api/v1/namespaces/{ctx.namespace}/configmaps/{ctx.owner['name']}"
                        )
    except ProbeFailure as exc:
        message = f"{label} failed at {_failed_step(report)}: {exc}"
        return Outcome("failed", report.body(False, [message]))
    except TimeoutError:
        message = f"{label} did not finish before its deadline (at {_failed_step(report)})"
        return Outcome("timed_out", report.body(False, [message]), "deadline")
    except (KubeConnectionError, KubeConfigError) as exc:
        message = f"could not run {template.name} on cluster {cluster}: {exc}"
        log.warning("run %s case %s cluster %s: %s", run_id, case, cluster, message)
        return Outcome("error", report.body(False, [message]), "unreachable")
    except KubeAPIError as exc:
        message = f"{label} failed at {_failed_step(report)}: the API server said {exc}"
        return Outcome("failed", report.body(False, [message]))
    return Outcome("succeeded", report.body(True))
