"""Help text: what *your* role may do here, from the intents' definitions (never a separate list)."""

from __future__ import annotations

from kubeprobe.chatops.intents import INTENTS, allowed


def help_text(role: str, scope: list[str] | None) -> str:
    """The commands ``role`` may use, then those it may not, then the channel's clusters."""
    mine = [spec for spec in INTENTS.values() if allowed(role, spec)]
    others = [spec for spec in INTENTS.values() if not allowed(role, spec)]
    lines = [f"Your role: {role}. You may:"]
    for spec in mine:
        note = " (asks to confirm when written in plain words)" if spec.mutating else ""
        lines.append(f"- `{spec.usage}`: {spec.summary}{note}")
    if others:
        lines.append("Needs another role: " + ", ".join(f"{s.command} ({s.role})" for s in others))
    if scope:
        lines.append("Clusters of this channel: " + ("all" if "*" in scope else ", ".join(scope)))
    lines.append(
        'Plain words work too, in English or Chinese: "rerun pod-lifecycle on demo-1", "静默 prod-1 两小时".'
    )
    return "\n".join(lines)
