"""Building a run's report (steps, messages, findings, metrics) and sending it to the center.

Stdlib only (urllib), so any probe image can install it. Sending retries with exponential
back-off until the run's deadline, then gives up with one clear log line: a case never hangs
because the center is away, and a report after the deadline would be refused (410) anyway.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from kubeprobe.sdk import contract
from kubeprobe.sdk.contract import ReportBody, StepReport

log = logging.getLogger(__name__)


class ReportError(Exception):
    """The report could not be delivered before the deadline (or was refused for good)."""


class StepFailed(Exception):
    """Raised by code inside ``step()`` to fail the step with a message of its own."""


@dataclass
class Report:
    """What a case has to say about its run; fill it, then ``send()`` it once."""

    messages: list[str] = field(default_factory=list)
    steps: list[StepReport] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time a sub-operation; an exception marks it failed with the error and propagates."""
        start = time.perf_counter()
        try:
            yield
        except BaseException as exc:
            error = str(exc) or type(exc).__name__
            self.steps.append(self._step(name, start, ok=False, error=error))
            raise
        self.steps.append(self._step(name, start, ok=True, error=None))

    @staticmethod
    def _step(name: str, start: float, *, ok: bool, error: str | None) -> StepReport:
        return {
            "name": name,
            "ok": ok,
            "duration_ms": round((time.perf_counter() - start) * 1000, 3),
            "error": error,
        }

    def body(self, ok: bool, messages: list[str] | None = None) -> ReportBody:
        msgs = [m for m in [*self.messages, *(messages or [])] if m and m.strip()]
        if not ok and not msgs:
            failed = [s for s in self.steps if not s["ok"]]
            msgs = [f"step {failed[-1]['name']} failed: {failed[-1]['error']}" if failed else "case failed"]
        return {
            "ok": ok,
            "messages": msgs,
            "steps": list(self.steps),
            "findings": list(self.findings),
            "metrics": dict(self.metrics),
        }


@dataclass(frozen=True)
class Destination:
    """Where and until when a report may be sent, from the contract's environment variables."""

    url: str
    token: str
    deadline: dt.datetime
    run_id: str = ""

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Destination:
        env = dict(os.environ) if env is None else env
        missing = [
            n for n in (contract.REPORT_URL, contract.REPORT_TOKEN, contract.DEADLINE) if not env.get(n)
        ]
        if missing:
            raise ReportError(f"not running as a KubeProbe case: {', '.join(missing)} not set")
        try:
            deadline = dt.datetime.fromisoformat(env[contract.DEADLINE].replace("Z", "+00:00"))
        except ValueError as exc:
            raise ReportError(
                f"{contract.DEADLINE}={env[contract.DEADLINE]!r} is not an RFC 3339 time"
            ) from exc
        return cls(
            env[contract.REPORT_URL], env[contract.REPORT_TOKEN], deadline, env.get(contract.RUN_ID, "")
        )


def send(
    body: ReportBody, dest: Destination, *, first_backoff: float = 0.5, max_backoff: float = 10.0
) -> None:
    """POST the report; retry connection errors and 5xx/429 until the deadline. 4xx is final."""
    data = json.dumps(body).encode()
    backoff = first_backoff
    attempt = 0
    while True:
        attempt += 1
        remaining = (dest.deadline - dt.datetime.now(dt.UTC)).total_seconds()
        if remaining <= 0:
            log.error(
                "run %s: report not delivered before the deadline (%d attempts)", dest.run_id, attempt - 1
            )
            raise ReportError(
                f"report for run {dest.run_id} not delivered before the deadline {dest.deadline}"
            )
        req = urllib.request.Request(
            dest.url,
            data=data,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {dest.token}"},
        )
        try:
            with urllib.request.urlopen(req, timeout=min(10.0, max(remaining, 0.1))):
                return
        except urllib.error.HTTPError as exc:
            if exc.code < 500 and exc.code != 429:
                detail = exc.read().decode(errors="replace")[:300]
                raise ReportError(f"report for run {dest.run_id} refused: HTTP {exc.code} {detail}") from exc
            reason = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            reason = str(getattr(exc, "reason", exc))
        log.warning("run %s: report attempt %d failed (%s); retrying", dest.run_id, attempt, reason)
        time.sleep(min(backoff, max(0.0, remaining)))
        backoff = min(backoff * 2, max_backoff)
