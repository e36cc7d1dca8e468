"""What happens to the state after a decision: outcomes and the breaker, releases, renewals,
pauses. Pure functions like `rules.evaluate`; each returns the audit event it caused.

The breaker counts only verifications: ``failed`` and ``unverified`` outcomes are failures
(an action whose effect nobody could confirm has not proven itself), ``verified`` a success.
It opens after K failures in a row or a success ratio under the threshold over the window, and
stays open until `close_breaker` (a person). An outcome from a replica whose fencing token is no
longer the slot's is ignored (the slot belongs to a newer attempt), and so is a second outcome of
one attempt (it would count twice).
"""

from __future__ import annotations

from kubeprobe.remedy.defender.requests import Outcome
from kubeprobe.remedy.defender.rules import bucket_key, refill
from kubeprobe.remedy.defender.settings import BreakerSettings, DefenderSettings
from kubeprobe.remedy.defender.state import Breaker, DefenderState, Pause, Slot
from kubeprobe.remedy.errors import FenceError, UnknownRemediationError


def current_slot(state: DefenderState, target: str, token: int, now: float) -> Slot:
    """The slot of ``target`` if ``token`` still owns it with a live lease; FenceError otherwise."""
    slot = state.slots.get(target)
    if slot is None or slot.token != token:
        newer = "released" if slot is None else f"now token {slot.token}"
        raise FenceError(f"{target}: token {token} is stale ({newer})")
    if slot.until < now:
        raise FenceError(f"{target}: the lease of token {token} expired at {slot.until:.0f}")
    return slot


def record_outcome(
    state: DefenderState,
    settings: BreakerSettings,
    *,
    target: str,
    token: int,
    outcome: Outcome,
    now: float,
) -> tuple[Slot | None, str]:
    """Apply an attempt's outcome; returns (the slot, or None if stale) and the breaker event
    (``"opened"`` or ``""``)."""
    slot = state.slots.get(target)
    if slot is None or slot.token != token or slot.status != "running":
        return None, ""  # stale, or this attempt's outcome is already in
    breaker = state.breakers.setdefault(bucket_key(slot.action, slot.cluster), Breaker())
    ok = outcome is Outcome.VERIFIED
    breaker.results = [*breaker.results, ok][-settings.window :]
    breaker.consecutive_failures = 0 if ok else breaker.consecutive_failures + 1
    event = ""
    if not breaker.open:
        reason = _breaker_reason(breaker, settings)
        if reason:
            breaker.open, breaker.opened_at, breaker.reason, event = True, now, reason, "opened"
    if ok:
        del state.slots[target]
    else:
        slot.status, slot.until = str(outcome), 0.0
    return slot, event


def _breaker_reason(breaker: Breaker, settings: BreakerSettings) -> str:
    if breaker.consecutive_failures >= settings.consecutive_failures:
        return f"{breaker.consecutive_failures} failed verifications in a row"
    if len(breaker.results) >= settings.min_samples:
        ratio = sum(breaker.results) / len(breaker.results)
        if ratio < settings.min_success_ratio:
            return f"success ratio {ratio:.2f} over the last {len(breaker.results)} verifications"
    return ""


def close_breaker(state: DefenderState, action: str, cluster: str) -> None:
    key = bucket_key(action, cluster)
    if key not in state.breakers:
        raise UnknownRemediationError(f"no breaker for {action} on {cluster}")
    state.breakers[key] = Breaker()


def release(state: DefenderState, target: str) -> Slot:
    """Free a target's slot (a person, or the incident resolved); its lease ends with it."""
    slot = state.slots.pop(target, None)
    if slot is None:
        raise UnknownRemediationError(f"{target} is not in remediation")
    return slot


def renew(state: DefenderState, target: str, token: int, now: float, seconds: float) -> float:
    slot = current_slot(state, target, token, now)
    slot.until = max(slot.until, now + seconds)
    return slot.until


def pause(state: DefenderState, cluster: str, action: str, *, by: str, reason: str, now: float) -> None:
    state.pauses[f"{cluster}|{action}"] = Pause(cluster, action, by, now, reason)


def resume(state: DefenderState, cluster: str, action: str) -> None:
    if state.pauses.pop(f"{cluster}|{action}", None) is None:
        raise UnknownRemediationError(f"nothing paused for cluster {cluster!r}, action {action!r}")


def prune(state: DefenderState, settings: DefenderSettings, now: float) -> None:
    """Drop what carries no information any more: buckets that are full again."""
    rates = settings.rates
    for key in list(state.buckets):
        per_hour, burst = (
            (rates.fleet_per_hour, rates.fleet_burst)
            if key == "*|*"
            else (rates.action_per_hour, rates.action_burst)
        )
        if refill(state, key, per_hour, burst, now) >= burst:
            del state.buckets[key]
