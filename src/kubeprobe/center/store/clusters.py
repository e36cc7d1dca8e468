"""Clusters (credentials encrypted, never returned) and cluster groups (label selectors)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kubeprobe.center.auth import Principal
from kubeprobe.center.credentials import SecretBox
from kubeprobe.center.errors import ConflictError, InvalidInputError
from kubeprobe.center.schemas.clusters import ClusterIn, ClusterOut, ClusterUpdate, GroupIn, GroupOut
from kubeprobe.center.store.common import audit, by_name, check_limit, delete_fact_rows, ensure_new, utcnow
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.tables import Binding, Cluster, ClusterGroup
from kubeprobe.center.triggers.targets import matches
from kubeprobe.kube.config import ClusterConnection, parse_kubeconfig
from kubeprobe.kube.errors import KubeConfigError


async def validate_kubeconfig(text: str, context: str | None) -> ClusterConnection:
    """Resolve the context now so that a bad kubeconfig is refused at registration, not at run time.

    Parsed in a worker thread (up to 90 ms for the largest accepted), then remembered, so the
    event loop's later uses of the same kubeconfig cost a digest (kubeprobe.kube.config).
    """
    try:
        return await asyncio.to_thread(parse_kubeconfig, text, context=context, source="kubeconfig")
    except KubeConfigError as exc:
        raise InvalidInputError(f"kubeconfig: {exc}", field="kubeconfig") from exc


def cluster_out(row: Cluster) -> ClusterOut:
    return ClusterOut(
        name=row.name,
        labels=row.labels,
        context=row.context,
        server=row.server,
        state=row.state,
        state_message=row.state_message,
        version=row.version,
        created=row.created,
        updated=row.updated,
    )


async def create_cluster(
    session: AsyncSession, box: SecretBox, body: ClusterIn, who: Principal
) -> ClusterOut:
    await ensure_new(session, Cluster, body.name, "cluster")
    conn = await validate_kubeconfig(body.kubeconfig, body.context)
    now = utcnow()
    row = Cluster(
        name=body.name,
        labels=body.labels,
        context=conn.context,
        server=conn.server,
        credentials=box.encrypt(body.kubeconfig),
        state="unknown",
        state_message="",
        version="",
        created=now,
        updated=now,
    )
    session.add(row)
    await session.flush()
    audit(session, who, "create", "cluster", body.name, {"labels": body.labels, "server": conn.server})
    return cluster_out(row)


async def update_cluster(
    session: AsyncSession, box: SecretBox, name: str, body: ClusterUpdate, who: Principal
) -> ClusterOut:
    row = await by_name(session, Cluster, name, "cluster")
    changed: dict[str, Any] = {}
    if body.labels is not None:
        row.labels = body.labels
        changed["labels"] = body.labels
    if body.kubeconfig is not None:
        conn = await validate_kubeconfig(body.kubeconfig, body.context)
        row.credentials, row.context, row.server = box.encrypt(body.kubeconfig), conn.context, conn.server
        changed["kubeconfig"] = "replaced"
    elif body.context is not None:
        conn = await validate_kubeconfig(box.decrypt(row.credentials), body.context)
        row.context, row.server = conn.context, conn.server
        changed["context"] = conn.context
    row.updated = utcnow()
    audit(session, who, "update", "cluster", name, changed)
    return cluster_out(row)


async def connection_of(session: AsyncSession, box: SecretBox, name: str) -> ClusterConnection:
    row = await by_name(session, Cluster, name, "cluster")
    return await validate_kubeconfig(box.decrypt(row.credentials), row.context)


async def registered_kubeconfigs(session: AsyncSession) -> dict[str, tuple[bytes, str | None]]:
    """Each registered cluster's encrypted kubeconfig and context by name (`kubeprobe inspect --cluster`)."""
    rows = await session.execute(select(Cluster.name, Cluster.credentials, Cluster.context))
    return {name: (credentials, context or None) for name, credentials, context in rows}


async def set_cluster_state(
    session: AsyncSession, name: str, state: str, message: str, version: str
) -> ClusterOut:
    row = await by_name(session, Cluster, name, "cluster")
    row.state, row.state_message, row.updated = state, message, utcnow()
    if version:
        row.version = version
    return cluster_out(row)


async def list_clusters(
    session: AsyncSession, *, limit: int, after: str | None, labels: dict[str, str] | None = None
) -> list[ClusterOut]:
    query = select(Cluster).order_by(Cluster.name)
    if after:
        query = query.where(Cluster.name > after)
    if not labels:
        rows = (await session.execute(query.limit(check_limit(limit)))).scalars().all()
        return [cluster_out(r) for r in rows]
    rows = (await session.execute(query)).scalars().all()
    return [cluster_out(r) for r in rows if matches(r.labels, labels)][:limit]


async def delete_cluster(session: AsyncSession, name: str, who: Principal) -> None:
    row = await by_name(session, Cluster, name, "cluster")
    await delete_fact_rows(session, cluster_id=row.id)
    await session.delete(row)
    audit(session, who, "delete", "cluster", name)


async def cluster_ids_of_group(session: AsyncSession, group: ClusterGroup) -> dict[int, str]:
    rows = (await session.execute(select(Cluster.id, Cluster.name, Cluster.labels))).all()
    return {cid: name for cid, name, labels in rows if matches(labels, group.selector)}


async def group_out(session: AsyncSession, row: ClusterGroup) -> GroupOut:
    members = sorted((await cluster_ids_of_group(session, row)).values())
    return GroupOut(
        name=row.name,
        selector=row.selector,
        description=row.description,
        clusters=members,
        created=row.created,
    )


async def create_group(session: AsyncSession, body: GroupIn, who: Principal) -> GroupOut:
    await ensure_new(session, ClusterGroup, body.name, "cluster group")
    row = ClusterGroup(name=body.name, selector=body.selector, description=body.description, created=utcnow())
    session.add(row)
    await session.flush()
    audit(session, who, "create", "group", body.name, {"selector": body.selector})
    return await group_out(session, row)


async def replace_group(session: AsyncSession, name: str, body: GroupIn, who: Principal) -> GroupOut:
    row = await by_name(session, ClusterGroup, name, "cluster group")
    if body.name != name:
        raise InvalidInputError(
            f"name: {body.name!r} differs from the path's {name!r}; names cannot change", field="name"
        )
    row.selector, row.description = body.selector, body.description
    audit(session, who, "update", "group", name, {"selector": body.selector})
    return await group_out(session, row)


async def list_groups(session: AsyncSession, *, limit: int, after: str | None) -> list[GroupOut]:
    query = select(ClusterGroup).order_by(ClusterGroup.name).limit(check_limit(limit))
    if after:
        query = query.where(ClusterGroup.name > after)
    return [await group_out(session, r) for r in (await session.execute(query)).scalars().all()]


async def delete_group(session: AsyncSession, name: str, who: Principal) -> None:
    row = await by_name(session, ClusterGroup, name, "cluster group")
    used = (await session.execute(select(Binding.name).where(Binding.group_id == row.id))).scalars().all()
    if used:
        raise ConflictError(
            f"cluster group {name!r} is used by bindings {', '.join(used)}; delete them first"
        )
    await session.delete(row)
    audit(session, who, "delete", "group", name)


async def cluster_id(store: Store, name: str) -> int:
    """The id of the cluster named ``name`` (422 naming the field when there is none)."""
    async with store.transaction() as session:
        cluster = await by_name(session, Cluster, name, "cluster", field="cluster")
        return cluster.id


async def credentials_of(store: Store, ids: set[int]) -> dict[int, tuple[str, bytes, dt.datetime]]:
    """Cluster id → (name, encrypted credentials, when updated: a fingerprint of the credentials)."""
    async with store.transaction() as session:
        rows = await session.execute(
            select(Cluster.id, Cluster.name, Cluster.credentials, Cluster.updated).where(Cluster.id.in_(ids))
        )
        return {cid: (name, creds, updated) for cid, name, creds, updated in rows.all()}


async def get_cluster(session: AsyncSession, name: str) -> ClusterOut:
    return cluster_out(await by_name(session, Cluster, name, "cluster"))


async def get_group(session: AsyncSession, name: str) -> GroupOut:
    return await group_out(session, await by_name(session, ClusterGroup, name, "cluster group"))
