"""One message → intent, slots, confidence: the grammar for exact commands, else the classifier.

Exact commands (``/kp ...``) are parsed by :mod:`grammar` with confidence 1; free text goes through
:mod:`slots` and :mod:`classifier`. Either way the intent's definition (never the model) decides
whether it mutates; a mutating intent understood from free text must be confirmed as its exact
command (:attr:`Parse.needs_confirmation`) before it runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from kubeprobe.chatops.catalog import Catalog
from kubeprobe.chatops.classifier import IntentClassifier, default_classifier
from kubeprobe.chatops.grammar import CommandError, is_command, parse_command, render
from kubeprobe.chatops.intents import INTENTS, IntentSpec, SlotValue
from kubeprobe.chatops.slots import extract

#: below this the bot says it did not understand instead of guessing
MIN_CONFIDENCE = 0.4
MAX_TEXT = 2000


@dataclass(frozen=True)
class Parse:
    intent: str
    slots: dict[str, SlotValue]
    confidence: float
    exact: bool
    #: slot → (the word written, known names close to it)
    did_you_mean: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    error: str | None = None

    @property
    def spec(self) -> IntentSpec:
        return INTENTS[self.intent]

    @property
    def understood(self) -> bool:
        return self.error is None and (self.exact or self.confidence >= MIN_CONFIDENCE)

    @property
    def needs_confirmation(self) -> bool:
        """Static: a mutating intent that did not come as an exact command."""
        return self.spec.mutating and not self.exact

    @property
    def command(self) -> str:
        return render(self.spec, self.slots)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "intent": self.intent,
            "slots": self.slots,
            "confidence": round(self.confidence, 4),
        }
        out.update(exact=self.exact, mutating=self.spec.mutating, command=self.command)
        if self.did_you_mean:
            out["did_you_mean"] = {k: {"text": w, "names": n} for k, (w, n) in self.did_you_mean.items()}
        if self.error:
            out["error"] = self.error
        return out


class Understanding:
    """Parses messages against a catalog of names; the classifier is shared and trained once."""

    def __init__(self, catalog: Catalog | None = None, classifier: IntentClassifier | None = None) -> None:
        self.catalog = catalog or Catalog()
        self._classifier = classifier

    @property
    def classifier(self) -> IntentClassifier:
        if self._classifier is None:
            self._classifier = default_classifier()
        return self._classifier

    def parse(self, text: str) -> Parse:
        text = text.strip()[:MAX_TEXT]
        if is_command(text):
            try:
                cmd = parse_command(text, self.catalog)
            except CommandError as exc:
                # "/kp rerun pod-lifecycle on demo-1" (a slash command's text is often plain words):
                # understood as free text, so a mutation still needs confirming
                free = self._free(text.split(maxsplit=1)[1] if " " in text else "")
                return (
                    free
                    if free.understood and not free.did_you_mean
                    else Parse("help", {}, 1.0, True, error=str(exc))
                )
            return Parse(cmd.spec.name, cmd.slots, 1.0, True, self._near_misses(cmd.slots))
        return self._free(text)

    def _free(self, text: str) -> Parse:
        ex = extract(text, self.catalog)
        intent, confidence = self.classifier.predict(ex.masked)
        spec = INTENTS[intent]
        slots = ex.slots_for(spec.name, spec.slots)
        near: dict[str, tuple[str, list[str]]] = {
            kind: hit for kind, hit in ex.near_misses.items() if kind in spec.slots and kind not in slots
        }
        return Parse(intent, slots, confidence, False, near)

    def _near_misses(self, slots: dict[str, SlotValue]) -> dict[str, tuple[str, list[str]]]:
        """Names in an exact command that the catalog does not hold, with close known names."""
        out: dict[str, tuple[str, list[str]]] = {}
        for kind in ("cluster", "case"):
            word = slots.get(kind)
            if isinstance(word, str) and self.catalog.names(kind) and word not in self.catalog.names(kind):
                out[kind] = (word, [n for _, n in self.catalog.suggest(word, kind)])
        return out


def timed_parse(understanding: Understanding, text: str) -> tuple[Parse, float]:
    """A parse and its wall time in milliseconds (for the benchmark)."""
    start = time.perf_counter()
    result = understanding.parse(text)
    return result, (time.perf_counter() - start) * 1000
