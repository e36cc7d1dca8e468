"""The API server's own answers read as causes: real Status bodies, recorded from the sandbox under
each fault (``data/statuses.json``), in the words the built-in cases and the resident operator put
them into a run's messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubeprobe.analysis.answers import first_answer, read_answers
from kubeprobe.analysis.classifier import default_classifier
from kubeprobe.analysis.diagnosis import ANSWER_RULE, diagnose
from kubeprobe.analysis.rules import builtin_rules
from kubeprobe.analysis.texts import FailureText
from kubeprobe.kube.errors import api_error

STATUSES: list[dict[str, Any]] = json.loads((Path(__file__).parent / "data" / "statuses.json").read_text())
SERVER = "https://127.0.0.1:6443"


def phrasings(status: int, body: Any) -> list[str]:
    """How a run's messages carry an API error: the case runner, the pod probe, the operator."""
    err = api_error(status, body)
    return [
        f"pod-lifecycle probe failed at create: the API server said {err}",
        f"pod kp-pod-1a2b not created: {err.message}",
        str(err),
    ]


@pytest.mark.parametrize("recorded", STATUSES, ids=lambda r: r["fault"])
def test_real_status_bodies_name_their_cause(recorded: dict[str, Any]) -> None:
    for message in phrasings(recorded["status"], recorded["body"]):
        answer = first_answer([message], SERVER)
        assert answer is not None, message
        assert answer.cause == recorded["cause"], message
        if recorded.get("subject"):
            assert answer.subject == recorded["subject"]
            assert recorded["subject"] in answer.basis
        result = diagnose(FailureText("create", (message,)), default_classifier(), builtin_rules())
        assert (result.cause, result.rule) == (recorded["cause"], ANSWER_RULE)
        assert result.firm


def test_every_recorded_fault_is_a_real_status() -> None:
    faults = {r["fault"] for r in STATUSES}
    assert {
        "quota",
        "webhook-refused",
        "policy",
        "pod-security",
        "rbac",
        "unauthorized",
        "throttled",
    } <= faults
    for recorded in STATUSES:
        if isinstance(recorded["body"], str):  # API Priority and Fairness rejects with a text body
            assert recorded["status"] == 429
            continue
        assert recorded["body"]["kind"] == "Status"
        assert recorded["body"]["code"] == recorded["status"]


def test_connection_errors_count_only_on_the_api_servers_address() -> None:
    refused = (
        f"could not run etcd-probe on cluster c: {SERVER}: cannot reach the API server: Connection refused"
    )
    assert [a.cause for a in read_answers([refused], SERVER)] == ["apiserver.unavailable"]
    assert read_answers(["dial tcp 10.0.0.7:2379: connect: connection refused"], SERVER) == []
    timed_out = f"{SERVER}: GET /api/v1/namespaces/kubeprobe-system/configmaps timed out"
    assert first_answer([timed_out], SERVER) is not None
    assert read_answers([timed_out]) == []  # no address known: a timeout names nothing


def test_a_registry_rate_limit_is_not_the_api_server_throttling() -> None:
    pulled = "Failed to pull image: toomanyrequests: You have reached your pull rate limit."
    assert all(a.cause != "apiserver.throttled" for a in read_answers([pulled]))
