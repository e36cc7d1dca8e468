"""Crafted Kubernetes objects and a way to run one check over them, for the unit tests."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import orjson

from kubeprobe.cases.inspections.check import Check, CheckContext
from kubeprobe.cases.inspections.settings import InspectionSettings
from kubeprobe.kube.collect import ALL_RESOURCES, Discovery, ListStats, Resource, Sweep
from kubeprobe.kube.decoding import page_decoder
from kubeprobe.kube.streaming import Cutter
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


def pruned(resource: Resource, item: Obj, metadata_only: bool) -> Obj:
    """``item`` as a sweep hands it to checks: in a LIST as the API server writes it (twice), cut
    from the stream into pages of one (:mod:`kubeprobe.kube.streaming`) and decoded like a page of
    its LIST (pruned)."""
    meta = {"resourceVersion": "1"}
    body = orjson.dumps({"kind": "List", "apiVersion": "v1", "metadata": meta, "items": [item, item]})
    cutter = Cutter(1, page_decoder(resource.key, metadata_only))
    pages = [page for at in range(0, len(body), 64) for page in cutter.feed(body[at : at + 64])]
    items = [x for page in [*pages, cutter.finish()] for x in page["items"]]
    assert len(items) == 2
    assert items[0] == items[1]
    decoded: Obj = items[0]
    return decoded


def _metadata_only(check: Check, resource: Resource) -> bool:
    """Whether a sweep of this check alone lists the resource metadata-only (as the plan merges)."""
    matching = [n for n in check.wants() if n.resource == ALL_RESOURCES or n.resource.key == resource.key]
    return bool(matching) and all(n.metadata_only for n in matching)


def _findings(
    check: Check,
    objects: list[tuple[Resource, Obj]],
    discovery: Discovery | None,
    failed: dict[Resource, str] | None,
) -> list[Finding]:
    sweep = Sweep(discovery=discovery, failed=dict(failed or {}))
    seen: set[Resource] = set()
    for resource, item in objects:
        if resource not in seen:
            seen.add(resource)
            sweep.stats.append(ListStats(resource))
        check.observe_page(resource, [item])
    if discovery:
        for res in discovery.resources:
            if res not in seen:
                sweep.stats.append(ListStats(res))
    return list(check.findings(sweep))


def run(
    cls: type[Check] | Check,
    objects: list[tuple[Resource, Obj]],
    settings: InspectionSettings | None = None,
    discovery: Discovery | None = None,
    failed: dict[Resource, str] | None = None,
) -> list[Finding]:
    """Feed ``objects`` to a fresh check (or the given instance) and return its findings.

    Every call is also a before/after test of the pruned decoding: twins of the check see the
    objects as the sweep decodes them (whole objects pruned to the fields checks read, and
    metadata-only where the check asks for that) and must find exactly the same.
    """
    check = cls if isinstance(cls, Check) else make(cls, settings)
    twins = [copy.deepcopy(check), copy.deepcopy(check)]
    found = _findings(check, objects, discovery, failed)
    as_listed = [(r, pruned(r, o, metadata_only=False)) for r, o in objects]
    as_metadata = [(r, pruned(r, o, _metadata_only(check, r))) for r, o in objects]
    for twin, seen in zip(twins, (as_listed, as_metadata), strict=True):
        assert _findings(twin, seen, discovery, failed) == found, "pruned decoding changed the findings"
    return found


def names(findings: list[Finding]) -> list[str]:
    return sorted(f.object.name for f in findings if f.object)
