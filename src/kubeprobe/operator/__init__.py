"""The resident ProbeOperator: ProbeConfig CRD, probe loops, denoising, token buckets, the report buffer.

- ``spec``: a ProbeConfig's spec parsed into frozen records (rules, budget).
- ``denoise``: raw results → healthy / degraded / failing / unknown (F-of-N, recovery, flapping).
- ``bucket``: token buckets (per config and global) with an injectable clock.
- ``buffer``: the bounded on-disk SQLite outbox, replayed in order with idempotency keys.
- ``reporting``: state changes and summaries → buffer → batched POSTs to the center.
- ``probes``: fast API-level probes (API server read/write, etcd, watch liveness, pod scheduling).
- ``loop``: one ProbeConfig's results: denoise, report changes and summaries (constant work a run).
- ``scheduler``: one heap for every loop, fired in slots by one task: jittered fixed-rate starts,
  runs in flight bounded, timeouts, skipped ticks, lateness.
- ``runtime``: ``ProbeOperator``, which owns the loops, the scheduler, the reporter and status writing.
- ``handlers``: the kopf glue (watch ProbeConfigs, peering, login); ``manifests/``: CRD, RBAC, Deployment.
"""
