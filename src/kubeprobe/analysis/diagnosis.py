"""Naming a cause: the run's own evidence first, then rules, then the classifier; one confidence.

The order, each step deciding alone when it can:

1. **The API server's words** (:mod:`kubeprobe.analysis.answers`) naming a specific cause: a quota,
   a webhook that did not answer, a policy that denied, etcd out of space, 429, 401/RBAC 403.
2. **Component health** read from the cluster (:mod:`kubeprobe.analysis.causality`): etcd or the
   API server down is the cause of every failure at that time; the failure's own words describe
   its consequences (a controller that cannot write, a probe that timed out).
3. The API server's words that say only that it did not answer (5xx, refused, timed out).
4. **Rules** over step, messages, events and facts; the classifier agreeing raises confidence.
5. **The classifier**, among causes the component facts do not rule out.

Whatever decides, the diagnosis carries what is known for people (``explanation``): the failing
step, the object, the API's own words, what the facts ruled out and the top candidates with their
confidences. A failure the evidence cannot decide is not a bare ``unknown``.

Facts gathered long after the failure describe another moment: with ``evidence_age_s`` above
``FRESH_S`` they no longer rule anything out nor name a component cause.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kubeprobe.analysis.answers import Answer, read_answers
from kubeprobe.analysis.causality import component_cause, ruled_out
from kubeprobe.analysis.classifier import Classifier, Guess
from kubeprobe.analysis.rules import Rule, first_match
from kubeprobe.analysis.texts import FailureText

#: A rule at or above this confidence decides alone.
RULE_SURE = 0.9
#: An answer of the API server at or above this confidence decides alone.
ANSWER_SURE = 0.9
#: The rule names of the two evidence steps (their ``source`` is "rule": built-in knowledge).
ANSWER_RULE = "api-answer"
COMPONENT_RULE = "component-health"
#: Evidence older than this (seconds after the failure) says nothing about the failure's moment.
FRESH_S = 60.0
_OBJECT = re.compile(
    r"\b(pod|deployment|statefulset|replicaset|service|namespace|configmap|node|secret)s?[/ ]\"?"
    r"(?P<name>[a-z0-9][a-z0-9.-]{2,62})\"?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Diagnosis:
    cause: str
    confidence: float
    source: str  # "rule", "classifier" or "rule+classifier"
    rule: str | None  # ANSWER_RULE, COMPONENT_RULE or the id of a rule of rules.yaml
    alternatives: tuple[Guess, ...]
    basis: str = ""  # why this cause, in words
    explanation: dict[str, Any] = field(default_factory=dict)

    @property
    def firm(self) -> bool:
        """Named by the run's own evidence (the API's words, component health, a sure rule)."""
        return self.source != "classifier" and self.confidence >= RULE_SURE

    def to_dict(self) -> dict[str, Any]:
        return {
            "cause": self.cause,
            "confidence": round(self.confidence, 3),
            "source": self.source,
            "rule": self.rule,
            "basis": self.basis,
            "alternatives": [
                {"cause": g.cause, "confidence": round(g.confidence, 3)} for g in self.alternatives
            ],
            "explanation": self.explanation,
        }


def _explain(
    failure: FailureText, answers: list[Answer], ruled: dict[str, str], ranked: list[Guess]
) -> dict[str, Any]:
    text = " ".join(failure.messages)
    obj = _OBJECT.search(text)
    words = answers[0].words if answers else (failure.messages[0][:300] if failure.messages else "")
    return {
        "step": failure.step or None,
        "object": f"{obj.group(1).lower()}/{obj.group('name')}" if obj else None,
        "api_words": words,
        "ruled_out": [f"{cause}: {why}" for cause, why in sorted(ruled.items())],
        "candidates": [{"cause": g.cause, "confidence": round(g.confidence, 3)} for g in ranked],
    }


def diagnose(
    failure: FailureText,
    classifier: Classifier,
    rules: list[Rule],
    evidence: dict[str, Any] | None = None,
    *,
    apiserver: str = "",
    evidence_age_s: float = 0.0,
) -> Diagnosis:
    """The cause of ``failure`` (see the module's docstring for the order)."""
    facts = evidence or {}
    fresh = evidence_age_s <= FRESH_S
    ruled = ruled_out(facts) if fresh else {}
    # the run's own messages only: a namespace's older warnings may name a fault long undone
    answers = read_answers(failure.messages, apiserver)
    ranked = classifier.rank(failure, 3 + len(ruled))
    allowed = [g for g in ranked if g.cause not in ruled] or ranked
    explanation = _explain(failure, answers, ruled, allowed[:3])

    def made(cause: str, confidence: float, source: str, rule: str | None, basis: str) -> Diagnosis:
        return Diagnosis(cause, confidence, source, rule, tuple(allowed[:3]), basis, explanation)

    # a connection that failed names a path, not yet a cause: a component found down explains it
    paths = ("apiserver.unavailable", "network.connection")
    specific = [a for a in answers if a.cause not in paths and a.confidence >= ANSWER_SURE]
    if specific:
        return made(specific[0].cause, specific[0].confidence, "rule", ANSWER_RULE, specific[0].basis)
    component = component_cause(facts) if fresh else None
    if component is not None:
        return made(component[0], 0.95, "rule", COMPONENT_RULE, component[1])
    if answers and answers[0].confidence >= ANSWER_SURE:
        return made(answers[0].cause, answers[0].confidence, "rule", ANSWER_RULE, answers[0].basis)
    rule = first_match(rules, failure, facts)
    best = allowed[0]
    if rule and rule.confidence >= RULE_SURE:
        agree = next((g.confidence for g in ranked if g.cause == rule.cause), 0.0)
        confidence = 1 - (1 - rule.confidence) * (1 - agree)  # two independent signals
        return made(rule.cause, confidence, "rule", rule.id, f"rule {rule.id}")
    if rule:
        if rule.cause == best.cause:
            confidence = 1 - (1 - rule.confidence) * (1 - best.confidence)
            return made(
                rule.cause, confidence, "rule+classifier", rule.id, f"rule {rule.id} and the classifier"
            )
        if rule.confidence >= best.confidence:
            return made(
                rule.cause, rule.confidence * (1 - best.confidence / 2), "rule", rule.id, f"rule {rule.id}"
            )
    return made(best.cause, best.confidence, "classifier", None, "the classifier (no evidence decided)")
