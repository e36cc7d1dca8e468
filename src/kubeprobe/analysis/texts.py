"""A failure as the analysis reads it: the failing step, the messages, and the events seen."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FailureText:
    step: str = ""
    messages: tuple[str, ...] = ()
    events: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> FailureText:
        """From ``{"step": ..., "messages": [...], "events": [...]}``; bad shapes raise ValueError."""
        if not isinstance(obj, dict):
            raise ValueError("expected a JSON object with step, messages and events")
        messages = obj.get("messages") or []
        events = obj.get("events") or []
        if not isinstance(messages, list) or not isinstance(events, list):
            raise ValueError("'messages' and 'events' must be lists of strings")
        return cls(str(obj.get("step") or ""), tuple(map(str, messages)), tuple(map(str, events)))

    def text(self) -> str:
        return " \n ".join([f"step:{self.step}", *self.messages, *self.events])


@dataclass(frozen=True)
class LabeledFailure:
    failure: FailureText
    cause: str
    extra: dict[str, Any] = field(default_factory=dict)
