"""Policies: which remediation answers which named cause where, step by step.

A policy matches a cause label (`kubeprobe.model.causes`) and scope selectors: cluster labels,
case names and node labels (equality; empty means any). Its ladder is the order of actions to
try; each step has a timeout and a maximum number of tries, and the next step starts only when
the previous one used up its tries without a verified outcome, or, for a step with
``on_verified: next``, once it was verified (a sequence: drain, then restart, then uncordon; the
next step acts on the same target at once). When the ladder is exhausted the remediation
escalates (the incident pages). ``mode`` is ``shadow`` unless a person sets it: a new
policy only records what it would have done.

    name: node-not-ready
    version: 3
    cause: node.not_ready
    clusters: {env: prod}
    mode: approval
    ladder:
      - {action: node-drain, timeout_seconds: 600, max_tries: 1, on_verified: next}
      - {action: restart-node-component, params: {component: kubelet}, on_verified: next}
      - {action: node-uncordon, timeout_seconds: 300, max_tries: 3}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kubeprobe.model.causes import ROOT_CAUSES
from kubeprobe.remedy.actions import ACTIONS
from kubeprobe.remedy.defender.requests import Mode, Outcome
from kubeprobe.remedy.errors import PolicyError


class LadderStep(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    action: str = Field(description="a registered action: " + ", ".join(ACTIONS.names()))
    timeout_seconds: float = Field(300.0, gt=0, le=86_400, description="how long one try may take")
    max_tries: int = Field(1, ge=1, le=10, description="tries before the next step")
    params: dict[str, Any] = Field(default_factory=dict, description="the action's parameters")
    on_verified: Literal["stop", "next"] = Field(
        "stop", description="after a verified try: stop (healed) or go on with the next step"
    )

    @field_validator("action")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in ACTIONS.names():
            raise ValueError(f"unknown action {value!r}; known: {', '.join(ACTIONS.names())}")
        return value


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=253)
    version: int = Field(1, ge=1)
    cause: str
    clusters: dict[str, str] = Field(default_factory=dict, description="cluster labels that must match")
    cases: list[str] = Field(default_factory=list, description="case names (empty: any)")
    nodes: dict[str, str] = Field(default_factory=dict, description="node labels that must match")
    mode: Mode = Mode.SHADOW
    ladder: list[LadderStep] = Field(min_length=1)

    @field_validator("cause")
    @classmethod
    def _cause(cls, value: str) -> str:
        if value not in ROOT_CAUSES:
            raise ValueError(f"unknown cause {value!r}; causes are the labels of DESIGN.md")
        return value

    def matches(
        self,
        cause: str,
        cluster_labels: Mapping[str, str],
        case: str,
        node_labels: Mapping[str, str] | None = None,
    ) -> bool:
        if cause != self.cause or (self.cases and case not in self.cases):
            return False
        if any(cluster_labels.get(k) != v for k, v in self.clusters.items()):
            return False
        return not self.nodes or (
            node_labels is not None and all(node_labels.get(k) == v for k, v in self.nodes.items())
        )

    def next_step(self, outcomes: Sequence[tuple[int, Outcome]]) -> tuple[int, LadderStep] | None:
        """The ladder step to try next, given the (step index, outcome) of the tries so far;
        None once a step that stops on success was verified, or every step is done or used up
        its tries (escalate when none was verified)."""
        for index, step in enumerate(self.ladder):
            tries = [o for i, o in outcomes if i == index]
            if Outcome.VERIFIED in tries:
                if step.on_verified == "stop":
                    return None
                continue
            if len(tries) < step.max_tries:
                return index, step
        return None


class PolicySet:
    """Policies in order; the first that matches a failure decides."""

    def __init__(self, policies: Sequence[Policy] = ()) -> None:
        names = [p.name for p in policies]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise PolicyError(f"policy names must be unique; twice: {', '.join(dupes)}")
        self.policies = list(policies)

    def select(
        self,
        cause: str,
        cluster_labels: Mapping[str, str],
        case: str,
        node_labels: Mapping[str, str] | None = None,
    ) -> Policy | None:
        return next((p for p in self.policies if p.matches(cause, cluster_labels, case, node_labels)), None)


def load_policies(text: str) -> PolicySet:
    """Policies from YAML (one document with a list, or several documents); PolicyError says
    which policy and field are wrong."""
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise PolicyError(f"policies are not valid YAML: {exc}") from exc
    items = [x for d in docs for x in (d if isinstance(d, list) else [d])]
    policies = []
    for n, item in enumerate(items, 1):
        try:
            policies.append(Policy.model_validate(item))
        except ValidationError as exc:
            where = item.get("name", f"#{n}") if isinstance(item, dict) else f"#{n}"
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'policy'}: {e['msg']}" for e in exc.errors()
            )
            raise PolicyError(f"policy {where}: {problems}") from exc
    return PolicySet(policies)
