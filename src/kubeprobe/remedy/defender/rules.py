"""The defender's rules as pure functions of (state, settings, request, observation, now).

`evaluate` checks, in this order and collecting every reason (the audit shows all of them):
freezes (pause per scope = kill switch, maintenance window, release gate), storms (share of a
pool, cluster or fleet unhealthy; the cluster unreachable from the center or from its peers:
act on nothing and page P1 once per storm), the breaker of (action, cluster), the target's slot
and lease, caps (nodes unhealthy or in remediation per pool and cluster, actions in flight and
control-plane actions per cluster, clusters in remediation across the fleet), then rate limits
(token buckets per (action, cluster) and fleet-wide, the minimum gap between disruptive actions on
different targets of a cluster: the steps of a sequence on one node are one remediation).
Only a request that passes everything and is not ``dry`` takes anything: one token from each
bucket, the disruptive gap, and a slot with a new fencing token.

Clocks of replicas differ a little: time that seems to run backwards refills nothing and passes
no gap, so skew only ever makes the defender stricter.
"""

from __future__ import annotations

from kubeprobe.remedy.defender.requests import (
    Decision,
    Denial,
    Lease,
    Observation,
    Page,
    Request,
    RiskTier,
)
from kubeprobe.remedy.defender.settings import DefenderSettings, effective_cap
from kubeprobe.remedy.defender.state import Bucket, DefenderState, Slot, Storm

FLEET_BUCKET = "*|*"


def bucket_key(action: str, cluster: str) -> str:
    return f"{action}|{cluster}"


def refill(state: DefenderState, key: str, per_hour: float, burst: float, now: float) -> float:
    """Tokens in a bucket now (a missing bucket is full)."""
    bucket = state.buckets.get(key)
    if bucket is None:
        return burst
    elapsed = max(0.0, now - bucket.at)
    return min(burst, bucket.tokens + elapsed * per_hour / 3600.0)


def _take(state: DefenderState, key: str, per_hour: float, burst: float, now: float) -> None:
    tokens = refill(state, key, per_hour, burst, now)
    bucket = state.buckets.get(key)
    at = now if bucket is None else max(now, bucket.at)
    state.buckets[key] = Bucket(tokens=tokens - 1.0, at=at)


def check_freezes(state: DefenderState, req: Request, obs: Observation) -> list[Denial]:
    out: list[Denial] = []
    cluster, action = req.target.cluster, req.action
    for key in (f"{cluster}|{action}", f"{cluster}|*", f"*|{action}", "*|*"):
        pause = state.pauses.get(key)
        if pause is not None:
            where = key.replace("*", "every")
            out.append(Denial("freeze.pause", f"paused by {pause.by} ({where}): {pause.reason}"))
    if obs.maintenance:
        out.append(Denial("freeze.maintenance", f"cluster {cluster} is in a maintenance window"))
    if obs.gate_in_progress:
        out.append(Denial("freeze.gate", f"a release gate is in progress on {cluster}"))
    return out


def _storms_seen(req: Request, obs: Observation, settings: DefenderSettings) -> dict[str, str]:
    """Storm scopes observed right now, with why."""
    rules, seen = settings.storm, {}
    cluster = req.target.cluster
    if obs.fleet_clusters > 0 and obs.fleet_unhealthy_clusters / obs.fleet_clusters > rules.cluster_share:
        seen["fleet"] = f"{obs.fleet_unhealthy_clusters} of {obs.fleet_clusters} clusters unhealthy"
    health = obs.cluster
    if not health.reachable:
        seen[f"cluster:{cluster}"] = f"the center cannot reach cluster {cluster}"
    elif not health.peers_reachable:
        seen[f"cluster:{cluster}"] = f"peers cannot reach cluster {cluster} either"
    else:
        scopes: list[tuple[str, str | None]] = [(f"cluster:{cluster}", None)]
        if req.target.is_node and req.target.pool:
            scopes.append((f"pool:{cluster}/{req.target.pool}", req.target.pool))
        for scope, pool in scopes:
            total, bad = health.node_count(pool), health.unhealthy_count(pool)
            if total >= rules.min_nodes and bad / total > rules.node_share:
                seen[scope] = f"{bad} of {total} nodes unhealthy in {scope}"
    return seen


def check_storms(
    state: DefenderState, settings: DefenderSettings, req: Request, obs: Observation, now: float
) -> tuple[list[Denial], list[Page]]:
    """Record storms seen now; deny while any storm over the request's scopes holds (seen now or
    within the cool-down); page P1 when a storm starts."""
    cooldown = settings.storm.cooldown_seconds
    for key in [k for k, s in state.storms.items() if now - s.last_seen > cooldown]:
        del state.storms[key]
    pages: list[Page] = []
    for scope, reason in _storms_seen(req, obs, settings).items():
        storm = state.storms.get(scope)
        if storm is None:
            state.storms[scope] = Storm(since=now, last_seen=now, reason=reason)
            pages.append(Page("P1", scope, f"remediation storm: {reason}; acting on nothing"))
        else:
            storm.last_seen, storm.reason = max(storm.last_seen, now), reason
    scopes = {"fleet", f"cluster:{req.target.cluster}", f"pool:{req.target.cluster}/{req.target.pool}"}
    denials = [
        Denial(f"storm.{_storm_kind(s.reason)}", f"storm in {scope}: {s.reason}")
        for scope, s in sorted(state.storms.items())
        if scope in scopes
    ]
    return denials, pages


def _storm_kind(reason: str) -> str:
    if "center cannot reach" in reason:
        return "unreachable"
    if "peers cannot" in reason:
        return "peers"
    return "share"


def check_breaker(state: DefenderState, req: Request) -> list[Denial]:
    breaker = state.breakers.get(bucket_key(req.action, req.target.cluster))
    if breaker is not None and breaker.open:
        return [Denial("breaker.open", f"breaker of {req.action} on {req.target.cluster}: {breaker.reason}")]
    return []


def check_slot(state: DefenderState, req: Request, now: float) -> list[Denial]:
    """One remediation per target; its own later attempts reuse its slot once nothing runs."""
    slot = state.slots.get(req.target.key)
    if slot is None:
        return []
    if slot.request_id != req.id:
        return [Denial("target.busy", f"{req.target.key} is in remediation {slot.request_id}")]
    if slot.status == "running" and slot.until > now:
        return [Denial("lease.held", f"attempt {slot.attempts} holds the lease until {slot.until:.0f}")]
    return []


def check_caps(
    state: DefenderState, settings: DefenderSettings, req: Request, obs: Observation
) -> tuple[list[Denial], dict[str, float]]:
    caps, out = settings.caps, []
    cluster, key = req.target.cluster, req.target.key
    others = [s for k, s in state.slots.items() if k != key]
    in_cluster = [s for s in others if s.cluster == cluster]
    counters: dict[str, float] = {"in_flight_cluster": len(in_cluster) + 1}
    if len(in_cluster) + 1 > caps.in_flight_per_cluster:
        out.append(Denial("cap.in_flight", f"{len(in_cluster)} remediations in flight on {cluster}"))
    if req.control_plane:
        cp = sum(1 for s in in_cluster if s.control_plane) + 1
        counters["control_plane_cluster"] = cp
        if cp > caps.control_plane_per_cluster:
            out.append(Denial("cap.control_plane", f"a control-plane remediation runs on {cluster}"))
    clusters = {s.cluster for s in others} | {cluster}
    fleet_cap = effective_cap(None, caps.clusters_in_remediation_percent, obs.fleet_clusters)
    counters["clusters_in_remediation"] = len(clusters)
    if fleet_cap is not None and len(clusters) > fleet_cap:
        out.append(Denial("cap.fleet", f"{len(clusters)} clusters would be in remediation (cap {fleet_cap})"))
    if req.target.is_node:
        out.extend(_node_caps(settings, req, obs, in_cluster, counters))
    return out, counters


def _node_caps(
    settings: DefenderSettings,
    req: Request,
    obs: Observation,
    in_cluster: list[Slot],
    counters: dict[str, float],
) -> list[Denial]:
    caps, health, out = settings.caps, obs.cluster, []
    scopes: list[tuple[str, str | None, int | None, float | None]] = [
        ("cluster", None, caps.cluster_nodes, caps.cluster_nodes_percent),
        ("pool", req.target.pool, caps.pool_nodes, caps.pool_nodes_percent),
    ]
    for scope, pool, absolute, percent in scopes:
        in_rem = {s.name for s in in_cluster if s.kind == "Node" and (pool is None or s.pool == pool)}
        in_rem.add(req.target.name)
        extra = sum(1 for n in in_rem if not health.is_unhealthy(n))
        total = health.node_count(pool)
        count = health.unhealthy_count(pool) + extra
        cap = effective_cap(absolute, percent, total)
        counters[f"{scope}_nodes"] = total
        counters[f"{scope}_unhealthy_or_in_remediation"] = count
        if cap is not None and count > cap:
            where = req.target.cluster if pool is None else f"pool {pool!r}"
            out.append(
                Denial(
                    f"cap.{scope}",
                    f"{count} of {total} nodes unhealthy or in remediation in {where} (cap {cap})",
                )
            )
    return out


def check_rates(
    state: DefenderState, settings: DefenderSettings, req: Request, now: float
) -> tuple[list[Denial], dict[str, float]]:
    rates, out = settings.rates, []
    cluster = req.target.cluster
    mine = refill(state, bucket_key(req.action, cluster), rates.action_per_hour, rates.action_burst, now)
    fleet = refill(state, FLEET_BUCKET, rates.fleet_per_hour, rates.fleet_burst, now)
    counters = {"tokens_action": round(mine, 3), "tokens_fleet": round(fleet, 3)}
    if mine < 1.0:
        out.append(Denial("rate.action", f"{req.action} on {cluster}: rate limit ({mine:.2f} tokens)"))
    if fleet < 1.0:
        out.append(Denial("rate.fleet", f"fleet-wide rate limit ({fleet:.2f} tokens)"))
    if req.tier is not RiskTier.REVERSIBLE and cluster in state.last_disruptive:
        since = now - state.last_disruptive[cluster]
        counters["since_disruptive_s"] = round(since, 3)
        # The next step of a sequence on the same target (drain, then restart its kubelet) is one
        # remediation, not a second disruption of the cluster: the gap is between targets.
        same = state.last_disruptive_target.get(cluster) == req.target.key
        if since < rates.disruptive_gap_seconds and not same:
            out.append(Denial("rate.gap", f"last disruptive action on {cluster} {since:.0f}s ago"))
    return out, counters


def evaluate(
    state: DefenderState,
    settings: DefenderSettings,
    req: Request,
    obs: Observation,
    *,
    now: float,
    replica: str,
    dry: bool,
) -> Decision:
    """Decide on ``req``, changing ``state`` (a private copy) only as the decision takes."""
    denials = check_freezes(state, req, obs)
    storm_denials, pages = check_storms(state, settings, req, obs, now)
    denials += storm_denials + check_breaker(state, req) + check_slot(state, req, now)
    cap_denials, counters = check_caps(state, settings, req, obs)
    rate_denials, rate_counters = check_rates(state, settings, req, now)
    denials += cap_denials + rate_denials
    counters.update(rate_counters)
    breaker = state.breakers.get(bucket_key(req.action, req.target.cluster))
    if breaker is not None:
        counters["breaker_consecutive_failures"] = breaker.consecutive_failures
    if denials or dry:
        return Decision(req.id, not denials, dry, now, tuple(denials), counters, None, tuple(pages))
    _take_all(state, settings, req, now)
    state.fence += 1
    old = state.slots.get(req.target.key)
    until = now + settings.lease_seconds
    state.slots[req.target.key] = Slot(
        request_id=req.id,
        action=req.action,
        tier=str(req.tier),
        cluster=req.target.cluster,
        target=req.target.key,
        kind=req.target.kind,
        name=req.target.name,
        pool=req.target.pool,
        control_plane=req.control_plane,
        started=now,
        token=state.fence,
        holder=replica,
        until=until,
        attempts=1 if old is None else old.attempts + 1,
    )
    lease = Lease(req.target.key, state.fence, replica, until)
    return Decision(req.id, True, False, now, (), counters, lease, tuple(pages))


def _take_all(state: DefenderState, settings: DefenderSettings, req: Request, now: float) -> None:
    rates = settings.rates
    _take(state, bucket_key(req.action, req.target.cluster), rates.action_per_hour, rates.action_burst, now)
    _take(state, FLEET_BUCKET, rates.fleet_per_hour, rates.fleet_burst, now)
    if req.tier is not RiskTier.REVERSIBLE:
        last = state.last_disruptive.get(req.target.cluster, now)
        state.last_disruptive[req.target.cluster] = max(now, last)
        state.last_disruptive_target[req.target.cluster] = req.target.key
