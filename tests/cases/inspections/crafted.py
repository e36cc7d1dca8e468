"""Crafted Kubernetes objects and a way to run one check over them, for the unit tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kubeprobe.cases.inspections.check import Check, CheckContext
from kubeprobe.cases.inspections.settings import InspectionSettings
from kubeprobe.kube.collect import Discovery, ListStats, Resource, Sweep
from kubeprobe.model import Finding

Obj = dict[str, Any]
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def ts(seconds_ago: float) -> str:
    return (NOW - dt.timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def obj(name: str, namespace: str | None = "default", **fields: Any) -> Obj:
    meta: Obj = {"name": name, "uid": f"uid-{namespace}-{name}", "creationTimestamp": ts(86400)}
    if namespace:
        meta["namespace"] = namespace
    meta.update(fields.pop("metadata", {}))
    return {"metadata": meta, **fields}


def make(cls: type[Check], settings: InspectionSettings | None = None, **ctx: Any) -> Check:
    return cls(CheckContext(cluster="test", now=NOW, settings=settings or InspectionSettings(), **ctx))


def run(
    cls: type[Check] | Check,
    objects: list[tuple[Resource, Obj]],
    settings: InspectionSettings | None = None,
    discovery: Discovery | None = None,
    failed: dict[Resource, str] | None = None,
) -> list[Finding]:
    """Feed ``objects`` to a fresh check (or the given instance) and return its findings."""
    check = cls if isinstance(cls, Check) else make(cls, settings)
    sweep = Sweep(discovery=discovery, failed=dict(failed or {}))
    seen: set[Resource] = set()
    for resource, item in objects:
        if resource not in seen:
            seen.add(resource)
            sweep.stats.append(ListStats(resource))
        check.observe(resource, item)
    if discovery:
        for res in discovery.resources:
            if res not in seen:
                sweep.stats.append(ListStats(res))
    return list(check.findings(sweep))


def names(findings: list[Finding]) -> list[str]:
    return sorted(f.object.name for f in findings if f.object)
