"""What each intent does at the center, and the answer it gives (with links to the dashboard).

Each function takes the slots of an authorized, confirmed request and returns a :class:`Reply`.
Text from the center (run messages, titles) is quoted as it is and cut to a bounded length; the
adapters escape it for their markup.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from kubeprobe.chatops.center import CenterError, ChatCenter
from kubeprobe.chatops.config import Role
from kubeprobe.chatops.durations import format_duration
from kubeprobe.chatops.intents import SlotValue
from kubeprobe.chatops.messages import Button, Reply

TERMINAL = frozenset({"succeeded", "failed", "timed_out", "error", "cancelled"})
MAX_LINE = 300


@dataclass(frozen=True)
class Caller:
    """Who asks, as the center should see it."""

    user: str  # the chat user's key
    name: str  # for comments: "alice"
    role: Role


def _cut(text: Any) -> str:
    value = str(text)
    return value if len(value) <= MAX_LINE else value[: MAX_LINE - 1] + "…"


class Actions:
    def __init__(self, center: ChatCenter, links: str) -> None:
        self.center = center
        self.links = links

    def link(self, fragment: str) -> str:
        return f"{self.links}/ui/#/{fragment}"

    def run_link(self, run_id: str) -> str:
        return self.link(f"run/{quote(run_id)}")

    async def _get(self, who: Caller, path: str, **params: Any) -> Any:
        return await self.center.call(who.role, who.user, "GET", path, params=params)

    async def status(self, who: Caller, slots: dict[str, SlotValue]) -> Reply:
        cluster = slots.get("cluster")
        if cluster is None:
            fleet = await self._get(who, "/api/v1/fleet")
            rows = fleet.get("clusters", []) if isinstance(fleet, dict) else []
            lines = [f"{c.get('name')}: {c.get('state', '?')}" for c in rows[:30]]
            return Reply("Fleet:\n" + ("\n".join(lines) or "no clusters") + f"\n{self.link('fleet')}")
        health = await self._get(who, f"/api/v1/clusters/{quote(str(cluster))}/health", window_hours=24)
        lines = [f"{cluster}: {health['state']} (last 24 h)"]
        for c in health["cases"][:30]:
            ratio = "-" if c["success_ratio"] is None else f"{c['success_ratio']:.0%}"
            lines.append(f"- {c['case']}: last {c['last_state'] or '-'}, {ratio} ok of {c['runs']} runs")
        lines.append(self.link(f"cluster/{quote(str(cluster))}"))
        return Reply("\n".join(lines))

    async def history(self, who: Caller, slots: dict[str, SlotValue]) -> Reply:
        page = await self._get(
            who, "/api/v1/runs", cluster=slots.get("cluster"), case=slots.get("case"), limit=10
        )
        lines = [
            f"- {r['created'][:19]} {r['case']} on {r['cluster']}: {r['state']} {self.run_link(r['id'])}"
            for r in page["items"]
        ]
        return Reply("Latest runs:\n" + ("\n".join(lines) or "none"))

    async def incidents(self, who: Caller, slots: dict[str, SlotValue]) -> Reply:
        page = await self._get(who, "/api/v1/incidents", state="open", cluster=slots.get("cluster"), limit=20)
        lines = [f"- #{i['id']} {i['state']}: {_cut(i['title'])}" for i in page["items"]]
        return Reply("Open incidents:\n" + ("\n".join(lines) or "none") + f"\n{self.link('incidents')}")

    async def gate(self, who: Caller, slots: dict[str, SlotValue]) -> Reply:
        gates = await self._get(who, "/api/v1/gates", cluster=slots.get("cluster"))
        lines = [f"- {g['gate']} on {g['cluster']}: {g['state']} ({g['opened'][:19]})" for g in gates[:10]]
        return Reply("Release gates:\n" + ("\n".join(lines) or "none") + f"\n{self.link('gates')}")

    async def rerun(
        self, who: Caller, slots: dict[str, SlotValue], follow: Callable[[str], Awaitable[None]] | None = None
    ) -> Reply:
        body = {"case": slots["case"], "cluster": slots["cluster"]}
        run = await self.center.call(who.role, who.user, "POST", "/api/v1/runs", body=body)
        if follow is not None:
            await follow(run["id"])
        return Reply(f"Started {run['case']} on {run['cluster']}: run {run['id']} {self.run_link(run['id'])}")

    async def run_result(self, who: Caller, run_id: str) -> Reply | None:
        """The finished run's answer, or None while it runs."""
        run = await self._get(who, f"/api/v1/runs/{quote(run_id)}")
        if run["state"] not in TERMINAL:
            return None
        took = "" if run["duration_ms"] is None else f" in {run['duration_ms'] / 1000:.1f}s"
        lines = [f"Run {run_id} of {run['case']} on {run['cluster']}: {run['state']}{took}"]
        lines += [f"> {_cut(m)}" for m in run["messages"][:5]]
        lines.append(self.run_link(run_id))
        buttons = [Button("Diagnose", f"diagnose-run:{run_id}", "🔍")] if run["state"] != "succeeded" else []
        return Reply("\n".join(lines), buttons)

    async def diagnose(self, who: Caller, slots: dict[str, SlotValue]) -> Reply:
        run_id = slots.get("run")
        if run_id is None:
            page = await self._get(
                who,
                "/api/v1/runs",
                cluster=slots.get("cluster"),
                case=slots.get("case"),
                state="failed",
                limit=1,
            )
            if not page["items"]:
                return Reply("No failed run found to diagnose.")
            run_id = page["items"][0]["id"]
        run = await self._get(who, f"/api/v1/runs/{quote(str(run_id))}")
        analysis = await self._get(who, f"/api/v1/runs/{quote(str(run_id))}/analysis")
        lines = [f"Run {run_id} of {run['case']} on {run['cluster']}: {run['state']}"]
        lines += [f"> {_cut(m)}" for m in run["messages"][:3]]
        if analysis.get("cause"):
            lines.append(
                f"Cause: {analysis['cause']} (confidence {analysis.get('confidence') or 0:.0%}, "
                f"{analysis.get('priority') or '-'}, {analysis.get('outcome') or '-'})"
            )
            if analysis.get("reason"):
                lines.append(_cut(analysis["reason"]))
        else:
            lines.append(f"Not analysed yet ({analysis.get('state', 'pending')}).")
        lines.append(self.run_link(str(run_id)))
        return Reply("\n".join(lines))

    async def silence(self, who: Caller, slots: dict[str, SlotValue]) -> Reply:
        seconds = int(slots["duration_seconds"])
        matchers = [f"cluster={slots['cluster']}"] + ([f"case={slots['case']}"] if slots.get("case") else [])
        ends = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
        reason = str(slots.get("reason") or "")
        body = {
            "matchers": matchers,
            "ends": ends.isoformat(),
            "comment": _cut(f"{reason} (by {who.name} in chat)"),
        }
        made = await self.center.call(who.role, who.user, "POST", "/api/v1/silences", body=body)
        return Reply(
            f"Silenced {', '.join(matchers)} for {format_duration(seconds)} (silence #{made['id']}, until "
            f"{ends:%Y-%m-%d %H:%M} UTC). Undo: /kp unsilence #{made['id']}"
        )

    async def unsilence(self, who: Caller, slots: dict[str, SlotValue]) -> Reply:
        await self.center.call(who.role, who.user, "DELETE", f"/api/v1/silences/{int(slots['silence'])}")
        return Reply(f"Silence #{slots['silence']} removed.")

    async def ack(self, who: Caller, slots: dict[str, SlotValue]) -> Reply:
        comment = _cut(f"{slots.get('reason') or 'acknowledged'} (by {who.name} in chat)")
        inc = await self.center.call(
            who.role,
            who.user,
            "POST",
            f"/api/v1/incidents/{int(slots['incident'])}/ack",
            body={"comment": comment},
        )
        return Reply(f"Incident #{inc['id']} acknowledged by {who.name}. {self.link('incidents')}")

    async def resolve(self, who: Caller, slots: dict[str, SlotValue]) -> Reply:
        inc = await self._get(who, f"/api/v1/incidents/{int(slots['incident'])}")
        return Reply(
            f"Incident #{inc['id']} is {inc['state']}. This center resolves incidents when their cases pass "
            "again; rerun them to check: "
            + ", ".join(f"/kp rerun {m['case']} {m['cluster']}" for m in inc["members"][:3])
        )

    # --- remediation: the center's remediation API, as the chat user ---------------------------

    async def approve(self, who: Caller, slots: dict[str, SlotValue]) -> Reply:
        return await self._decide_remediation(who, int(slots["remediation"]), "approve")

    async def deny(self, who: Caller, slots: dict[str, SlotValue]) -> Reply:
        return await self._decide_remediation(who, int(slots["remediation"]), "deny")

    async def _decide_remediation(self, who: Caller, rid: int, verb: str) -> Reply:
        """Approve or deny once: the center's conditional update makes a second one a no-op."""
        answer = await self.center.call(who.role, who.user, "POST", f"/api/v1/remediations/{rid}/{verb}")
        rem = answer["remediation"]
        what = _remediation(rem)
        if not answer["changed"]:
            return Reply(
                f"Remediation #{rid} was not waiting for approval ({rem['state']}); nothing changed: {what}"
            )
        done = "approved; it runs now under the defender" if verb == "approve" else "denied; nothing is done"
        return Reply(f"Remediation #{rid} {done} (by {who.name}): {what} {self.link(f'remediation/{rid}')}")

    async def pause_remediation(self, who: Caller, slots: dict[str, SlotValue]) -> Reply:
        cluster = str(slots.get("cluster") or "*")
        reason = _cut(f"{slots.get('reason') or 'paused'} (by {who.name} in chat)")
        body = {"cluster": cluster, "reason": reason}
        await self.center.call(who.role, who.user, "POST", "/api/v1/remedy/pause", body=body)
        where = "every cluster" if cluster == "*" else cluster
        undo = "/kp resume-remediation" + ("" if cluster == "*" else f" {cluster}")
        return Reply(f"Remediation paused on {where} by {who.name}: nothing is acted on. Undo: {undo}")

    async def resume_remediation(self, who: Caller, slots: dict[str, SlotValue]) -> Reply:
        cluster = str(slots.get("cluster") or "*")
        await self.center.call(who.role, who.user, "POST", "/api/v1/remedy/resume", body={"cluster": cluster})
        where = "every cluster" if cluster == "*" else cluster
        return Reply(f"Remediation resumed on {where} by {who.name}.")


def _remediation(rem: dict[str, Any]) -> str:
    where = f"{rem['namespace']}/{rem['name']}" if rem.get("namespace") else rem["name"]
    return _cut(f"{rem['action']} {rem['kind']} {where} on {rem['cluster']} ({rem['state']})")


async def guarded(call: Awaitable[Reply]) -> Reply:
    """The center's refusal as an answer (403: the center's own role check; 404: a name or id it lacks)."""
    try:
        return await call
    except CenterError as exc:
        what = {0: "cannot reach the center", 403: "the center refused", 404: "not found"}.get(
            exc.status, "failed"
        )
        return Reply(f"{what}: {exc}")
