"""The bot: one message or one button click in, answers out, every step checked.

Order of checks for a message: rate limit (per chat user, a token bucket), the user's role (from
the config; unknown users may do nothing), understanding, "did you mean", the role the intent's
definition needs, the channel's cluster scope (a channel bound to one cluster fills a missing
``cluster``), missing slots, then confirmation: a mutating intent
understood from free text is echoed as its exact command with Confirm/Cancel and runs only when the
same user confirms within ``confirm_seconds``. A button click goes through the same checks again
with the clicking user (a click never bypasses them); a confirmation id works once.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from kubeprobe.chatops.actions import Actions, Caller, guarded
from kubeprobe.chatops.catalog import Catalog
from kubeprobe.chatops.center import CenterError
from kubeprobe.chatops.config import ChatOpsSettings, Role
from kubeprobe.chatops.help import help_text
from kubeprobe.chatops.intents import SlotValue, allowed
from kubeprobe.chatops.messages import Button, ChatTransport, ChatUser, Inbound, Reply
from kubeprobe.chatops.understanding import Parse, Understanding

log = logging.getLogger(__name__)
YES = frozenset({"yes", "y", "confirm", "ok", "确认", "是", "好"})
NO = frozenset({"no", "n", "cancel", "取消", "否", "不"})
#: incident buttons → the intent they run (on the incident's cluster and case)
BUTTONS = {"ack": "ack", "silence-1h": "silence", "rerun-incident": "rerun", "diagnose-incident": "diagnose"}


@dataclass
class Pending:
    id: str
    user: str
    channel: str
    parse: Parse
    expires: float


class RateLimiter:
    """A token bucket per user: ``per_minute`` tokens, refilled continuously."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(per_minute)
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, user: str) -> bool:
        now = self.clock()
        tokens, last = self._buckets.get(user, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens < 1:
            self._buckets[user] = (tokens, now)
            return False
        self._buckets[user] = (tokens - 1, now)
        return True


class Bot:
    def __init__(
        self,
        settings: ChatOpsSettings,
        actions: Actions,
        understanding: Understanding,
        transport: ChatTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.actions = actions
        self.understanding = understanding
        self.transport = transport
        self.clock = clock
        self.limiter = RateLimiter(settings.rate_per_minute, clock)
        self._pending: dict[str, Pending] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def set_catalog(self, catalog: Catalog) -> None:
        self.understanding.catalog = catalog

    async def refresh_catalog(self) -> None:
        clusters, cases = await self.actions.center.names("viewer")
        self.set_catalog(Catalog.of(clusters, cases))

    # --- entry points -------------------------------------------------------------------------

    async def handle(self, msg: Inbound) -> Reply | None:
        """Answer one message (None: nothing to say, e.g. a stray yes)."""
        if not self.limiter.take(msg.user.key):
            return Reply(
                f"{msg.user.name}: too many commands; at most {self.settings.rate_per_minute} a minute."
            )
        role = self.settings.role_of(msg.user.key)
        if role is None:
            return Reply(
                f"{msg.user.name} ({msg.user.key}) has no KubeProbe role here; ask an admin to map you."
            )
        word = msg.text.strip().lower().rstrip("!.。")
        if word in YES or word in NO:
            latest = self._latest_pending(msg.user.key, msg.channel)
            if latest is None:
                return None
            return await self.click(
                msg.user, msg.channel, f"{'confirm' if word in YES else 'cancel'}:{latest.id}"
            )
        parsed = self.understanding.parse(msg.text)
        return await self._decide(msg.user, role, msg.channel, parsed)

    async def click(self, user: ChatUser, channel: str, action: str) -> Reply:
        """A button (or reaction, or reply) ``action`` by ``user``: authorized again from scratch."""
        if not self.limiter.take(user.key):
            return Reply(f"{user.name}: too many commands; at most {self.settings.rate_per_minute} a minute.")
        role = self.settings.role_of(user.key)
        if role is None:
            return Reply(f"{user.name} has no KubeProbe role here.")
        kind, _, arg = action.partition(":")
        if kind in ("confirm", "cancel"):
            return await self._confirm(user, role, channel, arg, kind == "confirm")
        parsed = self._button_parse(kind, arg)
        if parsed is None:
            return Reply(f"unknown action {action[:60]!r}")
        return await self._decide(user, role, channel, parsed)

    # --- the checks -----------------------------------------------------------------------------

    async def _decide(self, user: ChatUser, role: Role, channel: str, parsed: Parse) -> Reply:
        if parsed.error:
            return Reply(parsed.error)
        if not parsed.understood:
            return Reply("I did not understand that. Try `/kp help` for what you may do.")
        if parsed.did_you_mean:
            hints = [
                f"{k} {w!r}: did you mean {' or '.join(n) or 'a known name'}?"
                for k, (w, n) in parsed.did_you_mean.items()
            ]
            return Reply("Unknown " + "; ".join(hints))
        spec = parsed.spec
        if spec.name == "help":
            return Reply(help_text(role, self.settings.scope_of(channel)))
        if not allowed(role, spec):
            return Reply(
                f"{user.name}: your role {role} may not {spec.command} (needs {spec.role}). "
                "`/kp help` lists what you may do."
            )
        slots = dict(parsed.slots)
        if "incident" in slots and spec.name in ("silence", "rerun", "diagnose"):
            expanded = await self._incident_slots(user.key, role, spec.name, int(slots.pop("incident")))
            if isinstance(expanded, Reply):
                return expanded
            slots.update(expanded)
        refusal = self._scope(channel, slots, "cluster" in spec.slots)
        if refusal:
            return Reply(refusal)
        missing = [s for s in spec.required if s not in slots]
        if missing:
            return Reply(f"Missing {', '.join(missing)}: {spec.usage}")
        final = Parse(parsed.intent, slots, parsed.confidence, parsed.exact)
        if final.needs_confirmation:
            return self._ask(user, channel, final)
        return await self._execute(user, role, channel, final)

    def _scope(self, channel: str, slots: dict[str, SlotValue], takes_cluster: bool) -> str | None:
        scope = self.settings.scope_of(channel)
        if scope is None:
            return "This channel is not bound to any cluster; ask an admin to add it to the chatops channels."
        if "*" in scope:
            return None
        cluster = slots.get("cluster")
        if cluster is None and takes_cluster and len(scope) == 1:
            slots["cluster"] = scope[0]
        elif cluster is not None and cluster not in scope:
            return f"Cluster {cluster} is not in this channel's scope ({', '.join(scope)})."
        return None

    def _ask(self, user: ChatUser, channel: str, parsed: Parse) -> Reply:
        self._expire()
        pid = secrets.token_urlsafe(9)
        self._pending[pid] = Pending(
            pid, user.key, channel, parsed, self.clock() + self.settings.confirm_seconds
        )
        return Reply(
            f"{user.name}, run this?\n`{parsed.command}`\n"
            f"(Confirm or Cancel; valid {self.settings.confirm_seconds // 60} min)",
            [Button("Confirm", f"confirm:{pid}", "👍"), Button("Cancel", f"cancel:{pid}", "👎", danger=True)],
        )

    async def _confirm(self, user: ChatUser, role: Role, channel: str, pid: str, yes: bool) -> Reply:
        self._expire()
        pending = self._pending.get(pid)
        if pending is None or pending.channel != channel:
            return Reply("That confirmation is no longer valid (used, cancelled or expired).")
        if pending.user != user.key:
            return Reply(f"{user.name}: only the person who asked can confirm or cancel this.")
        del self._pending[pid]
        if not yes:
            return Reply(f"Cancelled: `{pending.parse.command}`")
        if not allowed(role, pending.parse.spec):
            return Reply(f"{user.name}: your role {role} may no longer {pending.parse.spec.command}.")
        exact = Parse(pending.parse.intent, pending.parse.slots, 1.0, True)
        return await self._execute(user, role, channel, exact)

    def _latest_pending(self, user: str, channel: str) -> Pending | None:
        self._expire()
        mine = [p for p in self._pending.values() if p.user == user and p.channel == channel]
        return max(mine, key=lambda p: p.expires) if mine else None

    def _expire(self) -> None:
        now = self.clock()
        for pid in [p.id for p in self._pending.values() if p.expires < now]:
            del self._pending[pid]

    @staticmethod
    def _button_parse(kind: str, arg: str) -> Parse | None:
        """Buttons are explicit: they parse as exact commands (no second confirmation)."""
        if kind == "diagnose-run" and arg:
            return Parse("diagnose", {"run": arg[:64]}, 1.0, True)
        if kind in BUTTONS and arg.isdigit():
            return Parse(BUTTONS[kind], {"incident": int(arg)}, 1.0, True)
        return None

    # --- doing it -------------------------------------------------------------------------------

    async def _execute(self, user: ChatUser, role: Role, channel: str, parsed: Parse) -> Reply:
        who = Caller(user.key, user.name, role)
        slots = dict(parsed.slots)
        log.info("chatops %s by %s in %s: %s", parsed.intent, user.key, channel, parsed.command)
        a = self.actions
        if parsed.intent == "rerun":
            return await guarded(a.rerun(who, slots, lambda run_id: self._follow(who, channel, run_id)))
        handlers: dict[str, Callable[[Caller, dict[str, SlotValue]], Awaitable[Reply]]] = {
            "status": a.status, "history": a.history, "incidents": a.incidents, "gate": a.gate,
            "diagnose": a.diagnose, "silence": a.silence, "unsilence": a.unsilence, "ack": a.ack,
            "resolve": a.resolve, "approve": a.approve, "deny": a.deny,
            "pause_remediation": a.pause_remediation, "resume_remediation": a.resume_remediation,
        }  # fmt: skip
        return await guarded(handlers[parsed.intent](who, slots))

    async def _incident_slots(
        self, user: str, role: Role, intent: str, incident: int
    ) -> dict[str, SlotValue] | Reply:
        """An incident button's target: its cluster (and its first case), or a 1 h silence of it."""
        try:
            inc = await self.actions.center.call(role, user, "GET", f"/api/v1/incidents/{incident}")
        except CenterError as exc:
            return Reply(f"incident #{incident}: {exc}")
        member = (inc.get("members") or [{}])[0]
        slots: dict[str, SlotValue] = {"cluster": member.get("cluster") or inc.get("cluster") or ""}
        if intent == "silence":
            slots["duration_seconds"] = 3600
            slots["reason"] = f"incident #{incident}"
        elif member.get("case"):
            slots["case"] = member["case"]
        return slots

    async def _follow(self, who: Caller, channel: str, run_id: str) -> None:
        """Post the run's result when it finishes (in the background; polls with a deadline)."""
        if self.transport is None:
            return
        task = asyncio.create_task(self._follow_loop(who, channel, run_id), name=f"chatops-follow-{run_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _follow_loop(self, who: Caller, channel: str, run_id: str) -> None:
        assert self.transport is not None
        deadline = self.clock() + self.settings.follow_run_seconds
        delay = 0.5
        while self.clock() < deadline:
            try:
                reply = await self.actions.run_result(who, run_id)
            except Exception as exc:
                log.warning("chatops: following run %s: %s", run_id, exc)
                reply = None
            if reply is not None:
                await self.transport.send(channel, reply)
                return
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 5.0)
        await self.transport.send(
            channel, Reply(f"Run {run_id} has not finished yet; {self.actions.run_link(run_id)}")
        )

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
