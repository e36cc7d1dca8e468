"""What every runner takes and gives: a run request, and a run's end as the runner saw it.

A runner does not decide success: the case reports that to the center itself. A runner says how
the execution ended from the outside — the case exited (with its logs), could not be run
(``error``: unschedulable, image pull failure, unreachable cluster), or ran out of time
(``timed_out``: it was killed and cleaned up).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Literal, Protocol

from kubeprobe.model import CaseSpec
from kubeprobe.sdk import contract

EndState = Literal["exited", "error", "timed_out", "cancelled"]
MAX_LOG_BYTES = 64 * 1024


class RunnerError(Exception):
    """A runner could not start a run (bad request, bad credentials); the message says why."""


@dataclass(frozen=True)
class RunRequest:
    """Everything needed to execute one run of one case on one cluster."""

    run_id: str
    case: CaseSpec
    cluster: str
    kubeconfig: str
    report_url: str
    report_token: str
    deadline: dt.datetime
    kh_report_url: str | None = None

    def contract_env(self, pod_namespace: str = "") -> dict[str, str]:
        """The case↔center contract as environment variables (Kuberhealthy's names too)."""
        deadline = self.deadline.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        env = {
            contract.RUN_ID: self.run_id,
            contract.REPORT_URL: self.report_url,
            contract.REPORT_TOKEN: self.report_token,
            contract.DEADLINE: deadline,
            contract.CLUSTER: self.cluster,
            contract.CASE: self.case.name,
            contract.KH_REPORTING_URL: self.kh_report_url or self.report_url,
            # Kuberhealthy checks send this back in the kh-run-uuid header: it is the run's token.
            contract.KH_RUN_UUID: self.report_token,
            contract.KH_CHECK_RUN_DEADLINE: str(int(self.deadline.timestamp())),
            contract.KH_POD_NAMESPACE: pod_namespace,
        }
        for name, value in self.case.params.items():
            env[contract.param_env_name(name)] = value if isinstance(value, str) else _json(value)
        return env


def _json(value: object) -> str:
    return json.dumps(value)


@dataclass(frozen=True)
class RunEnd:
    """How an execution ended, seen from the runner."""

    state: EndState
    reason: str = ""
    exit_code: int | None = None
    logs: str = ""
    events: list[str] = field(default_factory=list)


class Runner(Protocol):
    """Executes a run request and waits for its end (the deadline is the request's)."""

    async def run(self, request: RunRequest) -> RunEnd: ...
