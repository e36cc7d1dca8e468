"""The center's settings: one object read from ``KUBEPROBE_*`` environment variables at start and
passed down; nothing below the CLI and the app reads the environment.

:class:`CenterSettings` is the tree. Its fields are the documented environment variables
(``KUBEPROBE_<FIELD>``), in groups; each service receives its group, not the whole tree:

- ``store`` (:class:`StoreSettings`): database URL, pool, timeouts; data_dir for the SQLite default.
- ``server`` (:class:`ServerSettings`): where the API listens, its public URL, request limits.
- ``secrets``: secret_key (credentials at rest), admin_token (first start).
- ``dispatch`` (:class:`DispatchSettings`): whether this center runs the scheduler and the
  dispatcher, how, and how many runs at once.
- ``retention`` (:class:`RetentionSettings`): how long raw runs and rollups are kept, how often.
- ``analysis`` (:class:`AnalysisSettings`, ``KUBEPROBE_ANALYSIS_<FIELD>``): the analysis worker.
- ``ha`` (:class:`HaSettings`, ``KUBEPROBE_HA_<FIELD>``): leases of several replicas on PostgreSQL.
- ``heartbeat`` (:class:`HeartbeatCenterSettings`, ``KUBEPROBE_HEARTBEAT_<FIELD>``): the beat to an
  external dead man's switch.
- ``links`` (:class:`Links`): URLs to the dashboard's pages, for notifications (from public_url).
- ``remedy`` (:class:`RemedySettings`, ``KUBEPROBE_REMEDY_<FIELD>``): policies, freezes of self-healing.
- ``chatops`` (:class:`ChatOpsCenterSettings`, ``KUBEPROBE_CHATOPS_<FIELD>``): which API tokens (the
  chat bot's) may act on behalf of a chat user.

:class:`ClientSettings` is what the CLI reads to reach a center.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "kubeprobe"


class AnalysisSettings(BaseModel):
    """analysis: how the analysis worker behaves (``KUBEPROBE_ANALYSIS_<FIELD>``)."""

    model_config = ConfigDict(frozen=True)

    verify: bool = Field(default=True, description="Re-query and re-run a failure once before escalating it.")
    rerun: bool = Field(
        default=True, description="Part of verification: re-run built-in cases (else re-query only)."
    )
    rerun_timeout_seconds: float = Field(
        default=120.0, gt=0, description="Deadline of the verification re-run."
    )
    poll_seconds: float = Field(default=0.5, gt=0, description="How often to look for finished runs.")
    batch: int = Field(default=4, ge=1, le=100, description="Runs claimed at once by one replica.")
    lease_seconds: float = Field(default=600.0, gt=0, description="A claim older than this is retried.")
    lookback_seconds: float = Field(
        default=3600.0, gt=0, description="Runs finished longer ago are not analysed."
    )
    window_seconds: float = Field(
        default=300.0, gt=0, description="Other failures this close count for scope."
    )
    changes_seconds: float = Field(
        default=3600.0, gt=0, description="Change events this recent are evidence."
    )
    evidence_budget_seconds: float = Field(
        default=20.0, gt=0, description="Time limit for gathering evidence."
    )
    self_healing: bool = Field(default=False, description="Hand healable causes to self-healing.")
    model_cache: Path | None = Field(
        default=None, description="Where the trained classifier is cached (default: data_dir/models)."
    )


class StalenessSettings(BaseModel):
    """staleness: silence is not health (``KUBEPROBE_STALENESS_<FIELD>``)."""

    model_config = ConfigDict(frozen=True)

    enabled: bool = Field(
        default=True, description="Open staleness incidents for silent bindings and clusters."
    )
    intervals: float = Field(
        default=2.0, gt=0, description="Silent for more than this many intervals: stale."
    )
    poll_seconds: float = Field(default=5.0, gt=0, description="How often the watches are checked.")


class HeartbeatCenterSettings(BaseModel):
    """heartbeat: the center tells an external dead man's switch it is alive
    (``KUBEPROBE_HEARTBEAT_<FIELD>``; see :mod:`kubeprobe.alerting.heartbeat`). Every replica beats,
    only while its readiness check passes."""

    model_config = ConfigDict(frozen=True)

    url: str | None = Field(default=None, description="The receiver's URL; unset: no heartbeat.")
    interval_seconds: float = Field(default=60.0, gt=0, description="One beat every this many seconds.")
    method: Literal["POST", "GET"] = Field(default="POST", description="POST a JSON body, or a bare GET.")
    token: str | None = Field(default=None, description="Sent as a bearer token when set.")
    timeout_seconds: float = Field(default=10.0, gt=0, description="How long one beat may take.")


class HaSettings(BaseModel):
    """ha: several replicas on one PostgreSQL (``KUBEPROBE_HA_<FIELD>``). Each replica renews its
    leases every ``renew_seconds``; one that misses them for ``lease_seconds`` is taken for dead, its
    clusters, runs in flight and singletons move to the others. SQLite is a single-replica store: a
    second replica on the same file refuses to start."""

    model_config = ConfigDict(frozen=True)

    lease_seconds: float = Field(
        default=15.0, gt=0, le=600, description="A replica silent this long loses its leases."
    )
    renew_seconds: float = Field(default=5.0, gt=0, le=200, description="How often leases are renewed.")
    replica: str | None = Field(
        default=None,
        max_length=100,
        description="This replica's name (e.g. the pod name); default: host-pid-random, new each start.",
    )

    @model_validator(mode="after")
    def _renew_within_lease(self) -> HaSettings:
        if self.renew_seconds * 2 > self.lease_seconds:
            raise ValueError(
                f"ha: renew_seconds ({self.renew_seconds:g}) must be at most half of lease_seconds "
                f"({self.lease_seconds:g}), or a replica loses its leases between two renewals"
            )
        return self


class ChatOpsCenterSettings(BaseModel):
    """chatops: the center's side of the chat bot. A request from a delegate token with the header
    ``X-KubeProbe-On-Behalf-Of: <platform>:<user>`` keeps the token's role but is recorded (audit
    log, acks, silences) as that chat user "via" the token; from any other token the header is
    ignored. The bot's own ``KUBEPROBE_CHATOPS_*`` variables share the prefix and are ignored here."""

    model_config = ConfigDict(extra="ignore")

    delegates: list[str] = Field(
        default_factory=list, description="Names of API tokens that may act on behalf of chat users."
    )


class RemedySettings(BaseModel):
    """remedy: the center's side of self-healing (``KUBEPROBE_REMEDY_<FIELD>``). An incident whose
    analysis says ``self-heal`` (``KUBEPROBE_ANALYSIS_SELF_HEALING``) becomes a remediation when a
    policy of ``policies_file`` matches it; the defender's own limits are its defaults but for its
    rate limits (per action and cluster, and fleet-wide), set here."""

    model_config = ConfigDict(extra="ignore")

    policies_file: Path | None = Field(
        default=None, description="YAML policies (kubeprobe.remedy.policies); none: nothing is proposed."
    )
    gate_freeze_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="A cluster whose latest gate, opened this recently, is pending or blocked: no action.",
    )
    action_burst: float = Field(
        default=3.0, ge=1, le=1000, description="The defender's token bucket per action and cluster: burst."
    )
    action_per_hour: float = Field(
        default=6.0, gt=0, le=100_000, description="... and its refill, tokens per hour."
    )
    fleet_burst: float = Field(default=10.0, ge=1, le=10_000, description="The fleet-wide bucket: burst.")
    fleet_per_hour: float = Field(default=60.0, gt=0, le=1_000_000, description="... and its refill.")


@dataclass(frozen=True)
class StoreSettings:
    """store: the database."""

    url: str
    pool_size: int
    timeout_seconds: float


@dataclass(frozen=True)
class ServerSettings:
    """server: the API."""

    host: str
    port: int
    report_base_url: str
    max_body_bytes: int
    max_batch: int
    request_read_timeout_seconds: float = 20.0
    keep_alive_seconds: int = 5
    max_connections: int = 1000
    backlog: int = 2048


@dataclass(frozen=True)
class DispatchSettings:
    """dispatch: executing runs."""

    enabled: bool
    report_base_url: str
    runner_mode: str
    max_in_flight: int


@dataclass(frozen=True)
class RetentionSettings:
    """retention: rollups and deleting old data."""

    raw_days: float
    rollup_days: float
    interval_seconds: float


@dataclass(frozen=True)
class Links:
    """links: URLs of the dashboard's pages (none without a public URL: a notification then carries
    no link rather than one nobody can open)."""

    public_url: str | None

    def run(self, run_id: str) -> str:
        """The dashboard's page of the run, or "" without a public URL."""
        return f"{self.public_url.rstrip('/')}/ui/#/run/{run_id}" if self.public_url else ""


class CenterSettings(BaseSettings):
    """Everything the center needs to start; every field is ``KUBEPROBE_<NAME>`` in the environment
    (the analysis group's are ``KUBEPROBE_ANALYSIS_<NAME>``). Services take their group (``store``,
    ``server``, ``dispatching``, ``retention``, ``analysis``, ``links``)."""

    model_config = SettingsConfigDict(
        env_prefix="KUBEPROBE_", extra="ignore", env_nested_delimiter="_", env_nested_max_split=1
    )

    # -- store ------------------------------------------------------------------------------------
    data_dir: Path = Field(default_factory=default_data_dir, description="SQLite file, keys, admin token.")
    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy async URL: sqlite+aiosqlite:///path.db or postgresql+asyncpg://user@host/db. "
            "Default: a SQLite file center.db in data_dir."
        ),
    )
    db_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=600,
        description="How long to wait for a locked SQLite file or a PostgreSQL connection.",
    )
    pool_size: int = Field(default=10, gt=0, description="PostgreSQL connection pool size.")
    # -- secrets ----------------------------------------------------------------------------------
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
    # -- server -----------------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str | None = Field(
        default=None,
        description=(
            "URL at which cases reach this center to report and people open the dashboard "
            "(default for reports: http://HOST:PORT; notifications link to runs only when it is set)."
        ),
    )
    max_body_bytes: int = Field(default=8 * 1024 * 1024, gt=0, description="Larger request bodies get 413.")
    max_batch: int = Field(default=10_000, gt=0, description="Most results in one ingestion batch.")
    request_read_timeout_seconds: float = Field(
        default=20.0,
        gt=0,
        le=3600,
        description="A whole request (headers and body) must arrive within this time of its first byte "
        "(slowloris); else 408 and the connection is closed.",
    )
    keep_alive_seconds: int = Field(
        default=5, gt=0, le=3600, description="Idle keep-alive connections close after this."
    )
    max_connections: int = Field(
        default=1000, gt=0, description="Open connections and requests beyond which the server answers 503."
    )
    backlog: int = Field(default=2048, gt=0, description="Connections the kernel queues before accept.")
    # -- retention --------------------------------------------------------------------------------
    retention_days: float = Field(default=7.0, gt=0, description="How long raw runs are kept.")
    rollup_retention_days: float = Field(default=400.0, gt=0, description="How long hourly rollups are kept.")
    maintenance_interval_seconds: float = Field(
        default=300.0, gt=0, description="How often rollups and retention run in the server."
    )
    # -- dispatch ---------------------------------------------------------------------------------
    dispatch: bool = Field(
        default=True, description="Run the scheduler and the dispatcher (runs are executed by this center)."
    )
    runner_mode: Literal["auto", "local"] = Field(
        default="auto",
        description=(
            "auto: image cases run as pods in their cluster, the rest as local processes; "
            "local: every case runs here (image cases run their command locally, as in the sandbox demo)."
        ),
    )
    max_in_flight: int = Field(default=16, gt=0, description="Runs executed at once by this center.")
    # -- analysis ---------------------------------------------------------------------------------
    analysis: AnalysisSettings = Field(default_factory=AnalysisSettings)
    staleness: StalenessSettings = Field(default_factory=StalenessSettings)
    ha: HaSettings = Field(default_factory=HaSettings)
    heartbeat: HeartbeatCenterSettings = Field(default_factory=HeartbeatCenterSettings)
    chatops: ChatOpsCenterSettings = Field(default_factory=ChatOpsCenterSettings)
    remedy: RemedySettings = Field(default_factory=RemedySettings)

    def report_base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'center.db'}"

    @property
    def store(self) -> StoreSettings:
        return StoreSettings(self.resolved_database_url(), self.pool_size, self.db_timeout_seconds)

    @property
    def server(self) -> ServerSettings:
        return ServerSettings(
            self.host,
            self.port,
            self.report_base_url(),
            self.max_body_bytes,
            self.max_batch,
            self.request_read_timeout_seconds,
            self.keep_alive_seconds,
            self.max_connections,
            self.backlog,
        )

    @property
    def dispatching(self) -> DispatchSettings:
        return DispatchSettings(self.dispatch, self.report_base_url(), self.runner_mode, self.max_in_flight)

    @property
    def retention(self) -> RetentionSettings:
        return RetentionSettings(
            self.retention_days, self.rollup_retention_days, self.maintenance_interval_seconds
        )

    @property
    def links(self) -> Links:
        return Links(self.public_url)


class ClientSettings(BaseSettings):
    """What the CLI reads to reach a center: ``KUBEPROBE_URL``, ``KUBEPROBE_TOKEN``,
    ``KUBEPROBE_DATA_DIR``."""

    model_config = SettingsConfigDict(env_prefix="KUBEPROBE_", extra="ignore")

    url: str = Field(default="http://127.0.0.1:8080", description="The center's URL.")
    token: str | None = Field(
        default=None, description="API token; default: the admin token a local first start wrote."
    )
    data_dir: Path = Field(default_factory=default_data_dir, description="The local center's data dir.")
