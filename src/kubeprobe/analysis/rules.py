"""The rule side of root-cause analysis: declarative YAML rules over step, messages, events and evidence."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from kubeprobe.analysis.texts import FailureText
from kubeprobe.model import ROOT_CAUSES


class RuleError(ValueError):
    """A rule file is malformed; the message names the rule and the field."""


@dataclass(frozen=True)
class Rule:
    id: str
    cause: str
    confidence: float
    steps: tuple[str, ...] = ()
    message: re.Pattern[str] | None = None
    event: re.Pattern[str] | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    def matches(self, failure: FailureText, evidence: dict[str, Any]) -> bool:
        if self.steps and failure.step not in self.steps:
            return False
        if self.message and not any(self.message.search(m) for m in failure.messages):
            return False
        if self.event and not any(self.event.search(e) for e in failure.events):
            return False
        return all(_fact_holds(evidence.get(key), want) for key, want in self.evidence.items())


def _fact_holds(have: Any, want: Any) -> bool:
    """A fact matches a wanted value; for list facts (e.g. stale leases) membership is enough."""
    if isinstance(have, (list, tuple, set)):
        return want in have
    return bool(have == want)


def _compile(text: Any, rule_id: str, key: str) -> re.Pattern[str] | None:
    if text is None:
        return None
    try:
        return re.compile(str(text), re.IGNORECASE)
    except re.error as exc:
        raise RuleError(f"rule {rule_id!r}: {key} is not a valid regex: {exc}") from exc


def parse_rules(text: str, source: str = "rules") -> list[Rule]:
    try:
        doc = yaml.safe_load(text) or []
    except yaml.YAMLError as exc:
        raise RuleError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(doc, list):
        raise RuleError(f"{source}: expected a list of rules")
    rules = []
    for item in doc:
        if not isinstance(item, dict) or "id" not in item or "cause" not in item:
            raise RuleError(f"{source}: every rule needs 'id' and 'cause': {item!r}")
        rid = str(item["id"])
        if item["cause"] not in ROOT_CAUSES:
            raise RuleError(f"rule {rid!r}: unknown cause {item['cause']!r}")
        confidence = float(item.get("confidence", 0.8))
        if not 0 < confidence <= 1:
            raise RuleError(f"rule {rid!r}: confidence must be in (0, 1], got {confidence}")
        steps = item.get("step") or []
        rules.append(
            Rule(
                rid,
                str(item["cause"]),
                confidence,
                tuple(steps if isinstance(steps, list) else [steps]),
                _compile(item.get("message"), rid, "message"),
                _compile(item.get("event"), rid, "event"),
                dict(item.get("evidence") or {}),
            )
        )
    return rules


def builtin_rules() -> list[Rule]:
    return parse_rules(
        (resources.files("kubeprobe.analysis") / "data" / "rules.yaml").read_text(), "rules.yaml"
    )


def first_match(rules: list[Rule], failure: FailureText, evidence: dict[str, Any]) -> Rule | None:
    return next((r for r in rules if r.matches(failure, evidence)), None)
