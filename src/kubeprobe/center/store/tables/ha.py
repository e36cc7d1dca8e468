"""Tables of the HA center: leases (a replica's liveness, each cluster's owner, the leader of the
fleet's singletons). A run's owning replica is ``runs.owner`` (see tables.runs)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kubeprobe.center.store.tables.base import Base


class Lease(Base):
    """One lease: ``replica:<id>`` (held by that replica while it lives), ``cluster:<id>`` (the
    replica that schedules, dispatches and watches that cluster) or ``leader`` (the singletons).
    ``fence`` grows by one each time the lease changes hands; ``expires`` is by the database's
    clock on PostgreSQL, so replicas' clocks need not agree."""

    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(String(160), primary_key=True)
    cluster_id: Mapped[int | None] = mapped_column(Integer, index=True)
    holder: Mapped[str] = mapped_column(String(128))
    fence: Mapped[int] = mapped_column(BigInteger)
    acquired: Mapped[dt.datetime]
    renewed: Mapped[dt.datetime]
    expires: Mapped[dt.datetime]
