"""Builders of signals for the alerting tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kubeprobe.alerting.signals import Outcome, Signal

T0 = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def signal(
    cluster: str = "c1",
    case: str = "pod",
    outcome: Outcome = Outcome.FAILED,
    *,
    cause: str = "scheduling.scheduler_down",
    minutes: float = 0,
    **extra: Any,
) -> Signal:
    values: dict[str, Any] = {
        "run_id": f"run-{cluster}-{case}-{minutes}",
        "step": "scheduled",
        "message": "pod not scheduled within 30s",
        "confidence": 0.9,
        "priority": "P2",
        "action": "notify",
        "run_url": f"http://center/runs/run-{cluster}-{case}",
        "cluster_labels": {"env": "prod"},
        "at": T0 + dt.timedelta(minutes=minutes),
    }
    values.update(extra)
    return Signal(
        cluster=cluster,
        case=case,
        outcome=outcome,
        cause=cause,
        **values,
    )
