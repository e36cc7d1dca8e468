"""Remediations in the store. Every state change is one conditional UPDATE (``WHERE state =
:expected``), so of two approvals, or two replicas claiming an approved remediation, exactly one
changes the row; the other sees 0 rows and changes nothing. A policy's proposal for an incident
(:func:`propose_unless_changed`) checks and inserts under a lock per incident, so two replicas
that decided on the same step at once write it once."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from kubeprobe.center.errors import NotFoundError
from kubeprobe.center.schemas.remedy import RemediationIn, RemediationOut
from kubeprobe.center.store.tables import Cluster
from kubeprobe.center.store.tables.remedy import RemediationRow


def remediation_out(row: RemediationRow) -> RemediationOut:
    return RemediationOut.model_validate(row, from_attributes=True)


async def propose(
    session: AsyncSession,
    body: RemediationIn,
    kind: str,
    by: str,
    state: str,
    *,
    policy: tuple[str, int, int] = ("", 0, 0),
) -> RemediationOut:
    """A new remediation; ``policy`` is (name, version, ladder step) when a policy proposed it."""
    now = time.time()
    row = RemediationRow(
        cluster=body.cluster,
        action=body.action,
        kind=kind,
        name=body.name,
        namespace=body.namespace,
        params=body.params,
        mode=str(body.mode),
        state=state,
        proposed_by=by,
        approver="",
        created=now,
        updated=now,
        result={},
        incident_id=body.incident_id,
        policy=policy[0],
        policy_version=policy[1],
        step=policy[2],
    )
    session.add(row)
    await session.flush()
    return remediation_out(row)


#: The first key of ``pg_advisory_xact_lock(key, incident)``: one incident's proposals, one at a time.
PROPOSAL_LOCK = 0x6B7072


async def propose_unless_changed(
    session: AsyncSession,
    body: RemediationIn,
    kind: str,
    by: str,
    state: str,
    *,
    policy: tuple[str, int, int],
    seen: int,
) -> RemediationOut | None:
    """Propose ``body`` for its incident only if the incident still has the ``seen`` remediations
    of the policy that the caller decided on; None when another replica proposed meanwhile.

    The check and the insert hold the incident's lock until commit: on PostgreSQL an advisory
    transaction lock (the later replica waits, then counts what the first committed); SQLite's
    reads take no lock, so an empty UPDATE first makes this transaction its one writer."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:k, :i)"), {"k": PROPOSAL_LOCK, "i": body.incident_id}
        )
    else:
        await session.execute(update(RemediationRow).where(RemediationRow.id == -1).values(updated=0))
    count = await session.scalar(
        select(func.count())
        .select_from(RemediationRow)
        .where(RemediationRow.incident_id == body.incident_id, RemediationRow.policy == policy[0])
    )
    if count != seen:
        return None
    return await propose(session, body, kind, by, state, policy=policy)


async def get(session: AsyncSession, rid: int) -> RemediationOut:
    row = await session.get(RemediationRow, rid)
    if row is None:
        raise NotFoundError(f"no remediation {rid}")
    return remediation_out(row)


async def list_remediations(
    session: AsyncSession, *, state: str | None, limit: int, incident: int | None = None
) -> list[RemediationOut]:
    query = select(RemediationRow).order_by(RemediationRow.id.desc()).limit(limit)
    if state:
        query = query.where(RemediationRow.state == state)
    if incident is not None:
        query = query.where(RemediationRow.incident_id == incident)
    return [remediation_out(r) for r in (await session.execute(query)).scalars()]


async def transition(
    session: AsyncSession,
    rid: int,
    expected: str,
    new: str,
    *,
    approver: str | None = None,
    result: dict[str, Any] | None = None,
) -> bool:
    """Move ``rid`` from ``expected`` to ``new``; False (nothing changed) if it was not in ``expected``."""
    values: dict[str, Any] = {"state": new, "updated": time.time()}
    if approver is not None:
        values["approver"] = approver
    if result is not None:
        values["result"] = result
    done = await session.execute(
        update(RemediationRow)
        .where(RemediationRow.id == rid, RemediationRow.state == expected)
        .values(**values)
    )
    return bool(done.rowcount == 1)  # type: ignore[attr-defined]


async def cluster_count(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(Cluster))).scalar_one())
