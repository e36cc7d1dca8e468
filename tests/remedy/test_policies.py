"""Policies: matching by cause and scope, the ladder, shadow by default, clear errors."""

from __future__ import annotations

import pytest

from kubeprobe.remedy.defender import Mode, Outcome
from kubeprobe.remedy.errors import PolicyError
from kubeprobe.remedy.policies import load_policies

POLICIES = """
- name: node-not-ready-prod
  version: 3
  cause: node.not_ready
  clusters: {env: prod}
  nodes: {kubeprobe.io/pool: general}
  mode: approval
  ladder:
    - {action: node-drain, timeout_seconds: 600}
    - {action: node-uncordon, max_tries: 2}
- name: crash-loops
  cause: runtime.crash
  cases: [pod-lifecycle]
  ladder: [{action: pod-delete}]
"""


def test_the_first_matching_policy_decides_and_new_policies_are_shadow() -> None:
    policies = load_policies(POLICIES)
    prod, general = {"env": "prod"}, {"kubeprobe.io/pool": "general"}
    chosen = policies.select("node.not_ready", prod, "node-probe", general)
    assert chosen is not None
    assert (chosen.name, chosen.version, chosen.mode) == ("node-not-ready-prod", 3, Mode.APPROVAL)
    assert policies.select("node.not_ready", {"env": "dev"}, "node-probe", general) is None
    assert policies.select("node.not_ready", prod, "node-probe", {"kubeprobe.io/pool": "gpu"}) is None
    crash = policies.select("runtime.crash", {}, "pod-lifecycle")
    assert crash is not None
    assert crash.mode is Mode.SHADOW
    assert policies.select("runtime.crash", {}, "etcd-probe") is None


def test_the_ladder_moves_on_when_a_step_used_up_its_tries_and_stops_when_verified() -> None:
    policy = load_policies(POLICIES).policies[0]
    assert policy.next_step([]) == (0, policy.ladder[0])
    assert policy.next_step([(0, Outcome.FAILED)]) == (1, policy.ladder[1])
    assert policy.next_step([(0, Outcome.FAILED), (1, Outcome.UNVERIFIED)]) == (1, policy.ladder[1])
    assert (
        policy.next_step([(0, Outcome.FAILED), (1, Outcome.FAILED), (1, Outcome.FAILED)]) is None
    )  # escalate
    assert policy.next_step([(0, Outcome.VERIFIED)]) is None


def test_a_sequence_goes_on_after_a_verified_step_and_ends_with_its_last() -> None:
    policy = load_policies(
        """
name: node-not-ready
cause: node.not_ready
mode: auto
ladder:
  - {action: node-drain, on_verified: next}
  - {action: restart-node-component, params: {component: kubelet}, max_tries: 2, on_verified: next}
  - {action: node-uncordon, max_tries: 3}
"""
    ).policies[0]
    drained = [(0, Outcome.VERIFIED)]
    assert policy.next_step(drained) == (1, policy.ladder[1])
    assert policy.next_step([*drained, (1, Outcome.FAILED)]) == (1, policy.ladder[1])
    restarted = [*drained, (1, Outcome.FAILED), (1, Outcome.VERIFIED)]
    assert policy.next_step(restarted) == (2, policy.ladder[2])
    assert policy.next_step([*restarted, (2, Outcome.VERIFIED)]) is None  # healed
    assert policy.next_step([*drained, (1, Outcome.FAILED), (1, Outcome.FAILED)]) == (2, policy.ladder[2])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "name: x\ncause: node.not_ready\nladder: [{action: reboot}]",
            "policy x: ladder.0.action: Value error, unknown action 'reboot'",
        ),
        ("name: x\ncause: node.sad\nladder: [{action: pod-delete}]", "unknown cause 'node.sad'"),
        ("name: x\ncause: node.not_ready\nladder: []", "ladder: List should have at least 1 item"),
        (
            "- {name: a, cause: unknown, ladder: [{action: pod-delete}]}\n"
            "- {name: a, cause: unknown, ladder: [{action: pod-delete}]}",
            "twice: a",
        ),
        ("name: [", "not valid YAML"),
    ],
)
def test_a_bad_policy_says_which_and_what(text: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_policies(text)
