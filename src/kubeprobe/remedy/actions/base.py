"""What every remediation action is: a risk tier, preconditions, a dry-run plan, execute,
verify and, where one exists, undo; and the registry that finds an action by name.

An action changes one target (`kubeprobe.remedy.defender.Target`). Before each write it calls
``ctx.fence()``, which raises `FenceError` once its lease is no longer the target's current one,
so a replica that lost its lease (paused, partitioned) stops instead of acting twice. Writes to a
Kubernetes object carry the fencing token in an annotation and refuse to go back under a newer
one (`fenced_patch`), so even a write already on its way cannot undo a newer owner's work.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.errors import ConflictError
from kubeprobe.remedy.defender.requests import Mode, Request, RiskTier, Target
from kubeprobe.remedy.errors import ActionError, FenceError

if TYPE_CHECKING:
    from kubeprobe.remedy.actions.components import ComponentSupervisor

Obj = dict[str, Any]
FENCE_ANNOTATION = "kubeprobe.io/remedy-fence"
REMEDY_ANNOTATION = "kubeprobe.io/remedy"


async def _no_fence() -> None:
    return None


@dataclass
class ActionContext:
    """What an action works with: the target cluster's client, the fence, its lease's token
    and the remediation's id, how long to wait for an effect, and (where KubeProbe can reach
    them) the supervisor of the cluster's control-plane components."""

    kube: KubeClient
    fence: Callable[[], Awaitable[None]] = _no_fence
    token: int = 0
    remediation: str = ""
    timeout: float = 120.0
    interval: float = 0.5
    supervisor: ComponentSupervisor | None = None  # control-plane components, where reachable


@dataclass(frozen=True)
class Plan:
    """A dry run: exactly what the action would change, and how it would be undone."""

    action: str
    tier: RiskTier
    target: Target
    changes: tuple[str, ...]
    undo: str = ""
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def lines(self) -> tuple[str, ...]:
        tail = (f"undo: {self.undo}",) if self.undo else ("undo: none",)
        return (*self.changes, *(f"warning: {w}" for w in self.warnings), *tail)


class RemedyAction(abc.ABC):
    """One action on one target. Subclasses set the class attributes and the five steps."""

    name: ClassVar[str]
    tier: ClassVar[RiskTier]
    kind: ClassVar[str]  # the kind of target it takes
    control_plane: ClassVar[bool] = False
    description: ClassVar[str] = ""

    def __init__(self, target: Target, params: Mapping[str, Any] | None = None) -> None:
        if target.kind != self.kind:
            raise ActionError(f"{self.name} acts on a {self.kind}, not on {target.kind} {target.name}")
        self.target = target
        self.params: dict[str, Any] = dict(params or {})

    @abc.abstractmethod
    async def preconditions(self, ctx: ActionContext) -> list[str]:
        """What is wrong for acting now (empty: go). Reads only."""

    @abc.abstractmethod
    async def plan(self, ctx: ActionContext) -> Plan:
        """What exactly :meth:`execute` would change. Reads only."""

    @abc.abstractmethod
    async def execute(self, ctx: ActionContext) -> None:
        """Make the change; ``ctx.fence()`` before every write."""

    @abc.abstractmethod
    async def verify(self, ctx: ActionContext) -> bool:
        """Whether the change took effect (waits up to ``ctx.timeout``)."""

    async def undo(self, ctx: ActionContext) -> None:
        raise ActionError(f"{self.name} has no undo")

    def request(
        self,
        remediation: str,
        *,
        mode: Mode,
        policy: str = "",
        policy_version: int = 0,
        approver: str = "",
        plan: tuple[str, ...] = (),
    ) -> Request:
        """The defender's request for this action."""
        return Request(
            remediation,
            self.name,
            self.tier,
            self.target,
            mode,
            self.control_plane,
            policy,
            policy_version,
            approver,
            plan,
        )


A = TypeVar("A", bound=type[RemedyAction])


class DuplicateActionError(ActionError):
    """Two action classes registered under one name."""


class ActionRegistry:
    """Action classes by name; a name registered twice is an error."""

    def __init__(self) -> None:
        self._actions: dict[str, type[RemedyAction]] = {}

    def register(self, cls: A) -> A:
        existing = self._actions.get(cls.name)
        if existing is not None and existing is not cls:
            raise DuplicateActionError(f"action {cls.name!r} is registered twice: {existing} and {cls}")
        self._actions[cls.name] = cls
        return cls

    def get(self, name: str) -> type[RemedyAction]:
        try:
            return self._actions[name]
        except KeyError:
            raise ActionError(f"unknown action {name!r}; known: {', '.join(sorted(self._actions))}") from None

    def names(self) -> list[str]:
        return sorted(self._actions)


ACTIONS = ActionRegistry()


async def fenced_patch(
    kube: KubeClient, path: str, patch: Obj, token: int, *, tries: int = 5, release: bool = False
) -> Obj:
    """Merge-patch ``path`` if its fencing annotation is not newer than ``token``; the patch
    carries the object's resourceVersion, so a write in between makes us read again. The write
    leaves our token on the object, or with ``release`` (the object is back to normal) removes it."""
    for _ in range(tries):
        obj = await kube.get(path)
        meta = obj.get("metadata") or {}
        seen = int((meta.get("annotations") or {}).get(FENCE_ANNOTATION) or 0)
        if token and seen > token:
            raise FenceError(f"{path}: fencing token {seen} is newer than ours ({token})")
        body = {
            **patch,
            "metadata": {**(patch.get("metadata") or {}), "resourceVersion": meta.get("resourceVersion")},
        }
        if token or release:
            mark = None if release else str(token)
            annotations = {**(body["metadata"].get("annotations") or {}), FENCE_ANNOTATION: mark}
            body["metadata"]["annotations"] = annotations
        try:
            return await kube.patch(path, body)
        except ConflictError:
            continue
    raise ActionError(f"{path}: changed under us {tries} times in a row")


def controller_of(obj: Obj) -> Obj | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None
