"""The node agent's loop: watch this node's RemedyOperations, carry out each once, report.

The agent lists and then watches ``remedyoperations`` with ``fieldSelector=spec.nodeName=NODE``
and handles one operation at a time, always from a fresh read of the object:

- a terminal phase (``Succeeded``, ``Failed``, ``Refused``) is never acted on again;
- an object that :func:`kubeprobe.remedy.operations.parse` refuses (unknown action, oversized or
  malformed spec), or one for a component this node's restarter does not know, gets ``Refused``
  and the reason, and nothing is done; another node's object is left alone;
- otherwise the agent claims it, writing ``Running`` (with ``startedAt``, ``observedGeneration``
  and its own name) conditioned on the resourceVersion it read, so two agents (a DaemonSet pod
  and its replacement) never both act; then it restarts the component and writes the outcome;
- an operation found ``Running`` that this process did not claim was interrupted (the agent
  restarted, or its node rebooted, after the claim): it is ended ``Failed`` and not repeated,
  because the restart may already have happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.errors import ConflictError, GoneError, KubeError, NotFoundError
from kubeprobe.remedy import operations as ops
from kubeprobe.remedy.agent.restarter import ComponentRestarter, RestartError

log = logging.getLogger(__name__)


class NodeAgent:
    """Carries out the RemedyOperations of ``node`` through ``restarter``."""

    def __init__(self, kube: KubeClient, node: str, restarter: ComponentRestarter, identity: str) -> None:
        self.kube, self.node, self.restarter, self.identity = kube, node, restarter, identity
        self.claimed: set[str] = set()  # uids this process claimed (its own Running is not an interruption)

    async def run(self, stop: asyncio.Event | None = None, *, watch_seconds: int = 60) -> None:
        """List, handle, watch, handle; again after a watch ends or its version is gone."""
        stop = stop or asyncio.Event()
        selector = f"spec.nodeName={self.node}"
        while not stop.is_set():
            try:
                page = await self.kube.get(ops.COLLECTION, fieldSelector=selector)
                for obj in page.get("items") or []:
                    await self.handle(obj)
                version = (page.get("metadata") or {}).get("resourceVersion")
                # closed on every way out (stop, ERROR, cancellation): an async generator left
                # to the garbage collector keeps its streamed response's connection open
                watch = self.kube.watch(
                    ops.COLLECTION,
                    resource_version=version,
                    timeout_seconds=watch_seconds,
                    fieldSelector=selector,
                )
                async with contextlib.aclosing(watch) as events:
                    async for event in events:
                        if stop.is_set():
                            return
                        if event.get("type") in ("ADDED", "MODIFIED"):
                            await self.handle(event.get("object") or {})
                        elif event.get("type") == "ERROR":
                            break  # e.g. 410 Gone: list again
            except GoneError:
                continue
            except KubeError as exc:
                log.warning("node agent %s: %s; listing again shortly", self.node, exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=2.0)

    async def handle(self, seen: dict[str, Any]) -> str:
        """Act on one operation if it needs it; the phase it ends in (or is in already)."""
        name = str((seen.get("metadata") or {}).get("name", ""))
        if not name or ops.phase_of(seen) in ops.TERMINAL:
            return ops.phase_of(seen)
        if (seen.get("spec") or {}).get("nodeName") != self.node:
            return "not-mine"  # another node's agent answers it (the watch should not show it)
        try:
            obj = await self.kube.get(ops.path(name))  # events may be stale: act on what is there now
        except NotFoundError:
            return "gone"
        phase, uid = ops.phase_of(obj), str(obj["metadata"].get("uid", ""))
        if phase in ops.TERMINAL or uid in self.claimed:
            return phase
        meta = obj["metadata"]
        if phase == ops.RUNNING:
            message = (
                f"interrupted: {(obj.get('status') or {}).get('agent') or 'an agent'} claimed it and "
                f"did not finish (the agent restarted); not repeated, since the restart may have happened"
            )
            await self._finish(name, str(meta.get("resourceVersion")), ops.FAILED, message)
            return ops.FAILED
        try:
            op = ops.parse(obj, self.node)
        except ops.OperationRefused as exc:
            log.warning("node agent %s: refused %s: %s", self.node, name[:64], exc)
            await self._finish(name, str(meta.get("resourceVersion")), ops.REFUSED, str(exc))
            return ops.REFUSED
        if op.component not in self.restarter.components():
            message = f"this node has no {op.component} the agent can restart (it knows: "
            message += f"{', '.join(self.restarter.components()) or 'none'})"
            await self._finish(name, str(meta.get("resourceVersion")), ops.REFUSED, message)
            return ops.REFUSED
        return await self._carry_out(op)

    async def _carry_out(self, op: ops.Operation) -> str:
        started = {
            "phase": ops.RUNNING,
            "message": f"restarting {op.component}",
            "startedAt": ops.now_rfc3339(),
            "observedGeneration": op.generation,
            "agent": self.identity[: ops.MAX_NAME],
        }
        try:
            claimed = await self._status(op.name, op.resource_version, started)
        except ConflictError:
            return "conflict"  # changed since we read it: the next event shows what it is now
        self.claimed.add(op.uid)
        log.info("node agent %s: %s (%s) claimed", self.node, op.name, op.action)
        try:
            message = await self.restarter.restart(op.component, float(op.timeout_seconds))
            phase = ops.SUCCEEDED
        except RestartError as exc:
            message, phase = str(exc), ops.FAILED
        except OSError as exc:  # the host's files or processes refused us
            message, phase = f"{op.component}: {exc}", ops.FAILED
        version = str((claimed.get("metadata") or {}).get("resourceVersion"))
        await self._finish(op.name, version, phase, message)
        log.info("node agent %s: %s %s: %s", self.node, op.name, phase, message)
        return phase

    async def _finish(self, name: str, version: str, phase: str, message: str) -> None:
        status = {"phase": phase, "message": message[: ops.MAX_MESSAGE], "finishedAt": ops.now_rfc3339()}
        if phase == ops.REFUSED:
            status["agent"] = self.identity[: ops.MAX_NAME]
        for _ in range(5):  # the outcome must land: a conflict here is only our own earlier write
            try:
                await self._status(name, version, status)
                return
            except ConflictError:
                version = str((await self.kube.get(ops.path(name)))["metadata"].get("resourceVersion"))
            except NotFoundError:
                return

    async def _status(self, name: str, version: str, status: dict[str, Any]) -> dict[str, Any]:
        body = {"metadata": {"resourceVersion": version}, "status": status}
        return await self.kube.patch(ops.path(name) + "/status", body)
