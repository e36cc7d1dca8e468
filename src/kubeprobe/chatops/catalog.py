"""The names the bot resolves against (the center's clusters and cases), with "did you mean ...?"."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

NameKind = Literal["cluster", "case"]


@dataclass(frozen=True)
class Catalog:
    """Known cluster and case names. Lookups are exact; near misses get suggestions."""

    clusters: frozenset[str] = field(default_factory=frozenset)
    cases: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, clusters: list[str] | set[str], cases: list[str] | set[str]) -> Catalog:
        return cls(frozenset(clusters), frozenset(cases))

    @classmethod
    def from_file(cls, path: Path) -> Catalog:
        """A JSON file ``{"clusters": [...], "cases": [...]}``."""
        try:
            data = json.loads(path.read_text())
            return cls.of(list(data.get("clusters", [])), list(data.get("cases", [])))
        except (OSError, ValueError, AttributeError, TypeError) as exc:
            raise ValueError(
                f"{path}: not a catalog file like {{'clusters': [...], 'cases': [...]}}: {exc}"
            ) from exc

    def kind_of(self, name: str) -> NameKind | None:
        for candidate in dict.fromkeys((name, name.lower())):
            if candidate in self.clusters:
                return "cluster"
            if candidate in self.cases:
                return "case"
        return None

    def canonical(self, name: str) -> str:
        """The catalog's spelling of a name found case-insensitively."""
        return name if name in self.clusters or name in self.cases else name.lower()

    def names(self, kind: NameKind) -> frozenset[str]:
        return self.clusters if kind == "cluster" else self.cases

    def suggest(self, word: str, kind: NameKind | None = None, limit: int = 3) -> list[tuple[NameKind, str]]:
        """Known names close to ``word`` (typos, a missing dash), best first."""
        kinds: tuple[NameKind, ...] = (kind,) if kind else ("cluster", "case")
        scored: list[tuple[float, NameKind, str]] = []
        for k in kinds:
            for name in difflib.get_close_matches(word.lower(), self.names(k), n=limit, cutoff=0.75):
                scored.append((difflib.SequenceMatcher(None, word.lower(), name).ratio(), k, name))
        scored.sort(key=lambda t: -t[0])
        return [(k, n) for _, k, n in scored[:limit]]
