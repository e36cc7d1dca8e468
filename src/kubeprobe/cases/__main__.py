"""``python -m kubeprobe.cases TEMPLATE``: run one built-in case under the case↔center contract.

Input comes from the contract's environment variables (run id, deadline, report URL and token,
cluster and case names, one variable per parameter) and a kubeconfig (``KUBECONFIG``, optional
``KUBEPROBE_KUBE_CONTEXT``), or in a pod without ``KUBECONFIG`` its service account (the pod
runner's run pods). The result is POSTed to the center with the SDK.

Exit codes: 0 reported success, 1 reported failure, 3 could not run (error: nothing reported, the
reason on stderr), 4 ran out of time, 5 the report could not be delivered.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys

from kubeprobe.cases.execute import Outcome, execute, params_from_env
from kubeprobe.cases.registry import UnknownCaseError, builtin_registry
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.config import load_kubeconfig
from kubeprobe.kube.errors import KubeConfigError
from kubeprobe.kube.incluster import in_cluster_connection
from kubeprobe.sdk import contract as c
from kubeprobe.sdk.report import Destination, ReportError, send

EXIT = {"succeeded": 0, "failed": 1, "error": 3, "timed_out": 4}


async def _run(template_name: str) -> Outcome:
    template = builtin_registry().get(template_name)
    env = os.environ
    deadline = dt.datetime.fromisoformat(env[c.DEADLINE].replace("Z", "+00:00"))
    if env.get("KUBECONFIG") or not env.get("KUBERNETES_SERVICE_HOST"):
        conn = load_kubeconfig(env.get("KUBECONFIG", "~/.kube/config"), env.get("KUBEPROBE_KUBE_CONTEXT"))
    else:
        conn = in_cluster_connection()
    async with KubeClient(conn) as kube:
        return await execute(
            template,
            params_from_env(template, env),
            kube,
            run_id=env.get(c.RUN_ID, "local"),
            cluster=env.get(c.CLUSTER, conn.context),
            case=env.get(c.CASE, template_name),
            deadline=deadline,
        )


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: python -m kubeprobe.cases TEMPLATE  (with the KubeProbe contract's environment)")
    try:
        dest = Destination.from_env()
        outcome = asyncio.run(_run(sys.argv[1]))
    except (ReportError, UnknownCaseError, KubeConfigError) as exc:
        print(f"kubeprobe case: {exc}", file=sys.stderr)
        sys.exit(EXIT["error"])
    if outcome.state in ("succeeded", "failed"):
        try:
            send(outcome.body, dest)
        except ReportError as exc:
            print(f"kubeprobe case: {exc}", file=sys.stderr)
            sys.exit(5)
    else:
        print(f"kubeprobe case: {outcome.state}: {'; '.join(outcome.body['messages'])}", file=sys.stderr)
    sys.exit(EXIT[outcome.state])


if __name__ == "__main__":
    main()
