"""The center's services: long-running loops, started with the app (workers.py) and stopped with
it. They write no SQL: they call the store.

- scheduler: periodic bindings → pending runs on time (skipping those a maintenance window pauses)
- watches: spec changes of watched objects → runs (SpecWatcher per watched resource)
- dispatcher: pending runs → runners (local processes or pods) → ended runs
- analysis: finished runs → cause, verification, severity → signals
- alerting: signals → incidents → notifications, reminders; maintenance windows
- maintenance: rollups and retention
- metrics: the Prometheus collector over the store
- builtin: the built-in case templates registered at start
- remediation: an approved remediation → one attempt under the defender, exactly once
"""
