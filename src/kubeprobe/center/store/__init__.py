"""The center's store: every SQL statement of the center (SQLAlchemy 2 async), its tables
(tables/, one module per area) and Alembic migrations. Nothing outside store/ imports SQLAlchemy
(an import-linter contract). Functions take an open session (``store.transaction()``) or the
Store; they take validated input models of `schemas/` and return the API's views or plain rows.

- database, engine, common: the Store, engines, migrations; helpers (by name, audit, cursors, bulk inserts)
- catalog, clusters, bindings, tokens: resources
- targets, pending, dispatching: what bindings expand to, creating pending runs, claiming/ending them
- runs, ingestion, status, resident: runs, reported results, latest status, resident reports
- rollups, health, fleet, metrics: aggregates and read models
- gates, analysis: gates' runs and history; run analysis and feedback
- incident_log, routing, silences: incidents and deliveries; receivers and routes; silences
- remedy, remediations: the defender's shared state and audit (SqlDefenderStore); remediations
"""
