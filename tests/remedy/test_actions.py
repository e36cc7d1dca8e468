"""The action registry and what every action declares (no cluster needed)."""

from __future__ import annotations

import pytest

from kubeprobe.remedy.actions import ACTIONS
from kubeprobe.remedy.actions.base import ActionRegistry, DuplicateActionError
from kubeprobe.remedy.actions.nodes import selector_matches
from kubeprobe.remedy.actions.pods import PodDeleteAction, pod_trouble
from kubeprobe.remedy.defender import RiskTier, Target
from kubeprobe.remedy.errors import ActionError


def test_every_action_is_registered_with_a_tier_and_a_target_kind() -> None:
    assert ACTIONS.names() == [
        "control-plane-restart",
        "deployment-rollback",
        "node-drain",
        "node-uncordon",
        "pod-delete",
        "restart-node-component",
    ]
    for name in ACTIONS.names():
        cls = ACTIONS.get(name)
        assert isinstance(cls.tier, RiskTier)
        assert cls.kind in {"Pod", "Node", "Deployment", "Component"}
        assert cls.description


def test_a_name_registered_twice_is_refused() -> None:
    registry = ActionRegistry()
    registry.register(PodDeleteAction)

    class Other(PodDeleteAction):
        pass

    with pytest.raises(DuplicateActionError):
        registry.register(Other)
    with pytest.raises(ActionError, match="unknown action"):
        registry.get("reboot-everything")


def test_an_action_refuses_a_target_of_another_kind() -> None:
    with pytest.raises(ActionError, match="acts on a Pod"):
        PodDeleteAction(Target("c1", "Node", "n1"))


def test_pod_trouble_names_crash_loops_and_stuck_pods() -> None:
    crash = {
        "status": {
            "containerStatuses": [
                {"name": "m", "restartCount": 1, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
            ]
        }
    }
    assert "CrashLoopBackOff" in pod_trouble(crash, min_restarts=3, stuck_seconds=300, now=0)
    stuck = {
        "metadata": {"creationTimestamp": "1970-01-01T00:00:00Z"},
        "spec": {"nodeName": "n"},
        "status": {"phase": "Pending"},
    }
    assert "not running after 600s" in pod_trouble(stuck, min_restarts=3, stuck_seconds=300, now=600)
    assert pod_trouble({"status": {"phase": "Running"}}, min_restarts=3, stuck_seconds=300, now=600) == ""


def test_pdb_selectors_match_labels_and_expressions() -> None:
    sel = {
        "matchLabels": {"app": "db"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]}],
    }
    assert selector_matches(sel, {"app": "db", "tier": "a"})
    assert not selector_matches(sel, {"app": "db", "tier": "b"})
    assert not selector_matches(None, {"app": "db"})
    assert selector_matches({"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]}, {})
