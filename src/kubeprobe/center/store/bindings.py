"""Bindings: a case or suite bound to a cluster or group, with triggers, timeout, concurrency, severity."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kubeprobe.center.auth import Principal
from kubeprobe.center.errors import InvalidInputError
from kubeprobe.center.schemas.bindings import BindingIn, BindingOut, WatchIn
from kubeprobe.center.store.common import audit, by_name, check_limit, ensure_new, utcnow
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.tables import Binding, Case, Cluster, ClusterGroup, Suite
from kubeprobe.model.schedule import CronScheduleError, check_cron


async def _name_of(
    session: AsyncSession, model: type[Case | Suite | Cluster | ClusterGroup], id_: int | None
) -> str | None:
    if id_ is None:
        return None
    return str((await session.execute(select(model.name).where(model.id == id_))).scalar_one())


async def binding_out(session: AsyncSession, row: Binding) -> BindingOut:
    return BindingOut(
        name=row.name,
        case=await _name_of(session, Case, row.case_id),
        suite=await _name_of(session, Suite, row.suite_id),
        cluster=await _name_of(session, Cluster, row.cluster_id),
        group=await _name_of(session, ClusterGroup, row.group_id),
        interval_seconds=row.interval_seconds,
        jitter_seconds=row.jitter_seconds,
        cron=row.cron,
        events=row.events,
        watch=[WatchIn.model_validate(w) for w in row.watch or []],
        timeout_seconds=row.timeout_seconds,
        concurrency=row.concurrency,
        severity=row.severity,
        enabled=row.enabled,
        created=row.created,
        error=row.error,
    )


async def _apply(session: AsyncSession, row: Binding, body: BindingIn) -> None:
    if body.cron is not None:
        try:
            check_cron(body.cron)
        except CronScheduleError as exc:
            raise InvalidInputError(f"cron: {exc}", field="cron") from exc
    row.error = None  # checked just now; the scheduler sets it again if it still cannot plan it
    if body.interval_seconds is not None and body.jitter_seconds >= body.interval_seconds:
        raise InvalidInputError("jitter_seconds: must be less than interval_seconds", field="jitter_seconds")
    row.case_id = (await by_name(session, Case, body.case, "case", field="case")).id if body.case else None
    row.suite_id = (
        (await by_name(session, Suite, body.suite, "suite", field="suite")).id if body.suite else None
    )
    row.cluster_id = (
        (await by_name(session, Cluster, body.cluster, "cluster", field="cluster")).id
        if body.cluster
        else None
    )
    row.group_id = (
        (await by_name(session, ClusterGroup, body.group, "cluster group", field="group")).id
        if body.group
        else None
    )
    row.interval_seconds, row.jitter_seconds, row.cron = body.interval_seconds, body.jitter_seconds, body.cron
    row.events, row.timeout_seconds, row.concurrency = (
        list(body.events),
        body.timeout_seconds,
        body.concurrency,
    )
    row.severity, row.enabled = str(body.severity), body.enabled
    keys = [w.key() for w in body.watch]
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise InvalidInputError(f"watch: {dup} is listed twice; list each watch once", field="watch")
    row.watch = [w.model_dump(exclude_none=True) for w in body.watch]


async def create_binding(session: AsyncSession, body: BindingIn, who: Principal) -> BindingOut:
    await ensure_new(session, Binding, body.name, "binding")
    row = Binding(name=body.name, created=utcnow())
    await _apply(session, row, body)
    session.add(row)
    await session.flush()
    audit(session, who, "create", "binding", body.name, body.model_dump(mode="json", exclude={"name"}))
    return await binding_out(session, row)


async def replace_binding(session: AsyncSession, name: str, body: BindingIn, who: Principal) -> BindingOut:
    row = await by_name(session, Binding, name, "binding")
    if body.name != name:
        raise InvalidInputError(
            f"name: {body.name!r} differs from the path's {name!r}; names cannot change", field="name"
        )
    await _apply(session, row, body)
    audit(session, who, "update", "binding", name, body.model_dump(mode="json", exclude={"name"}))
    return await binding_out(session, row)


async def list_bindings(
    session: AsyncSession,
    *,
    limit: int,
    after: str | None,
    cluster: str | None = None,
    case: str | None = None,
) -> list[BindingOut]:
    query = select(Binding).order_by(Binding.name).limit(check_limit(limit))
    if after:
        query = query.where(Binding.name > after)
    if cluster:
        query = query.where(
            Binding.cluster_id == (await by_name(session, Cluster, cluster, "cluster", field="cluster")).id
        )
    if case:
        query = query.where(Binding.case_id == (await by_name(session, Case, case, "case", field="case")).id)
    return [await binding_out(session, r) for r in (await session.execute(query)).scalars().all()]


async def delete_binding(session: AsyncSession, name: str, who: Principal) -> None:
    row = await by_name(session, Binding, name, "binding")
    await session.delete(row)
    audit(session, who, "delete", "binding", name)


async def get_binding(session: AsyncSession, name: str) -> BindingOut:
    return await binding_out(session, await by_name(session, Binding, name, "binding"))


async def record_errors(store: Store, errors: dict[int, str]) -> None:
    """Why the scheduler skips each of these bindings (by id), shown on the binding; every other
    binding's error is cleared. Writes only what changes."""
    async with store.transaction() as session:
        await session.execute(
            update(Binding).where(Binding.error.is_not(None), Binding.id.not_in(errors)).values(error=None)
        )
        for binding_id, error in errors.items():
            await session.execute(
                update(Binding)
                .where(Binding.id == binding_id, Binding.error.is_distinct_from(error))
                .values(error=error)
            )
