"""Running built-in probes in-process against the session's sandbox."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from kubeprobe.cases.execute import Outcome, execute
from kubeprobe.cases.registry import builtin_registry
from kubeprobe.kube.client import KubeClient

RunProbe = Callable[..., Awaitable[Outcome]]


@pytest.fixture
def run_probe(kube: KubeClient) -> RunProbe:
    async def run(
        name: str,
        params: dict[str, Any] | None = None,
        timeout: float = 120,
        client: KubeClient | None = None,
    ) -> Outcome:
        template = builtin_registry().get(name)
        return await execute(
            template,
            params or {},
            client or kube,
            run_id=f"test-{uuid.uuid4().hex[:12]}",
            cluster="sandbox",
            case=name,
            deadline=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=timeout),
        )

    return run
