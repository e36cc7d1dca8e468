"""Routes: which receivers hear about an incident, by its priority and labels.

Routes are tried in order. A matching route adds its receivers and ends the search unless it says
`continue_`; when no route matched, the default route's receivers get it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kubeprobe.alerting.matchers import Matcher, all_match

PRIORITIES = ("P1", "P2", "P3", "P4")


@dataclass(frozen=True)
class Route:
    name: str
    receivers: tuple[str, ...]
    matchers: tuple[Matcher, ...] = ()
    priorities: frozenset[str] = frozenset()  # empty: any priority
    continue_: bool = False

    def matches(self, priority: str, labels: dict[str, str]) -> bool:
        return (not self.priorities or priority in self.priorities) and all_match(self.matchers, labels)


@dataclass(frozen=True)
class RouteTable:
    routes: tuple[Route, ...] = ()
    default: tuple[str, ...] = ()

    def receivers(self, priority: str, labels: dict[str, str]) -> list[str]:
        """Receivers in route order, each once."""
        found: list[str] = []
        matched = False
        for route in self.routes:
            if route.matches(priority, labels):
                matched = True
                found.extend(r for r in route.receivers if r not in found)
                if not route.continue_:
                    break
        if not matched:
            found.extend(r for r in self.default if r not in found)
        return found

    @classmethod
    def of(cls, routes: Iterable[Route], default: Iterable[str] = ()) -> RouteTable:
        return cls(tuple(routes), tuple(default))
