"""The center: the control plane. Where each concept of DESIGN.md lives:

```
center/
  app.py          create_app: the lifespan opens the store, registers built-in cases, starts the services
  settings.py     CenterSettings: the KUBEPROBE_* tree in groups (store, server, secrets, dispatch,
                  retention, analysis, links), passed down; ClientSettings for the CLI
  errors.py       the center's error tree (HTTP status of each)
  auth.py         tokens and roles (Principal); credentials.py: cluster credentials encrypted at rest
  gates.py        the gate rule: pending / pass / block over a gate's runs
  schemas/        API models only (pydantic), one module per resource family: catalog, clusters,
                  bindings, tokens, runs, resident, triggers, gates, fleet, analysis, alerting, silences
  triggers/       pure: cron and interval spreading, CloudEvents, spec changes, binding → targets
  services/       long-running loops, no SQL: scheduler, watches, dispatcher, analysis, alerting
                  (incidents and notifications), maintenance, metrics, leases (HA: cluster owners,
                  the singletons' leader); workers.py starts them
  store/          every SQL statement: tables/ by area, migrations/, one module per concern
                  (runs, pending, dispatching, gates, silences, routing, incident_log, ...)
  api/            routes only, one module per resource family
```

Imports point down: app > api > services > store > schemas | triggers | gates > credentials >
settings | auth | errors, SQLAlchemy only in store, triggers and gates pure (import-linter
contracts in pyproject.toml). The run lifecycle and its groupings of states are
:mod:`kubeprobe.model.runs`'s.
"""
