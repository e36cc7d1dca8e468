"""Triggers: when runs start. Pure code (no I/O; an import-linter contract): interval slots and
cron with deterministic jitter (spread, cron), CloudEvents (events), what a spec change is (specs),
and what bindings expand to (targets). The loops that act on them are in services/."""
