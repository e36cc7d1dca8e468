"""Label matchers of silences and routes: equality and regular expressions, as Alertmanager writes them.

A missing label matches as the empty string, so `team!=db` matches a signal without `team`.

Matchers are written by users and run on the center's event loop against every signal, so a
regular expression must not be able to stall it: they are RE2 expressions (Alertmanager's syntax
too), matched in time linear in the label's length whatever the pattern, compiled once when the
matcher is created, with a bounded program size (:data:`MAX_REGEX_MEMORY`). A matcher is at most
:data:`MAX_MATCHER_CHARS` long. Backreferences and look-arounds have no linear-time algorithm
and are refused at creation with a message that says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

import re2

Op = Literal["=", "!=", "=~", "!~"]
_PARSE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_./-]*)\s*(=~|!~|!=|=)(.*)$")
#: The longest matcher accepted, label, operator and value together.
MAX_MATCHER_CHARS = 1000
#: RE2's memory budget for one compiled expression (bounds its size and the time to compile it).
MAX_REGEX_MEMORY = 1 << 20


class MatcherError(ValueError):
    """A matcher that cannot be parsed or whose regular expression does not compile."""


def _options() -> Any:
    options = re2.Options()
    options.max_mem = MAX_REGEX_MEMORY
    options.log_errors = False
    options.never_capture = True
    return options


_OPTIONS = _options()


@dataclass(frozen=True)
class Matcher:
    label: str
    op: Op
    value: str
    _regex: Any = field(default=None, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if len(self.label) + len(self.op) + len(self.value) > MAX_MATCHER_CHARS:
            raise MatcherError(f"a matcher has at most {MAX_MATCHER_CHARS} characters")
        if "\x00" in self.value:
            raise MatcherError(f"{self.label}{self.op}...: a NUL character is not allowed")
        if self.op in ("=~", "!~"):
            try:
                regex = re2.compile(self.value, _OPTIONS)
            except (re2.error, UnicodeEncodeError) as exc:
                first = exc.args[0] if exc.args and isinstance(exc, re2.error) else str(exc)
                reason = first.decode(errors="replace") if isinstance(first, bytes) else str(first)
                raise MatcherError(
                    f"{self}: {self.value!r} is not an RE2 regular expression ({reason}); "
                    "backreferences and look-arounds are not supported"
                ) from exc
            object.__setattr__(self, "_regex", regex)

    def matches(self, labels: dict[str, str]) -> bool:
        actual = labels.get(self.label, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        try:
            full = self._regex.fullmatch(actual) is not None
        except UnicodeEncodeError:  # a lone surrogate (JSON allows them): match it as U+FFFD
            full = self._regex.fullmatch(actual.encode(errors="replace").decode()) is not None
        return full if self.op == "=~" else not full

    def __str__(self) -> str:
        return f"{self.label}{self.op}{self.value}"

    @classmethod
    def parse(cls, text: str) -> Matcher:
        """'cluster=prod-1', 'case=~pod-.*', 'cause!=unknown', 'env!~dev|test'."""
        if len(text) > MAX_MATCHER_CHARS + 10:
            raise MatcherError(f"a matcher has at most {MAX_MATCHER_CHARS} characters")
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
