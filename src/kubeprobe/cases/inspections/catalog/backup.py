"""etcd backup coverage: a backup job or record exists in the cluster and is recent.

Backups are found by a label (setting ``backup_label``, default ``kubeprobe.io/etcd-backup``) on
CronJobs (their ``status.lastSuccessfulTime``), Jobs (``status.completionTime`` when succeeded) and
ConfigMaps written by backup tooling as records (annotation ``kubeprobe.io/backup-time``, else
their creation time).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from kubeprobe.cases.inspections.check import Check
from kubeprobe.cases.inspections.objects import human_age, meta, parse_time, ref
from kubeprobe.cases.inspections.registry import register
from kubeprobe.kube.collect import CONFIGMAPS, CRONJOBS, JOBS, Need, Resource, Sweep
from kubeprobe.model import Finding, ObjectRef, Severity

Obj = dict[str, Any]
TIME_ANNOTATION = "kubeprobe.io/backup-time"


@register
class EtcdBackupCheck(Check):
    id = "etcd.backup-coverage"
    title = "etcd backup missing or stale"
    severity = Severity.HIGH
    hint = "Schedule an etcd backup job (and label it) or find out why the last runs failed"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.newest: tuple[dt.datetime, ObjectRef] | None = None
        self.seen: list[ObjectRef] = []

    def wants(self) -> tuple[Need, ...]:
        label = self.settings.backup_label
        return (
            Need(CRONJOBS, label_selector=label),
            Need(JOBS, label_selector=label),
            Need(CONFIGMAPS, metadata_only=True, label_selector=label),
        )

    def observe(self, resource: Resource, obj: Obj) -> None:
        m = meta(obj)
        if self.settings.backup_label not in (m.get("labels") or {}):
            return
        status = obj.get("status") or {}
        when: dt.datetime | None = None
        if resource.key == CRONJOBS.key:
            when = parse_time(status.get("lastSuccessfulTime"))
        elif resource.key == JOBS.key:
            if int(status.get("succeeded") or 0) > 0:
                when = parse_time(status.get("completionTime"))
        else:
            when = parse_time((m.get("annotations") or {}).get(TIME_ANNOTATION)) or parse_time(
                m.get("creationTimestamp")
            )
        self.seen.append(ref(resource, obj))
        if when is not None and (self.newest is None or when > self.newest[0]):
            self.newest = (when, ref(resource, obj))

    def findings(self, sweep: Sweep) -> Iterable[Finding]:
        cluster = ObjectRef(kind="Cluster", name=self.ctx.cluster)
        label = self.settings.backup_label
        if not self.seen:
            yield self.finding(cluster, f"no etcd backup CronJob, Job or record labelled {label}")
            return
        if self.newest is None:
            yield self.finding(
                self.seen[0], f"{len(self.seen)} backup object(s) labelled {label}, none has succeeded yet"
            )
            return
        age = (self.now - self.newest[0]).total_seconds()
        if age > self.settings.backup_max_age_hours * 3600:
            yield self.finding(
                self.newest[1],
                f"newest etcd backup is {human_age(age)} old "
                f"(at most {self.settings.backup_max_age_hours:g}h)",
            )
