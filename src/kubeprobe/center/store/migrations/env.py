"""Alembic environment: runs on the connection that kubeprobe.center.store.engine.migrate passes in."""

from __future__ import annotations

from alembic import context

from kubeprobe.center.store.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations through kubeprobe.center.store.engine.migrate (it passes a connection)"
    )
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
