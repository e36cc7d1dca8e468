"""The case registry: decorators register, duplicates and unknown names fail, discovery finds modules."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from kubeprobe.cases.registry import CaseRegistry, DuplicateCaseError, UnknownCaseError, builtin_registry
from kubeprobe.model import CaseKind


class NoParams(BaseModel):
    pass


def test_register_and_get() -> None:
    reg = CaseRegistry()

    @reg.probe("demo", params=NoParams, timeout_seconds=5)
    async def demo(ctx: object, params: NoParams) -> None:
        """A demo probe."""

    template = reg.get("demo")
    assert template.kind is CaseKind.PROBE
    assert template.description == "A demo probe."
    assert template.entry_point.endswith(":test_register_and_get.<locals>.demo")


def test_duplicate_name_is_refused() -> None:
    reg = CaseRegistry()

    @reg.probe("same", params=NoParams)
    async def one(ctx: object, params: NoParams) -> None: ...

    with pytest.raises(DuplicateCaseError, match="registered twice"):

        @reg.inspection("same", params=NoParams)
        async def two(ctx: object, params: NoParams) -> None: ...


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(UnknownCaseError, match=r"unknown case template 'nope'; known: .*pod-lifecycle"):
        builtin_registry().get("nope")


def test_every_builtin_probe_renders_its_defaults() -> None:
    """The 'minimal parameters start cleanly' check for every registered probe's parameters."""
    templates = builtin_registry().all(CaseKind.PROBE)
    assert templates
    for template in templates:
        template.render({})
        schema = template.param_schema()
        assert schema["type"] == "object"
        assert template.timeout_seconds > 0
