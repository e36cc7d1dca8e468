"""Exclusions: silence known false positives by check, namespace, label and name pattern.

A rule is written ``check=ID,namespace=NS,name=GLOB,label=KEY=VALUE`` (every part optional, globs
allowed in check, namespace and name; several ``label=`` parts must all match). A finding is
dropped when any rule matches all of its parts.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from kubeprobe.cases.inspections.errors import ExclusionError
from kubeprobe.model import Finding

_KEYS = ("check", "namespace", "name", "label")


@dataclass(frozen=True)
class Exclusion:
    check: str = "*"
    namespace: str = "*"
    name: str = "*"
    labels: tuple[tuple[str, str], ...] = field(default=())

    def matches(self, finding: Finding) -> bool:
        if not fnmatch.fnmatchcase(finding.check_id, self.check):
            return False
        obj = finding.object
        if self.namespace != "*" and not fnmatch.fnmatchcase((obj and obj.namespace) or "", self.namespace):
            return False
        if self.name != "*" and not fnmatch.fnmatchcase((obj and obj.name) or "", self.name):
            return False
        have = finding.details.get("labels") or {}
        return all(have.get(k) == v for k, v in self.labels)

    @classmethod
    def parse(cls, text: str) -> Exclusion:
        parts: dict[str, str] = {}
        labels: list[tuple[str, str]] = []
        for raw in text.split(","):
            item = raw.strip()
            if not item:
                continue
            key, sep, value = item.partition("=")
            if not sep or key not in _KEYS or not value:
                raise ExclusionError(
                    f"bad exclusion {text!r}: write parts like check=ID,namespace=NS,name=GLOB,"
                    f"label=KEY=VALUE (problem at {item!r})"
                )
            if key == "label":
                lkey, lsep, lvalue = value.partition("=")
                if not lsep or not lkey:
                    raise ExclusionError(f"bad exclusion {text!r}: write label=KEY=VALUE")
                labels.append((lkey, lvalue))
            else:
                parts[key] = value
        if not parts and not labels:
            raise ExclusionError(f"bad exclusion {text!r}: it names nothing to exclude")
        return cls(labels=tuple(labels), **parts)


def load_exclusions(path: str | Path) -> list[Exclusion]:
    """A YAML list of rules: strings in the ``check=..,namespace=..`` form or mappings of the same keys."""
    file = Path(path)
    try:
        doc = yaml.safe_load(file.read_text()) or []
    except OSError as exc:
        raise ExclusionError(f"exclusions file {file} cannot be read: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ExclusionError(f"exclusions file {file} is not valid YAML: {exc}") from exc
    if not isinstance(doc, list):
        raise ExclusionError(f"exclusions file {file} must hold a list of rules")
    rules = []
    for item in doc:
        if isinstance(item, str):
            rules.append(Exclusion.parse(item))
        elif isinstance(item, dict):
            labels = item.get("labels") or {}
            text = ",".join(
                [f"{k}={item[k]}" for k in ("check", "namespace", "name") if k in item]
                + [f"label={k}={v}" for k, v in labels.items()]
            )
            unknown = set(item) - {"check", "namespace", "name", "labels"}
            if unknown:
                raise ExclusionError(f"exclusions file {file}: unknown keys {sorted(unknown)}")
            rules.append(Exclusion.parse(text))
        else:
            raise ExclusionError(f"exclusions file {file}: a rule must be a string or a mapping")
    return rules


def apply(findings: Iterable[Finding], rules: Iterable[Exclusion]) -> tuple[list[Finding], int]:
    """The findings no rule matches, and how many were dropped."""
    rules = list(rules)
    every = list(findings)
    kept = [f for f in every if not any(r.matches(f) for r in rules)]
    return kept, len(every) - len(kept)
