"""The center's settings: one object read from `KUBEPROBE_*` environment variables, passed in."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "kubeprobe"


class CenterSettings(BaseSettings):
    """Everything the center needs to start; every field is `KUBEPROBE_<NAME>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="KUBEPROBE_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir, description="SQLite file, keys, admin token.")
    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy async URL: sqlite+aiosqlite:///path.db or postgresql+asyncpg://user@host/db. "
            "Default: a SQLite file center.db in data_dir."
        ),
    )
    secret_key: str | None = Field(
        default=None,
        description=(
            "Fernet key that encrypts cluster credentials at rest. Replicas sharing a database must "
            "share it. Default: generated once into data_dir/secret.key."
        ),
    )
    admin_token: str | None = Field(
        default=None,
        description=(
            "Secret of the admin token made on first start (empty token table). Default: a random one, "
            "written to data_dir/admin-token (mode 0600)."
        ),
    )
    host: str = "127.0.0.1"
    port: int = 8080
    retention_days: float = Field(default=7.0, gt=0, description="How long raw runs are kept.")
    rollup_retention_days: float = Field(default=400.0, gt=0, description="How long hourly rollups are kept.")
    maintenance_interval_seconds: float = Field(
        default=300.0, gt=0, description="How often rollups and retention run in the server."
    )
    max_body_bytes: int = Field(default=8 * 1024 * 1024, gt=0, description="Larger request bodies get 413.")
    max_batch: int = Field(default=10_000, gt=0, description="Most results in one ingestion batch.")
    db_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=600,
        description="How long to wait for a locked SQLite file or a PostgreSQL connection.",
    )
    pool_size: int = Field(default=10, gt=0, description="PostgreSQL connection pool size.")
    dispatch: bool = Field(
        default=True, description="Run the scheduler and the dispatcher (runs are executed by this center)."
    )
    public_url: str | None = Field(
        default=None,
        description="URL at which cases reach this center to report (default: http://HOST:PORT).",
    )
    runner_mode: Literal["auto", "local"] = Field(
        default="auto",
        description=(
            "auto: image cases run as pods in their cluster, the rest as local processes; "
            "local: every case runs here (image cases run their command locally, as in the sandbox demo)."
        ),
    )
    max_in_flight: int = Field(default=16, gt=0, description="Runs executed at once by this center.")

    def report_base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'center.db'}"
