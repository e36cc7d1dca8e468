"""The domain model: lifecycle transitions, severities, root-cause labels, public names."""

from __future__ import annotations

from kubeprobe import model
from kubeprobe.model import ROOT_CAUSES, Finding, ObjectRef, RunState, Severity
from kubeprobe.model.runs import can_transition


def test_public_names() -> None:
    assert sorted(model.__all__) == sorted(
        [
            "ROOT_CAUSES",
            "TERMINAL_STATES",
            "CaseKind",
            "CaseSpec",
            "Finding",
            "ObjectRef",
            "RootCause",
            "Run",
            "RunState",
            "Severity",
            "Step",
            "Trigger",
        ]
    )


def test_lifecycle_moves_forward_only() -> None:
    assert can_transition(RunState.PENDING, RunState.DISPATCHED)
    assert can_transition(RunState.RUNNING, RunState.TIMED_OUT)
    assert not can_transition(RunState.SUCCEEDED, RunState.FAILED)
    assert not can_transition(RunState.RUNNING, RunState.PENDING)
    assert all(s.terminal for s in (RunState.ERROR, RunState.CANCELLED))


def test_severity_order_and_causes() -> None:
    assert (
        sorted([Severity.LOW, Severity.CRITICAL, Severity.MEDIUM], key=lambda s: s.rank)[0]
        is Severity.CRITICAL
    )
    assert "scheduling.taints" in ROOT_CAUSES
    assert ROOT_CAUSES[-1] == "unknown"


def test_finding_serialises() -> None:
    finding = Finding("cert.expiry", Severity.HIGH, ObjectRef("Secret", "tls", "web"), "expires in 2d")
    assert finding.to_dict()["object"]["namespace"] == "web"
    assert str(finding.object) == "Secret/web/tls"
