"""The operator's settings: one object, from flags or ``KUBEPROBE_OPERATOR_*`` environment variables."""

from __future__ import annotations

import random
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class OperatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KUBEPROBE_OPERATOR_", extra="ignore")

    cluster: str = Field(
        "default", min_length=1, max_length=63, description="this cluster's name at the center"
    )
    center_url: str = Field("", description="the center's base URL; empty: reports stay in the buffer")
    center_token: str = Field("", description="an API token of role operator at the center")
    buffer_path: Path = Field(Path("kubeprobe-operator-buffer.db"), description="the on-disk report outbox")
    buffer_capacity: int = Field(100_000, ge=1)
    global_rate: float = Field(50.0, gt=0, description="reports per second for all configs together")
    global_burst: int = Field(500, ge=1)
    batch_size: int = Field(500, ge=1, le=10_000)
    status_interval_seconds: float = Field(10.0, gt=0, description="refresh of runs/ratio in CR status")
    max_in_flight: int = Field(256, ge=1, description="probe runs in flight at once; the others wait")
    api_connections: int = Field(
        100,
        ge=1,
        description="connections to the API server kept open for the probes (more in flight wait for one)",
    )
    probe_timeout_cap_seconds: float = Field(30.0, gt=0)
    namespaces: list[str] = Field(default_factory=list, description="watch only these; empty: all")
    peering: str = Field("kubeprobe", description="kopf peering name; replicas with one name share work")
    standalone: bool = Field(False, description="no peering (a single replica)")
    priority: int = Field(
        default_factory=lambda: random.randint(1, 2**31 - 1),
        description="peering priority; the live replica with the highest probes (equal ones would all pause)",
    )
    peering_lifetime_seconds: int = Field(60, ge=5, description="a silent replica is dead after this")
    identity: str = Field("", description="this replica's name in status.probedBy (default: hostname)")
