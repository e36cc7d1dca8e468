"""Naming a cause: rules where they are sure, the classifier where they are not, one confidence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubeprobe.analysis.classifier import Classifier, Guess
from kubeprobe.analysis.rules import Rule, first_match
from kubeprobe.analysis.texts import FailureText

#: A rule at or above this confidence decides alone.
RULE_SURE = 0.9


@dataclass(frozen=True)
class Diagnosis:
    cause: str
    confidence: float
    source: str  # "rule", "classifier" or "rule+classifier"
    rule: str | None
    alternatives: tuple[Guess, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "cause": self.cause,
            "confidence": round(self.confidence, 3),
            "source": self.source,
            "rule": self.rule,
            "alternatives": [
                {"cause": g.cause, "confidence": round(g.confidence, 3)} for g in self.alternatives
            ],
        }


def diagnose(
    failure: FailureText, classifier: Classifier, rules: list[Rule], evidence: dict[str, Any] | None = None
) -> Diagnosis:
    facts = evidence or {}
    rule = first_match(rules, failure, facts)
    ranked = classifier.rank(failure, 3)
    best = ranked[0]
    if rule and rule.confidence >= RULE_SURE:
        agree = next((g.confidence for g in ranked if g.cause == rule.cause), 0.0)
        confidence = 1 - (1 - rule.confidence) * (1 - agree)  # two independent signals
        return Diagnosis(rule.cause, confidence, "rule", rule.id, tuple(ranked))
    if rule:
        if rule.cause == best.cause:
            confidence = 1 - (1 - rule.confidence) * (1 - best.confidence)
            return Diagnosis(rule.cause, confidence, "rule+classifier", rule.id, tuple(ranked))
        if rule.confidence >= best.confidence:
            return Diagnosis(
                rule.cause, rule.confidence * (1 - best.confidence / 2), "rule", rule.id, tuple(ranked)
            )
    return Diagnosis(best.cause, best.confidence, "classifier", None, tuple(ranked))
