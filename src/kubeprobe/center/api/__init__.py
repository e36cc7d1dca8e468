"""The center's REST API under /api/v1 (FastAPI): resources, runs, results, health, metrics."""
