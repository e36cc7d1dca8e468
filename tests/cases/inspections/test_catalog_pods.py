"""Pod checks on crafted pods."""

from __future__ import annotations

from kubeprobe.cases.inspections.catalog.pods import (
    PodCrashLoopCheck,
    PodOnMissingNodeCheck,
    PodStuckPendingCheck,
    PodStuckTerminatingCheck,
)
from kubeprobe.kube.collect import NODES, PODS
from tests.cases.inspections.crafted import names, obj, run, ts


def test_pod_on_missing_node() -> None:
    found = run(
        PodOnMissingNodeCheck,
        [
            (NODES, obj("n1", None)),
            (PODS, obj("ok", spec={"nodeName": "n1"})),
            (PODS, obj("ghost", spec={"nodeName": "gone"})),
            (PODS, obj("unscheduled", spec={})),
        ],
    )
    assert names(found) == ["ghost"]
    assert "gone" in found[0].message


def test_stuck_pending_only_after_threshold() -> None:
    found = run(
        PodStuckPendingCheck,
        [
            (PODS, obj("old", status={"phase": "Pending"})),
            (PODS, obj("new", metadata={"creationTimestamp": ts(60)}, status={"phase": "Pending"})),
            (PODS, obj("running", status={"phase": "Running"})),
            (PODS, obj("deleting", metadata={"deletionTimestamp": ts(10)}, status={"phase": "Pending"})),
        ],
    )
    assert names(found) == ["old"]


def test_stuck_terminating() -> None:
    found = run(
        PodStuckTerminatingCheck,
        [
            (PODS, obj("stuck", metadata={"deletionTimestamp": ts(7200), "finalizers": ["x/y"]})),
            (PODS, obj("leaving", metadata={"deletionTimestamp": ts(5)})),
            (PODS, obj("alive")),
        ],
    )
    assert names(found) == ["stuck"]
    assert "x/y" in found[0].message


def test_crash_looping() -> None:
    def status(reason: str | None, restarts: int) -> dict[str, object]:
        state = {"waiting": {"reason": reason}} if reason else {"running": {}}
        return {"containerStatuses": [{"name": "c", "restartCount": restarts, "state": state}]}

    found = run(
        PodCrashLoopCheck,
        [
            (PODS, obj("loop", status=status("CrashLoopBackOff", 2))),
            (PODS, obj("restarts", status=status(None, 9))),
            (PODS, obj("fine", status=status(None, 1))),
        ],
    )
    assert names(found) == ["loop", "restarts"]
    assert {f.severity.value for f in found} == {"high", "medium"}
