"""The order of the diagnosis: the API's words, then component health, then rules and the
classifier among the causes the facts leave; and what a diagnosis says when nothing decided."""

from __future__ import annotations

from kubeprobe.analysis.causality import is_consequence, ruled_out
from kubeprobe.analysis.classifier import default_classifier
from kubeprobe.analysis.diagnosis import ANSWER_RULE, COMPONENT_RULE, FRESH_S, diagnose
from kubeprobe.analysis.rules import builtin_rules
from kubeprobe.analysis.texts import FailureText

HEALTHY = {
    "apiserver_ready": True,
    "etcd_healthy": True,
    "stale_leases": [],
    "not_ready_nodes": [],
    "pressured_nodes": [],
    "node_not_ready_taints": False,
    "node_pressure_taints": False,
    "node_count": 3,
}
SERVER = "https://127.0.0.1:6443"


def run(step: str, *messages: str, facts: dict[str, object] | None = None, age: float = 0.0):  # type: ignore[no-untyped-def]
    failure = FailureText(step, messages)
    return diagnose(
        failure, default_classifier(), builtin_rules(), facts, apiserver=SERVER, evidence_age_s=age
    )


def test_the_api_servers_words_decide_before_component_health() -> None:
    # The quota's name and the webhook's name come from the server's own message.
    quota = run(
        "create",
        'pods "kp-pod-1" is forbidden: exceeded quota: team-q, requested: pods=1',
        facts={**HEALTHY, "apiserver_ready": False},
    )
    assert (quota.cause, quota.rule) == ("admission.quota_exceeded", ANSWER_RULE)
    assert "team-q" in quota.basis
    hook = run(
        "create",
        'Internal error occurred: failed calling webhook "policy.corp.io": failed to call '
        'webhook: Post "https://policy.corp.svc:443/validate?timeout=5s": context deadline exceeded',
    )
    assert (hook.cause, hook.rule) == ("admission.webhook_failure", ANSWER_RULE)
    assert "policy.corp.io" in hook.basis
    assert hook.firm


def test_a_component_that_is_down_is_the_cause_of_what_fails_meanwhile() -> None:
    stalled = run(
        "available",
        "deployment kp-deploy-1: 0 of 1 replicas available after 60s",
        facts={**HEALTHY, "etcd_healthy": False, "apiserver_ready": False, "readyz_failed": "etcd"},
    )
    assert (stalled.cause, stalled.rule) == ("etcd.unavailable", COMPONENT_RULE)
    hung = run(
        "",
        "pod-scheduling: timed out after 2s",
        facts={"apiserver_ready": False, "apiserver_answer": "timed out"},
    )
    assert (hung.cause, hung.rule) == ("apiserver.unavailable", COMPONENT_RULE)
    assert "does not answer" in hung.basis


def test_a_refused_connection_to_the_api_server_names_it_but_one_elsewhere_does_not() -> None:
    refused = run(
        "",
        f"could not run pod-lifecycle on cluster c: {SERVER}: cannot reach the API server: "
        "[Errno 111] Connection refused",
    )
    assert (refused.cause, refused.rule) == ("apiserver.unavailable", ANSWER_RULE)
    other = run("connect", "dial tcp 10.96.0.12:80: connect: connection refused", facts=HEALTHY)
    assert other.cause != "apiserver.unavailable"


def test_facts_rule_candidates_out_and_the_diagnosis_says_so() -> None:
    result = run(
        "scheduled",
        "pod kp-pod-1 not scheduled after 30s: no scheduling decision",
        facts={**HEALTHY, "stale_leases": ["kube-scheduler"]},
    )
    assert (result.cause, result.rule) == ("scheduling.scheduler_down", "scheduler-lease-stale")
    undecided = run("wait", "something odd happened to kp-pod-1", facts=HEALTHY)
    ruled = {r.split(":")[0] for r in undecided.explanation["ruled_out"]}
    assert {"apiserver.unavailable", "etcd.unavailable", "scheduling.scheduler_down"} <= ruled
    assert undecided.cause not in ruled
    assert all(c["cause"] not in ruled for c in undecided.explanation["candidates"])
    assert undecided.explanation["step"] == "wait"
    assert undecided.explanation["api_words"].startswith("something odd")
    assert len(undecided.to_dict()["explanation"]["candidates"]) == 3


def test_old_evidence_rules_nothing_out() -> None:
    late = run(
        "",
        "pod-scheduling: timed out after 2s",
        facts={"apiserver_ready": False, "apiserver_answer": "timed out"},
        age=FRESH_S + 1,
    )
    assert late.rule != COMPONENT_RULE
    assert late.explanation["ruled_out"] == []


def test_consequences_and_ruled_out_facts() -> None:
    assert is_consequence("controller.stalled", "apiserver.unavailable")
    assert is_consequence("apiserver.unavailable", "etcd.unavailable")
    assert is_consequence("unknown", "admission.quota_exceeded")
    assert not is_consequence("admission.quota_exceeded", "apiserver.unavailable")
    assert not is_consequence("apiserver.unavailable", "unknown")
    assert ruled_out({"stale_leases": ["kube-scheduler"]}) == {
        "controller.stalled": "the controller-manager renews its leader lease"
    }
    assert "scheduling.no_nodes" not in ruled_out({"node_count": 0})


def test_a_pod_that_cannot_reach_the_in_cluster_address_is_the_pod_network() -> None:
    """kube-proxy stopped on a real node: the case in the run pod timed out on the `kubernetes`
    Service's address, while the center reaches the API server at its own address."""
    words = (
        "could not run pod-lifecycle on cluster real: "
        "https://10.96.0.1:443: POST /api/v1/namespaces timed out"
    )
    path = run("", words, facts=HEALTHY)
    assert (path.cause, path.rule) == ("network.connection", ANSWER_RULE)
    assert "10.96.0.1:443" in path.basis
    assert "kube-proxy" in path.basis
    # The same words while the API server itself is down: the component is the cause.
    down = run("", words, facts={**HEALTHY, "apiserver_ready": False, "apiserver_answer": "timed out"})
    assert down.cause == "apiserver.unavailable"
    # The center's own address timing out is the API server, never the pod network.
    own = run("", f"could not run pod-lifecycle on cluster real: {SERVER}: GET /api/v1/nodes timed out")
    assert own.cause == "apiserver.unavailable"


def test_an_untolerated_taint_of_nodes_under_pressure_is_the_pressure() -> None:
    words = (
        "pod kp-pod-1 not scheduled after 10s: 0/3 nodes are available: 3 node(s) had untolerated "
        "taint(s). preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    )
    pressured = {**HEALTHY, "pressured_nodes": ["n0", "n1", "n2"], "node_pressure_taints": True}
    found = run("scheduled", words, facts=pressured)
    assert (found.cause, found.rule) == ("node.pressure", "node-pressure-evidence")
    assert run("scheduled", words, facts=HEALTHY).cause == "scheduling.taints"  # a taint of someone's
