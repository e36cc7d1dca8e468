"""The center's REST API under /api/v1 (FastAPI): routes only. A route checks the caller's role
(deps.py), calls the store or a service, and returns a model of `schemas/`; it writes no SQL and
defines no models. One module per resource family: resources (clusters, groups, templates, cases,
suites, bindings, tokens, audit), runs, resident, triggers (events, watches, Kuberhealthy), gates,
fleet (the dashboard's reads), analysis, alerting (incidents, receivers, routes), silences, remedy
(remediations, approvals, the kill switch), ops
(health, metrics); errors.py maps the center's errors to HTTP."""
