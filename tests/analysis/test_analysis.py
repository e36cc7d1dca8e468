"""Rules, classifier, diagnosis and severity on crafted failures."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kubeprobe.analysis.classifier import Classifier, CorpusError, default_classifier, parse_corpus
from kubeprobe.analysis.diagnosis import diagnose
from kubeprobe.analysis.rules import RuleError, builtin_rules, parse_rules
from kubeprobe.analysis.severity import Action, Scope, assess
from kubeprobe.analysis.texts import FailureText
from kubeprobe.model import Severity


def failure(step: str, message: str, *events: str) -> FailureText:
    return FailureText(step, (message,), events)


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        (
            failure("create", 'pods "p" is forbidden: exceeded quota: q, requested: pods=1'),
            "admission.quota_exceeded",
        ),
        (
            failure("create", 'Internal error occurred: failed calling webhook "a.b": connection refused'),
            "admission.webhook_failure",
        ),
        (
            failure("scheduled", "0/3 nodes are available: 3 node(s) had untolerated taint(s)."),
            "scheduling.taints",
        ),
        (
            failure(
                "scheduled", "0/3 nodes: 3 node(s) had untolerated taint {node.kubernetes.io/not-ready: }"
            ),
            "node.not_ready",
        ),
        (failure("put", "etcdserver: mvcc: database space exceeded"), "etcd.quota"),
        (  # node-probe once the kubelet reported its stopped containerd (the fault suite's words)
            failure(
                "nodes",
                "node-probe probe failed at nodes: 1 of 4 nodes failed: real-node-0: NotReady "
                "(KubeletNotReady: container runtime is down)",
            ),
            "runtime.sandbox_failure",
        ),
    ],
)
def test_rules_name_sure_causes(text: FailureText, cause: str) -> None:
    result = diagnose(text, default_classifier(), builtin_rules())
    assert result.cause == cause
    assert result.source == "rule"  # the API's own words (ANSWER_RULE), or a sure rule
    assert result.confidence >= 0.9


def test_evidence_rules_beat_the_text() -> None:
    text = failure("scheduled", "pod kp-pod-1 not scheduled after 20s: no scheduling decision")
    result = diagnose(text, default_classifier(), builtin_rules(), {"stale_leases": ["kube-scheduler"]})
    assert (result.cause, result.rule) == ("scheduling.scheduler_down", "scheduler-lease-stale")
    down = diagnose(
        failure("get", "GET /version timed out"),
        default_classifier(),
        builtin_rules(),
        {"apiserver_ready": False},
    )
    assert down.cause == "apiserver.unavailable"


def test_classifier_decides_where_no_rule_matches() -> None:
    result = diagnose(
        failure("running", "CrashLoopBackOff: back-off 40s restarting failed container=probe"),
        default_classifier(),
        builtin_rules(),
    )
    assert result.source == "classifier"
    assert result.cause == "runtime.crash"
    assert 0 < result.confidence <= 1
    assert len(result.alternatives) == 3


def test_bad_rules_and_corpus_lines_are_named() -> None:
    with pytest.raises(RuleError, match=r"unknown cause 'made\.up'"):
        parse_rules("- {id: r1, cause: made.up}")
    with pytest.raises(RuleError, match=r"not a valid regex"):
        parse_rules("- {id: r2, cause: unknown, message: '('}")
    with pytest.raises(CorpusError, match=r"fb:2: unknown cause"):
        parse_corpus(['{"step": "s", "messages": [], "cause": "unknown"}', '{"cause": "nope"}'], "fb")
    with pytest.raises(CorpusError, match="at least two causes"):
        Classifier(parse_corpus(['{"step": "s", "messages": ["x"], "cause": "unknown"}'], "one"))


def test_severity_grows_with_scope_and_persistence() -> None:
    small = assess("runtime.crash", Scope.CASE, 1, Severity.LOW)
    big = assess("etcd.unavailable", Scope.FLEET, 5, Severity.CRITICAL)
    assert (small.priority, small.action) == ("P4", Action.RECORD)
    assert (big.priority, big.action) == ("P1", Action.PAGE)
    heal = assess("node.not_ready", Scope.CLUSTER, 1, Severity.MEDIUM, self_healing=True)
    assert heal.action is Action.SELF_HEAL


def test_cli_classify_prints_one_line_per_input() -> None:
    lines = [
        json.dumps({"step": "create", "messages": ["exceeded quota: q"], "events": []}),
        "not json",
        json.dumps({"step": "running", "messages": ["ImagePullBackOff: Back-off pulling image"]}),
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "kubeprobe.cli.main", "rca", "classify"],
        input="\n".join(lines),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o.get("cause") for o in out] == ["admission.quota_exceeded", None, "runtime.image_pull"]
    assert "line" in out[1]
    assert "not a failure record" in out[1]["error"]
