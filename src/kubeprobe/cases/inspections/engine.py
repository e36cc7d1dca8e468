"""The inspection engine: one sweep of one cluster for many checks, and the fleet comparison.

Every check's needs are merged so that each resource is listed once (:mod:`kubeprobe.kube.collect`);
each object streams past every check that needs it. A check that breaks (its extra reads fail, a
resource it needs cannot be listed, or its own code raises) reports an *error* for that check and no
findings: an inspection never turns "could not look" into "found something". An unreachable cluster
ends the whole inspection with :class:`~kubeprobe.kube.errors.KubeError`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kubeprobe.cases.inspections.check import Check, CheckContext, FleetCheck
from kubeprobe.cases.inspections.errors import CheckSkipped, InspectionError
from kubeprobe.cases.inspections.exclusions import Exclusion, apply
from kubeprobe.cases.inspections.report import CheckOutcome, InspectionReport
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.collect import (
    ALL_RESOURCES,
    BIG_FIRST,
    Discovery,
    ListSpec,
    Need,
    Resource,
    Sweep,
    collect,
    discover,
    plan,
)
from kubeprobe.kube.errors import KubeAPIError, KubeConnectionError
from kubeprobe.model import Finding

log = logging.getLogger(__name__)
Obj = dict[str, Any]


@dataclass(frozen=True)
class SweepOptions:
    """``page_size``: objects per page handed to the checks. ``paged``: each LIST asked for in pages
    of that size (continue tokens; else whole, from the API server's watch cache, cut into pages as
    it streams in); ``pipelined=False``: each next page asked for only once the current one is
    decoded (:func:`kubeprobe.kube.collect.pages`). ``pruned=False`` decodes every field of every
    page: the reference for the pruned decoding (:mod:`kubeprobe.kube.decoding`), which gives the
    same findings faster."""

    page_size: int = 500
    concurrency: int = 8
    pruned: bool = True
    paged: bool = False
    pipelined: bool = True


class _Router:
    """Hands each object to the checks that need its resource; isolates a check that raises."""

    def __init__(self, checks: Sequence[Check]) -> None:
        self.by_key: dict[tuple[str, str], list[Check]] = {}
        self.everything: list[Check] = []
        self.broken: dict[str, str] = {}
        for check in checks:
            if any(n.resource == ALL_RESOURCES for n in check.wants()):
                self.everything.append(check)
                continue
            for need in check.wants():
                self.by_key.setdefault(need.resource.key, []).append(check)
        self._cache: dict[tuple[str, str], list[Check]] = {}

    def targets(self, resource: Resource) -> list[Check]:
        """The checks still working that see ``resource``."""
        found = self._cache.get(resource.key)
        if found is None:
            found = [
                c for c in [*self.by_key.get(resource.key, []), *self.everything] if c.id not in self.broken
            ]
            self._cache[resource.key] = found
        return found

    def visit(self, resource: Resource, items: list[Obj]) -> None:
        """One page: each check that sees the resource observes it in turn."""
        for check in self.targets(resource):
            try:
                check.observe_page(resource, items)
            except Exception as exc:  # a bug in one check must not hide the others' findings
                log.exception("check %s failed on %s", check.id, resource)
                self.broken[check.id] = f"check failed on {resource}: {type(exc).__name__}: {exc}"
                self._cache.clear()


async def _gather(check: Check, kube: KubeClient) -> tuple[str | None, str | None]:
    """(error, skipped) of a check's extra reads."""
    try:
        await check.gather(kube)
    except KubeConnectionError:
        raise
    except CheckSkipped as exc:
        return None, str(exc)
    except (KubeAPIError, InspectionError) as exc:
        return f"{type(exc).__name__}: {exc}", None
    return None, None


async def _sweep(
    kube: KubeClient, needs: list[Need], router: _Router, options: SweepOptions
) -> tuple[Sweep, Discovery | None]:
    """The sweep of ``needs``. When they need a discovery (every resource), the biggest LISTs are
    started before it ends, as if discovery listed each resource named (it always lists them), and
    visited once the plan it gives confirms them (:func:`collect`'s ``later``)."""
    kwargs: dict[str, Any] = {
        "limit": options.page_size,
        "concurrency": options.concurrency,
        "pruned": options.pruned,
        "paged": options.paged,
        "pipelined": options.pipelined,
    }
    if not any(n.resource == ALL_RESOURCES for n in needs):
        return await collect(kube, plan(needs), router.visit, **kwargs), None
    discovering = asyncio.create_task(discover(kube))

    async def full_plan() -> list[ListSpec]:
        return plan(needs, await discovering)

    named = Discovery(sorted({n.resource for n in needs if n.resource != ALL_RESOURCES}))
    guess = [s for s in plan(needs, named) if s.resource.key in BIG_FIRST]
    try:
        sweep = await collect(kube, guess, router.visit, later=full_plan(), **kwargs)
    finally:
        discovering.cancel()
    return sweep, discovering.result()


async def inspect(
    kube: KubeClient,
    checks: Iterable[type[Check]],
    ctx: CheckContext,
    *,
    exclusions: Iterable[Exclusion] = (),
    options: SweepOptions | None = None,
) -> InspectionReport:
    """Run ``checks`` against one cluster in one sweep."""
    options = options or SweepOptions()
    started = time.monotonic()
    instances = [cls(ctx) for cls in checks]
    errors: dict[str, str] = {}
    skipped: dict[str, str] = {}

    def record(check: Check, result: tuple[str | None, str | None]) -> None:
        error, skip = result
        if error:
            errors[check.id] = error
        if skip:
            skipped[check.id] = skip

    # Extra reads that observe() depends on come first; the others overlap with the LISTs.
    early = [c for c in instances if c.gather_first]
    late = [c for c in instances if not c.gather_first]
    late_tasks = [asyncio.create_task(_gather(c, kube)) for c in late]
    try:
        for check, result in zip(
            early, await asyncio.gather(*(_gather(c, kube) for c in early)), strict=True
        ):
            record(check, result)
        live = [c for c in instances if c.id not in errors and c.id not in skipped]
        router = _Router(live)
        sweep, discovery = await _sweep(kube, [n for c in live for n in c.wants()], router, options)
        for check, result in zip(late, await asyncio.gather(*late_tasks), strict=True):
            record(check, result)
    finally:
        for task in late_tasks:
            task.cancel()
        await asyncio.gather(*late_tasks, return_exceptions=True)
    sweep.discovery = discovery
    errors.update(router.broken)
    report = InspectionReport(cluster=ctx.cluster)
    findings: list[Finding] = []
    for check in instances:
        if check.id in skipped:
            report.outcomes.append(CheckOutcome(check.id, check.title, skipped=skipped[check.id]))
            continue
        if check.id not in errors:
            failed = [
                f"{r}: {sweep.failed[r]}"
                for n in check.wants()
                for r in sweep.failed
                if n.resource != ALL_RESOURCES and r.key == n.resource.key
            ]
            if failed:
                errors[check.id] = "cannot list " + "; ".join(failed)
        if check.id in errors:
            report.outcomes.append(CheckOutcome(check.id, check.title, error=errors[check.id]))
            continue
        try:
            found = list(check.findings(sweep))
            if isinstance(check, FleetCheck):
                report.fingerprints[check.id] = check.fingerprint()
        except Exception as exc:
            log.exception("check %s failed", check.id)
            report.outcomes.append(
                CheckOutcome(check.id, check.title, error=f"check failed: {type(exc).__name__}: {exc}")
            )
            continue
        kept, dropped = apply(found, exclusions)
        report.excluded += dropped
        findings.extend(kept)
        report.outcomes.append(CheckOutcome(check.id, check.title, findings=len(kept)))
    findings.sort(key=lambda f: (f.severity.rank, f.check_id, str(f.object or "")))
    report.findings = findings
    report.seconds = time.monotonic() - started
    report.objects = sweep.objects
    report.lists = len(sweep.stats)
    report.bytes = sum(s.bytes for s in sweep.stats)
    report.failed_lists = {str(r): msg for r, msg in sweep.failed.items()}
    if discovery:
        report.failed_lists.update({f"discovery:{g}": m for g, m in discovery.stale_groups.items()})
    return report


def compare_fleet(
    reports: Sequence[InspectionReport],
    checks: Iterable[type[Check]],
    ctx: CheckContext,
    *,
    baseline: str | None = None,
    exclusions: Iterable[Exclusion] = (),
) -> list[Finding]:
    """Fleet findings: each fleet check compares the clusters' fingerprints (against ``baseline``
    when given, else the majority). Clusters whose check errored are left out of the comparison."""
    names = [r.cluster for r in reports]
    if baseline is not None and baseline not in names:
        raise InspectionError(f"baseline cluster {baseline!r} is not among the inspected ones: {names}")
    findings: list[Finding] = []
    for cls in checks:
        if not issubclass(cls, FleetCheck):
            continue
        prints = {r.cluster: r.fingerprints[cls.id] for r in reports if cls.id in r.fingerprints}
        if len(prints) < 2:
            continue
        findings.extend(cls.compare(prints, baseline, ctx))
    kept, _ = apply(findings, exclusions)
    return kept
