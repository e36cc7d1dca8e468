"""The defender's store in the center's database (`kubeprobe.remedy.defender.DefenderStore`).

The state is one JSON row guarded by its version: a commit is ``UPDATE ... SET version = v + 1
WHERE id = 1 AND version = v`` and the audit rows in the same transaction, so two center replicas
never both take what only one may (the loser sees 0 rows updated, writes nothing, and decides
again). The first commit inserts the row; a replica racing it gets a primary-key conflict, which
is the same "someone else was first". The audit is INSERT-only; ``seq`` orders it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert, select, update

from kubeprobe.center.errors import ConflictError
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.tables.remedy import DefenderStateRow, RemedyAuditRow
from kubeprobe.remedy.defender.state import AuditRecord, DefenderState

ROW = 1


class SqlDefenderStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def load(self) -> tuple[int, DefenderState]:
        async with self.store.transaction() as session:
            row = (
                await session.execute(
                    select(DefenderStateRow.version, DefenderStateRow.state).where(DefenderStateRow.id == ROW)
                )
            ).first()
        if row is None:
            return 0, DefenderState()
        return int(row.version), DefenderState.from_dict(row.state)

    async def commit(self, version: int, state: DefenderState, audit: Sequence[AuditRecord]) -> bool:
        try:
            async with self.store.transaction() as session:
                if version == 0:
                    await session.execute(
                        insert(DefenderStateRow).values(id=ROW, version=1, state=state.to_dict())
                    )
                else:
                    result = await session.execute(
                        update(DefenderStateRow)
                        .where(DefenderStateRow.id == ROW, DefenderStateRow.version == version)
                        .values(version=version + 1, state=state.to_dict())
                    )
                    if result.rowcount != 1:  # type: ignore[attr-defined]
                        return False
                if audit:
                    await session.execute(
                        insert(RemedyAuditRow),
                        [
                            {
                                "at": r.at,
                                "event": r.event,
                                "request_id": r.request_id,
                                "cluster": r.cluster,
                                "record": r.to_dict(),
                            }
                            for r in audit
                        ],
                    )
        except ConflictError:
            return False  # another replica inserted the first row
        return True

    async def audit(self, *, after: int = 0, limit: int = 1000) -> list[AuditRecord]:
        async with self.store.transaction() as session:
            rows = (
                await session.execute(
                    select(RemedyAuditRow.seq, RemedyAuditRow.record)
                    .where(RemedyAuditRow.seq > after)
                    .order_by(RemedyAuditRow.seq)
                    .limit(limit)
                )
            ).all()
        return [AuditRecord.from_dict({**row.record, "seq": row.seq}) for row in rows]

    async def audit_of(self, request_id: str, *, limit: int = 1000) -> list[AuditRecord]:
        """The audit of one remediation (its decisions and outcomes), oldest first."""
        async with self.store.transaction() as session:
            rows = (
                await session.execute(
                    select(RemedyAuditRow.seq, RemedyAuditRow.record)
                    .where(RemedyAuditRow.request_id == request_id)
                    .order_by(RemedyAuditRow.seq)
                    .limit(limit)
                )
            ).all()
        return [AuditRecord.from_dict({**row.record, "seq": row.seq}) for row in rows]
