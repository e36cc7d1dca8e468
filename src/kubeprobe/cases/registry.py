"""The registry of built-in case templates, filled by decorators when their modules are imported.

A new built-in case is one new module under ``cases/probes/`` (or ``cases/inspections/``) that
decorates its entry function; :meth:`CaseRegistry.discover` imports every module of a package, so
no central list is edited.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from kubeprobe.model import CaseKind

P = TypeVar("P", bound=BaseModel)
CaseFunc = Callable[[Any, Any], Awaitable[None]]


class CaseRegistryError(Exception):
    """A template name is registered twice, or is not known."""


class DuplicateCaseError(CaseRegistryError):
    pass


class UnknownCaseError(CaseRegistryError):
    pass


@dataclass(frozen=True)
class CaseTemplate:
    """A built-in case template: what it is, its parameters with defaults, its timeout, its code."""

    name: str
    kind: CaseKind
    description: str
    params_model: type[BaseModel]
    timeout_seconds: float
    func: CaseFunc

    @property
    def entry_point(self) -> str:
        return f"{self.func.__module__}:{self.func.__qualname__}"

    def param_schema(self) -> dict[str, Any]:
        """JSON schema of the parameters (with defaults), as the center stores it."""
        return self.params_model.model_json_schema()

    def render(self, values: dict[str, Any] | None = None) -> BaseModel:
        """Validate parameters against the schema, filling defaults."""
        return self.params_model.model_validate(values or {})


class CaseRegistry:
    """Case templates by name; registering a name twice is an error."""

    def __init__(self) -> None:
        self._templates: dict[str, CaseTemplate] = {}

    def register(self, template: CaseTemplate) -> CaseTemplate:
        existing = self._templates.get(template.name)
        if existing is not None and existing.func is not template.func:
            raise DuplicateCaseError(
                f"case template {template.name!r} is registered twice: "
                f"{existing.entry_point} and {template.entry_point}"
            )
        self._templates[template.name] = template
        return template

    def _decorator(
        self, kind: CaseKind, name: str, params: type[P], timeout_seconds: float, description: str
    ) -> Callable[[Callable[[Any, P], Awaitable[None]]], Callable[[Any, P], Awaitable[None]]]:
        def wrap(func: Callable[[Any, P], Awaitable[None]]) -> Callable[[Any, P], Awaitable[None]]:
            text = description or (func.__doc__ or name).strip().splitlines()[0]
            self.register(CaseTemplate(name, kind, text, params, timeout_seconds, func))
            return func

        return wrap

    def probe(
        self, name: str, *, params: type[P], timeout_seconds: float = 300, description: str = ""
    ) -> Callable[[Callable[[Any, P], Awaitable[None]]], Callable[[Any, P], Awaitable[None]]]:
        """Register a black-box probe: ``@REGISTRY.probe("pod-lifecycle", params=PodParams)``."""
        return self._decorator(CaseKind.PROBE, name, params, timeout_seconds, description)

    def inspection(
        self, name: str, *, params: type[P], timeout_seconds: float = 600, description: str = ""
    ) -> Callable[[Callable[[Any, P], Awaitable[None]]], Callable[[Any, P], Awaitable[None]]]:
        return self._decorator(CaseKind.INSPECTION, name, params, timeout_seconds, description)

    def get(self, name: str) -> CaseTemplate:
        try:
            return self._templates[name]
        except KeyError:
            known = ", ".join(sorted(self._templates)) or "(none)"
            raise UnknownCaseError(f"unknown case template {name!r}; known: {known}") from None

    def all(self, kind: CaseKind | None = None) -> list[CaseTemplate]:
        return sorted(
            (t for t in self._templates.values() if kind is None or t.kind is kind), key=lambda t: t.name
        )

    def discover(self, package: str) -> None:
        """Import every module of ``package`` so their decorators register their templates."""
        pkg = importlib.import_module(package)
        for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}."):
            importlib.import_module(info.name)


#: The registry of built-in cases.
REGISTRY = CaseRegistry()


def builtin_registry() -> CaseRegistry:
    """The registry with every built-in probe and inspection imported."""
    REGISTRY.discover("kubeprobe.cases.probes")
    REGISTRY.discover("kubeprobe.cases.inspections")
    return REGISTRY
