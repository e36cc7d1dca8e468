"""What the analysis reads of a run: a run that ended in error is read from its log's tail too."""

from __future__ import annotations

import dataclasses
import datetime as dt

from kubeprobe.center.services.analysis import _messages
from kubeprobe.center.store.analysis import RunContext

NOW = dt.datetime(2026, 12, 3, tzinfo=dt.UTC)
FIELDS = {f.name for f in dataclasses.fields(RunContext)}


def context(messages: tuple[str, ...], logs: str, state: str = "error") -> RunContext:
    values = {
        "state": state,
        "messages": messages,
        "steps": (),
        "details": {"runner": {"logs": logs}},
        "created": NOW,
        "finished": NOW,
        "params": {},
        "cluster_labels": {},
        "credentials": b"",
    }
    defaults = {name: 0 if name.endswith("_id") else None if name in ("entry_point", "image") else ""
                for name in FIELDS - set(values)}  # fmt: skip
    return RunContext(**values, **defaults)


def test_a_silent_pod_is_read_from_its_logs_tail() -> None:
    said = "WARNING run x: could not run pod-lifecycle on cluster real: https://10.96.0.1:443: timed out"
    logs = f"starting\n\n{said}\n"
    got = _messages(context(("pod kp-run-1 failed (exit code 3)",), logs))
    assert got == (
        "pod kp-run-1 failed (exit code 3)",
        "starting",
        "WARNING run x: could not run pod-lifecycle on cluster real: https://10.96.0.1:443: timed out",
    )


def test_a_run_that_reported_is_read_from_its_report_only() -> None:
    assert _messages(context(("pod-lifecycle probe failed at create",), "noise\n", state="failed")) == (
        "pod-lifecycle probe failed at create",
    )
