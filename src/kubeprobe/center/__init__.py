"""Control plane: store (SQLAlchemy + Alembic), API (FastAPI), scheduling, gates, ingestion."""
