"""Reading what target expansion needs: enabled bindings, clusters' labels, groups' selectors,
suites' cases and templates' timeouts, in one transaction (the expansion itself is
:func:`kubeprobe.center.triggers.targets.expand_bindings`)."""

from __future__ import annotations

from sqlalchemy import select

from kubeprobe.center.store.database import Store
from kubeprobe.center.store.tables import Binding, Case, CaseTemplate, Cluster, ClusterGroup, SuiteCase
from kubeprobe.center.triggers.targets import Target, expand_bindings


async def expand(store: Store, *, only_cluster: int | None = None, periodic: bool = True) -> list[Target]:
    """All targets of enabled bindings (periodic ones, or all when ``periodic`` is False)."""
    async with store.transaction() as session:
        bindings = (
            await session.execute(
                select(
                    Binding.id,
                    Binding.case_id,
                    Binding.suite_id,
                    Binding.cluster_id,
                    Binding.group_id,
                    Binding.interval_seconds,
                    Binding.cron,
                    Binding.jitter_seconds,
                    Binding.timeout_seconds,
                    Binding.concurrency,
                    Binding.events,
                    Binding.watch,
                ).where(Binding.enabled.is_(True))
            )
        ).all()
        clusters = [
            (cid, labels) for cid, labels in (await session.execute(select(Cluster.id, Cluster.labels)))
        ]
        selectors: dict[int, dict[str, str]] = dict(
            (await session.execute(select(ClusterGroup.id, ClusterGroup.selector))).all()
        )
        case_timeouts = dict(
            (
                await session.execute(
                    select(Case.id, CaseTemplate.timeout_seconds).join(
                        CaseTemplate, Case.template_id == CaseTemplate.id
                    )
                )
            ).all()
        )
        suites: dict[int, list[int]] = {}
        for suite_id, case_id in (await session.execute(select(SuiteCase.suite_id, SuiteCase.case_id))).all():
            suites.setdefault(suite_id, []).append(case_id)
    return expand_bindings(
        bindings,
        clusters,
        selectors,
        suites,
        case_timeouts,
        only_cluster=only_cluster,
        periodic=periodic,
    )
