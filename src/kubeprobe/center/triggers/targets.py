"""Target expansion: what an enabled binding means in (binding, case, cluster) targets.

A binding names a case or a suite (its cases) and a cluster or a group (the clusters whose labels
match the group's selector, now). Each target carries what firing it needs: interval or cron,
jitter, timeout, concurrency policy, change-event filters and watched objects. Pure: the rows come
from :mod:`kubeprobe.center.store.targets`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kubeprobe.center.triggers.specs import WatchTarget


@dataclass(frozen=True)
class Target:
    """One (binding, case, cluster) that a binding expands to."""

    binding_id: int
    case_id: int
    cluster_id: int
    interval: float | None
    cron: str | None
    jitter: float
    timeout: float | None
    concurrency: str
    events: tuple[str, ...] = ()
    watches: tuple[WatchTarget, ...] = ()
    case_timeout: float | None = None  # the template's, read with the bindings

    @property
    def key(self) -> str:
        return f"{self.binding_id}/{self.case_id}/{self.cluster_id}"


class BindingRow(Protocol):
    """The columns of a binding that expansion reads."""

    @property
    def id(self) -> int: ...
    @property
    def case_id(self) -> int | None: ...
    @property
    def suite_id(self) -> int | None: ...
    @property
    def cluster_id(self) -> int | None: ...
    @property
    def group_id(self) -> int | None: ...
    @property
    def interval_seconds(self) -> float | None: ...
    @property
    def cron(self) -> str | None: ...
    @property
    def jitter_seconds(self) -> float: ...
    @property
    def timeout_seconds(self) -> float | None: ...
    @property
    def concurrency(self) -> str: ...
    @property
    def events(self) -> list[str] | None: ...
    @property
    def watch(self) -> list[dict[str, Any]] | None: ...


def matches(labels: Mapping[str, Any], selector: Mapping[str, str]) -> bool:
    """A group's selector: every key has exactly that value in the cluster's labels."""
    return all(labels.get(k) == v for k, v in selector.items())


def watch_target(stored: dict[str, Any]) -> WatchTarget:
    """A binding's stored watch (see ``schemas.bindings.WatchIn``) as a WatchTarget."""
    return WatchTarget(
        stored.get("api_version", "v1"),
        stored["resource"],
        stored.get("namespace"),
        stored.get("label_selector"),
        stored.get("name"),
    )


def expand_bindings(
    bindings: Iterable[BindingRow],
    clusters: Sequence[tuple[int, dict[str, Any] | None]],
    selectors: Mapping[int, dict[str, str]],
    suites: Mapping[int, list[int]],
    case_timeouts: Mapping[int, float],
    *,
    only_cluster: int | None = None,
    periodic: bool = True,
) -> list[Target]:
    """All targets of the bindings (periodic ones only, unless ``periodic`` is False).
    ``clusters``: (id, labels); ``selectors``: group id → selector; ``suites``: suite id → case ids."""
    targets = []
    for b in bindings:
        if periodic and not (b.interval_seconds or b.cron):
            continue
        watches = tuple(watch_target(w) for w in b.watch or [])
        cases = [b.case_id] if b.case_id else suites.get(b.suite_id or -1, [])
        if b.cluster_id:
            cluster_ids = [b.cluster_id]
        else:
            selector = selectors.get(b.group_id) if b.group_id is not None else None
            cluster_ids = [
                cid for cid, labels in clusters if selector is not None and matches(labels or {}, selector)
            ]
        for case_id in cases:
            for cluster_id in cluster_ids:
                if only_cluster is None or cluster_id == only_cluster:
                    targets.append(
                        Target(
                            b.id,
                            case_id,
                            cluster_id,
                            b.interval_seconds,
                            b.cron,
                            b.jitter_seconds,
                            b.timeout_seconds,
                            b.concurrency,
                            tuple(b.events or ()),
                            watches,
                            case_timeouts.get(case_id),
                        )
                    )
    return targets
