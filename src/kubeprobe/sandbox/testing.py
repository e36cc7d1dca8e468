"""pytest fixtures for tests against a sandbox.

A plugin: ``pytest_plugins = ["kubeprobe.sandbox.testing"]``.

- ``sandbox``: one sandbox for the whole test session. ``KUBEPROBE_TEST_SANDBOX=NAME`` reuses a
  running sandbox and leaves it running; otherwise a fresh one is started and removed at the end.
- ``kube``: an admin client of it.
- ``namespace``: a fresh namespace per test, labelled ``kubeprobe.io/test``, deleted afterwards.
- ``add_nodes``: adds kwok nodes to the session's sandbox.

Every test that uses one of them is marked ``sandbox``, so ``-m "not sandbox"`` is a quick
unit-only run.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from kubeprobe.kube.client import KubeClient
from kubeprobe.sandbox.build import Builder
from kubeprobe.sandbox.cluster import Sandbox, wait_for_service_account

SANDBOX_FIXTURES = {"sandbox", "kube", "namespace", "add_nodes"}
TEST_LABEL = "kubeprobe.io/test"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SANDBOX_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.sandbox)


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    reuse = os.environ.get("KUBEPROBE_TEST_SANDBOX")
    if reuse:
        yield Sandbox(reuse)
        return
    import asyncio

    box = Sandbox(f"pytest-{uuid.uuid4().hex[:6]}")
    bin_dir = Builder().build()
    asyncio.run(box.up(bin_dir, node_count=3))
    try:
        yield box
    finally:
        # Keep the component logs for a post-mortem (CI uploads or prints them on failure).
        keep = Path(os.environ.get("KUBEPROBE_TEST_ARTIFACTS", "test-artifacts")) / "sandbox-logs"
        shutil.rmtree(keep, ignore_errors=True)
        shutil.copytree(box.logs, keep, dirs_exist_ok=True)
        box.down()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def kube(sandbox: Sandbox) -> AsyncIterator[KubeClient]:
    async with sandbox.client() as client:
        yield client


@pytest_asyncio.fixture(loop_scope="session")
async def namespace(kube: KubeClient) -> AsyncIterator[str]:
    name = f"kp-test-{uuid.uuid4().hex[:8]}"
    await kube.create(
        "/api/v1/namespaces",
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": {TEST_LABEL: "true"}},
        },
    )
    await wait_for_service_account(kube, name)
    try:
        yield name
    finally:
        await kube.delete(f"/api/v1/namespaces/{name}")


@pytest.fixture
def add_nodes(sandbox: Sandbox) -> Callable[..., Awaitable[list[str]]]:
    async def add(count: int, labels: dict[str, str] | None = None) -> list[str]:
        return await sandbox.add_nodes(count, labels)

    return add
