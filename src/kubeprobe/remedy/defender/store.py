"""Where the defender keeps its state: an interface, and the in-memory implementation.

The contract is compare-and-set on a version number: `load` returns ``(version, state)``;
`commit` writes a new state and appends audit records *in one transaction*, only if the version
is still the one loaded, and says whether it did. A replica that loses the race loads again and
decides again on what the winner left, so no interleaving of replicas can take one slot or token
twice. The SQL implementation (the center's store, migration ``0011_remedy``) keeps the state as
one JSON row guarded by ``UPDATE ... WHERE version = :loaded`` and the audit as an INSERT-only
table; this module's `MemoryDefenderStore` is the same contract in one process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Protocol

from kubeprobe.remedy.defender.state import AuditRecord, DefenderState


class DefenderStore(Protocol):
    async def load(self) -> tuple[int, DefenderState]:
        """The current version and a private copy of the state."""
        ...

    async def commit(self, version: int, state: DefenderState, audit: Sequence[AuditRecord]) -> bool:
        """Write ``state`` and append ``audit`` if the stored version is still ``version``."""
        ...

    async def audit(self, *, after: int = 0, limit: int = 1000) -> list[AuditRecord]:
        """Audit records with ``seq > after``, oldest first."""
        ...


class MemoryDefenderStore:
    """The store contract in memory. State is kept serialised, so no replica ever shares an
    object with another (as with a database)."""

    def __init__(self) -> None:
        self.version = 0
        self._state: dict[str, Any] = DefenderState().to_dict()
        self._audit: list[AuditRecord] = []
        self.conflicts = 0

    async def load(self) -> tuple[int, DefenderState]:
        return self.version, DefenderState.from_dict(self._state)

    async def commit(self, version: int, state: DefenderState, audit: Sequence[AuditRecord]) -> bool:
        if version != self.version:
            self.conflicts += 1
            return False
        self.version += 1
        self._state = state.to_dict()
        for record in audit:
            self._audit.append(replace(record, seq=len(self._audit) + 1))
        return True

    async def audit(self, *, after: int = 0, limit: int = 1000) -> list[AuditRecord]:
        return self._audit[after : after + limit]
