"""``python -m kubeprobe.remedy.agent``: the node agent, configured by ``KUBEPROBE_AGENT_*``.

``NODE`` (the downward API's ``spec.nodeName``) and ``IDENTITY`` (its pod name) say who it is;
``SUPERVISOR_DIR`` is the host's supervisor ``run`` folder mounted into the pod and
``SUPERVISOR_UNITS`` a JSON object ``{node: {component: unit}}`` naming, per node, the
supervisor's name for each component it may restart (a node missing there restarts nothing).
It reaches the API server in-cluster, or through ``KUBECONFIG`` when set.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.errors import KubeConfigError
from kubeprobe.kube.incluster import resolve_connection
from kubeprobe.remedy.agent.loop import NodeAgent
from kubeprobe.remedy.agent.restarter import SupervisorRestarter


class AgentSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KUBEPROBE_AGENT_", extra="ignore")

    node: str = Field(min_length=1, max_length=253, description="this agent's node")
    identity: str = Field(
        "", max_length=253, description="this agent's name in status.agent (default: hostname)"
    )
    supervisor_dir: Path = Field(Path("/host/run"), description="the supervisor's run folder, mounted")
    supervisor_units: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="{node: {component: supervisor unit}}"
    )
    watch_seconds: int = Field(60, ge=5, le=3600, description="how long one watch request lasts")


async def serve(settings: AgentSettings) -> None:
    restarter = SupervisorRestarter(settings.supervisor_dir, settings.supervisor_units.get(settings.node, {}))
    async with KubeClient(resolve_connection(None), timeout=30) as kube:
        agent = NodeAgent(kube, settings.node, restarter, settings.identity or socket.gethostname())
        await agent.run(watch_seconds=settings.watch_seconds)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = AgentSettings()  # type: ignore[call-arg]  # node comes from the environment
        asyncio.run(serve(settings))
    except (ValidationError, ValueError, KubeConfigError) as exc:
        sys.exit(f"kubeprobe node agent: {exc}")
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
