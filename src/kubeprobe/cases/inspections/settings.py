"""Thresholds and inputs of the catalog's checks: one settings object, passed to every check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kubeprobe.cases.inspections.errors import SettingsError

#: The rate-limit settings every cluster of a fleet should carry (a named ConfigMap).
DEFAULT_RISK_CONTROL = ("ConfigMap/kube-system/kubeprobe-risk-control",)


class InspectionSettings(BaseModel):
    """What the checks compare against. Defaults are conservative; a YAML file can override any."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cert_warn_days: float = Field(default=30, description="certificates ending within this many days")
    pending_minutes: float = Field(default=15, description="pods Pending longer than this")
    terminating_minutes: float = Field(default=30, description="objects terminating longer than this")
    cordon_hours: float = Field(default=24, description="nodes cordoned longer than this")
    crashloop_restarts: int = Field(default=5, description="restarts from which a container is crash-looping")
    pvc_pending_minutes: float = Field(default=15, description="PVCs Pending longer than this")
    quota_ratio: float = Field(
        default=0.9, description="quota use from which a ResourceQuota is near its limit"
    )
    webhook_max_timeout_seconds: int = Field(
        default=5, description="a failurePolicy Fail webhook may wait at most this long (the default is 10)"
    )
    kubelet_max_minor_skew: int = Field(default=3, description="kubelets may be this many minors older")
    backup_label: str = Field(
        default="kubeprobe.io/etcd-backup",
        description="label key marking etcd backup CronJobs, Jobs or objects",
    )
    backup_max_age_hours: float = Field(default=26, description="the newest backup must be younger than this")
    risk_control: tuple[str, ...] = Field(
        default=DEFAULT_RISK_CONTROL, description="KIND/NAMESPACE/NAME (or KIND/NAME) every cluster must have"
    )
    inventory: str | None = Field(default=None, description="node inventory: CSV file or http(s) JSON URL")
    ipam: str | None = Field(default=None, description="IPAM export: CSV/JSON file or http(s) JSON URL")


def default_settings() -> InspectionSettings:
    return InspectionSettings()


def load_settings(path: str | Path | None, overrides: dict[str, Any] | None = None) -> InspectionSettings:
    """Settings from a YAML file (optional) plus overrides; errors name the file and the field."""
    data: dict[str, Any] = {}
    if path is not None:
        file = Path(path)
        try:
            loaded = yaml.safe_load(file.read_text()) or {}
        except OSError as exc:
            raise SettingsError(f"settings file {file} cannot be read: {exc.strerror or exc}") from exc
        except yaml.YAMLError as exc:
            raise SettingsError(f"settings file {file} is not valid YAML: {exc}") from exc
        if not isinstance(loaded, dict):
            raise SettingsError(f"settings file {file} must be a mapping of setting: value")
        data.update(loaded)
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return InspectionSettings(**data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SettingsError(f"bad inspection settings: {problems}") from exc
