"""Label matchers of silences and routes: equality and regular expressions, as Alertmanager writes them.

A missing label matches as the empty string, so `team!=db` matches a signal without `team`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Op = Literal["=", "!=", "=~", "!~"]
_PARSE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_./-]*)\s*(=~|!~|!=|=)(.*)$")


class MatcherError(ValueError):
    """A matcher that cannot be parsed or whose regular expression does not compile."""


@dataclass(frozen=True)
class Matcher:
    label: str
    op: Op
    value: str

    def __post_init__(self) -> None:
        if self.op in ("=~", "!~"):
            try:
                re.compile(self.value)
            except re.error as exc:
                raise MatcherError(f"{self}: {self.value!r} is not a regular expression: {exc}") from exc

    def matches(self, labels: dict[str, str]) -> bool:
        actual = labels.get(self.label, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        full = re.fullmatch(self.value, actual) is not None
        return full if self.op == "=~" else not full

    def __str__(self) -> str:
        return f"{self.label}{self.op}{self.value}"

    @classmethod
    def parse(cls, text: str) -> Matcher:
        """'cluster=prod-1', 'case=~pod-.*', 'cause!=unknown', 'env!~dev|test'."""
        m = _PARSE.match(text)
        if not m:
            raise MatcherError(
                f"{text!r} is not a matcher; write LABEL=VALUE, LABEL!=VALUE, LABEL=~REGEX or LABEL!~REGEX"
            )
        op: Op = m.group(2)  # type: ignore[assignment]
        return cls(m.group(1), op, m.group(3).strip())


def parse_all(texts: list[str]) -> tuple[Matcher, ...]:
    return tuple(Matcher.parse(t) for t in texts)


def all_match(matchers: tuple[Matcher, ...], labels: dict[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
