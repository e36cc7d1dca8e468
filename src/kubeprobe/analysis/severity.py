"""How bad a diagnosed failure is: P1-P4 from cause, scope, persistence and declared severity."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kubeprobe.model import Severity


class Scope(StrEnum):
    CASE = "case"
    CLUSTER = "cluster"
    FLEET = "fleet"


class Action(StrEnum):
    SELF_HEAL = "self-heal"
    PAGE = "page"
    NOTIFY = "notify"
    RECORD = "record"


#: Causes that break the control plane for every user of the cluster.
CONTROL_PLANE = {
    "apiserver.unavailable",
    "etcd.unavailable",
    "etcd.quota",
    "scheduling.scheduler_down",
    "controller.stalled",
    "certificate.expired",
}
#: Causes with a known, low-risk remedy (handed to self-healing when enabled; a policy decides what).
HEALABLE = {"node.not_ready", "runtime.image_pull", "runtime.crash", "scheduling.taints"}


@dataclass(frozen=True)
class Verdict:
    priority: str  # P1 .. P4
    action: Action
    reason: str


def assess(
    cause: str,
    scope: Scope,
    consecutive_failures: int,
    binding_severity: Severity,
    *,
    self_healing: bool = False,
) -> Verdict:
    """P1 is the worst. Scores add up: cause weight, scope, persistence and declared severity."""
    score = {Severity.CRITICAL: 3, Severity.HIGH: 2, Severity.MEDIUM: 1}.get(binding_severity, 0)
    score += 2 if cause in CONTROL_PLANE else (0 if cause in {"unknown", "probe.timeout"} else 1)
    score += {Scope.CASE: 0, Scope.CLUSTER: 1, Scope.FLEET: 3}[scope]
    score += 1 if consecutive_failures >= 3 else 0
    priority = "P1" if score >= 7 else "P2" if score >= 5 else "P3" if score >= 3 else "P4"
    if self_healing and cause in HEALABLE and priority != "P1":
        action = Action.SELF_HEAL
    elif priority in ("P1", "P2"):
        action = Action.PAGE
    elif priority == "P3":
        action = Action.NOTIFY
    else:
        action = Action.RECORD
    reason = (
        f"{cause} on {scope} scope, {consecutive_failures} consecutive failure(s), "
        f"binding severity {binding_severity}"
    )
    return Verdict(priority, action, reason)
