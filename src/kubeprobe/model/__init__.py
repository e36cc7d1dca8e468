"""Domain types shared by all layers: Run, Step, Finding, Severity, RootCause, CaseSpec. No I/O."""

from kubeprobe.model.cases import CaseKind, CaseSpec
from kubeprobe.model.causes import ROOT_CAUSES, RootCause
from kubeprobe.model.findings import Finding, ObjectRef, Severity
from kubeprobe.model.runs import TERMINAL_STATES, Run, RunState, Step, Trigger

__all__ = [
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
