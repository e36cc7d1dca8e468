"""Understanding: durations, the exact grammar, slots, the classifier on the issue's examples."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kubeprobe.chatops.catalog import Catalog
from kubeprobe.chatops.durations import find_duration, format_duration, parse_duration
from kubeprobe.chatops.grammar import CommandError, parse_command, render
from kubeprobe.chatops.intents import INTENT_NAMES, INTENTS, SLOT_NAMES
from kubeprobe.chatops.understanding import Understanding

CATALOG = Catalog.of(
    ["demo-1", "prod-1", "prod-east", "staging"], ["pod-lifecycle", "etcd-probe", "node-probe"]
)


@pytest.fixture(scope="module")
def nlu() -> Understanding:
    return Understanding(CATALOG)


def test_vocabulary_is_the_issues() -> None:
    assert INTENT_NAMES == (
        "status", "history", "incidents", "rerun", "diagnose", "silence", "unsilence", "ack", "resolve",
        "gate", "approve", "deny", "pause_remediation", "resume_remediation", "help",
    )  # fmt: skip
    assert SLOT_NAMES == (
        "cluster", "case", "run", "incident", "silence", "remediation", "duration_seconds", "reason",
    )  # fmt: skip
    assert set(INTENTS) == set(INTENT_NAMES)
    mutating = {name for name, spec in INTENTS.items() if spec.mutating}
    assert mutating == {
        "rerun", "silence", "unsilence", "ack", "resolve", "approve", "deny", "pause_remediation",
        "resume_remediation",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("2h", 7200), ("1h30m", 5400), ("90 seconds", 90), ("an hour", 3600), ("half an hour", 1800),
        ("1.5 hours", 5400), ("two hours", 7200), ("a day", 86400), ("45 mins", 2700),
        ("2 hrs and 30 mins", 9000),
        ("两小时", 7200), ("两个半小时", 9000), ("半小时", 1800), ("30分钟", 1800), ("一天", 86400),
        ("十五分钟", 900), ("一个半小时", 5400), ("1 小时", 3600), ("一刻钟", 900), ("二十分钟", 1200),
    ],
)  # fmt: skip
def test_durations_both_languages(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


def test_durations_not_found_in_names_and_ids() -> None:
    assert find_duration("rerun pod-lifecycle on demo-1") is None
    assert find_duration("diagnose 76d9c762f248ef970d81e299df08ba75") is None
    assert find_duration("今天 prod-1 怎么样") is None
    assert format_duration(5400) == "1h30m"
    assert format_duration(86400) == "1d"


def test_grammar_exact_commands() -> None:
    cmd = parse_command("/kp rerun pod-lifecycle demo-1", CATALOG)
    assert cmd.spec.name == "rerun"
    assert cmd.slots == {"case": "pod-lifecycle", "cluster": "demo-1"}
    cmd = parse_command('/kp silence prod-1 2h "etcd upgrade"', CATALOG)
    assert cmd.slots == {"cluster": "prod-1", "duration_seconds": 7200, "reason": "etcd upgrade"}
    assert parse_command("/kp history pod-lifecycle", CATALOG).slots == {"case": "pod-lifecycle"}
    assert parse_command("/kp ack #12 on it", CATALOG).slots == {"incident": 12, "reason": "on it"}
    assert parse_command("/kp pause-remediation prod-1", CATALOG).spec.name == "pause_remediation"
    assert parse_command("/kp", CATALOG).spec.name == "help"
    with pytest.raises(CommandError, match="usage /kp rerun CASE"):
        parse_command("/kp rerun", CATALOG)
    with pytest.raises(CommandError, match="unknown command"):
        parse_command("/kp reboot everything", CATALOG)
    with pytest.raises(CommandError, match="not a incident"):
        parse_command("/kp ack twelve", CATALOG)


def test_render_round_trips(nlu: Understanding) -> None:
    for slots, name in [
        ({"cluster": "prod-1", "case": "etcd-probe", "duration_seconds": 5400, "reason": "a b"}, "silence"),
        ({"remediation": 3, "reason": "too risky"}, "deny"),
        ({"case": "node-probe", "cluster": "staging"}, "diagnose"),
    ]:
        parsed = nlu.parse(render(INTENTS[name], slots))
        assert (parsed.intent, parsed.slots, parsed.exact) == (name, slots, True)


@pytest.mark.parametrize(
    ("text", "intent", "slots"),
    [
        ("rerun pod-lifecycle on demo-1", "rerun", {"case": "pod-lifecycle", "cluster": "demo-1"}),
        ("在 demo-1 上重新跑一下 pod-lifecycle", "rerun", {"case": "pod-lifecycle", "cluster": "demo-1"}),
        ("silence prod-1 for 2h, etcd upgrade", "silence",
         {"cluster": "prod-1", "duration_seconds": 7200, "reason": "etcd upgrade"}),
        ("静默 prod-1 两小时，etcd 升级", "silence",
         {"cluster": "prod-1", "duration_seconds": 7200, "reason": "etcd 升级"}),
        ("how is prod-east doing?", "status", {"cluster": "prod-east"}),
        ("ack incident 42", "ack", {"incident": 42}),
        ("取消静默 7", "unsilence", {"silence": 7}),
        ("why did etcd-probe fail on staging", "diagnose", {"case": "etcd-probe", "cluster": "staging"}),
        ("what can you do", "help", {}),
    ],
)  # fmt: skip
def test_free_text(nlu: Understanding, text: str, intent: str, slots: dict[str, object]) -> None:
    parsed = nlu.parse(text)
    assert (parsed.intent, parsed.slots) == (intent, slots)
    assert not parsed.exact
    assert parsed.needs_confirmation == INTENTS[intent].mutating


def test_mutation_is_static_not_the_models(nlu: Understanding) -> None:
    free = nlu.parse("please rerun pod-lifecycle on demo-1")
    exact = nlu.parse("/kp rerun pod-lifecycle demo-1")
    assert free.needs_confirmation
    assert free.command == "/kp rerun pod-lifecycle demo-1"
    assert not exact.needs_confirmation
    assert not nlu.parse("status of demo-1").needs_confirmation


def test_did_you_mean(nlu: Understanding) -> None:
    parsed = nlu.parse("rerun pod-lifecyle on demo1")
    assert parsed.intent == "rerun"
    assert parsed.slots == {}
    assert parsed.did_you_mean == {
        "case": ("pod-lifecyle", ["pod-lifecycle"]),
        "cluster": ("demo1", ["demo-1"]),
    }
    exact = nlu.parse("/kp rerun pod-lifecycle prod1")
    assert exact.did_you_mean == {"cluster": ("prod1", ["prod-1"])}


def test_cli_parse_json_lines(tmp_path) -> None:  # type: ignore[no-untyped-def]
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps({"clusters": ["demo-1"], "cases": ["pod-lifecycle"]}))
    lines = '{"text": "rerun pod-lifecycle on demo-1"}\n{"text": "/kp status demo-1"}\nnot json\n'
    proc = subprocess.run(
        [sys.executable, "-m", "kubeprobe.cli.main", "chatops", "parse", "--catalog", str(catalog)],
        input=lines, capture_output=True, text=True, check=True, timeout=600,
    )  # fmt: skip
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert out[0]["intent"] == "rerun"
    assert out[0]["slots"] == {"case": "pod-lifecycle", "cluster": "demo-1"}
    assert 0 < out[0]["confidence"] <= 1
    assert out[0]["mutating"] is True
    assert out[1] == {"intent": "status", "slots": {"cluster": "demo-1"}, "confidence": 1.0, "exact": True,
                      "mutating": False, "command": "/kp status demo-1"}  # fmt: skip
    assert "line 3" in out[2]["error"]
