"""The center's store: SQLAlchemy 2 async tables, engine, Alembic migrations, queries."""
