"""pytest fixtures for tests against a sandbox.

A plugin: ``pytest_plugins = ["kubeprobe.sandbox.testing"]``.

- ``sandbox``: one sandbox for the whole test session. ``KUBEPROBE_TEST_SANDBOX=NAME`` reuses a
  running sandbox and leaves it running; otherwise a fresh one is started and removed at the end.
- ``kube``: an admin client of it.
- ``namespace``: a fresh namespace per test, labelled ``kubeprobe.io/test``, deleted afterwards.
- ``add_nodes``: adds kwok nodes to the session's sandbox.
- ``real_sandbox``: a second session sandbox with one real node (and one kwok node), CoreDNS and
  kube-proxy; ``KUBEPROBE_TEST_REAL_SANDBOX=NAME`` reuses one. Skipped, with what is missing, on
  a machine that cannot run real nodes (``kubeprobe sandbox preflight``) unless
  ``KUBEPROBE_TEST_REQUIRE_REAL_NODES=1`` (``scripts/test`` sets it), which fails instead.
  ``real_kube`` is its admin client, ``real_namespace`` a fresh namespace in it;
  ``kubeprobe_image`` builds the KubeProbe image once per session and loads it into the real
  node. These tests are marked ``real_nodes`` too.

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
from kubeprobe.sandbox import preflight, realcluster
from kubeprobe.sandbox.build import Builder
from kubeprobe.sandbox.cluster import Sandbox
from kubeprobe.sandbox.image import ImageBuilder, default_tag
from kubeprobe.sandbox.nodebuild import NodeBuilder
from kubeprobe.sandbox.nodes import wait_for_service_account

SANDBOX_FIXTURES = {"sandbox", "kube", "namespace", "add_nodes"}
REAL_FIXTURES = {"real_sandbox", "real_kube", "real_namespace", "kubeprobe_image"}
TEST_LABEL = "kubeprobe.io/test"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "real_nodes: needs a sandbox with real nodes (root, runc, CNI; `kubeprobe sandbox preflight`)",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if (SANDBOX_FIXTURES | REAL_FIXTURES) & names:
            item.add_marker(pytest.mark.sandbox)
        if REAL_FIXTURES & names:
            item.add_marker(pytest.mark.real_nodes)


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
        _keep_logs(box, "sandbox-logs")
        box.down()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def kube(sandbox: Sandbox) -> AsyncIterator[KubeClient]:
    async with sandbox.client() as client:
        yield client


@pytest_asyncio.fixture(loop_scope="session")
async def namespace(kube: KubeClient) -> AsyncIterator[str]:
    async for name in _fresh_namespace(kube):
        yield name


@pytest_asyncio.fixture(loop_scope="session")
async def real_namespace(real_kube: KubeClient) -> AsyncIterator[str]:
    async for name in _fresh_namespace(real_kube):
        yield name


async def _fresh_namespace(kube: KubeClient) -> AsyncIterator[str]:
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


def _keep_logs(box: Sandbox, what: str) -> None:
    keep = Path(os.environ.get("KUBEPROBE_TEST_ARTIFACTS", "test-artifacts")) / what
    shutil.rmtree(keep, ignore_errors=True)
    shutil.copytree(box.logs, keep, dirs_exist_ok=True)


def require_real_nodes() -> None:
    """Skip, with the preflight's words, where real nodes cannot run (fail instead under
    ``KUBEPROBE_TEST_REQUIRE_REAL_NODES=1``); for tests that start a sandbox of their own."""
    problems = preflight.missing()
    if problems:
        if os.environ.get("KUBEPROBE_TEST_REQUIRE_REAL_NODES") == "1":
            pytest.fail("real nodes are required here but: " + "; ".join(problems))
        pytest.skip("this machine cannot run real nodes: " + "; ".join(problems))


@pytest.fixture(scope="session")
def real_sandbox() -> Iterator[Sandbox]:
    reuse = os.environ.get("KUBEPROBE_TEST_REAL_SANDBOX")
    if reuse:
        yield Sandbox(reuse)
        return
    import asyncio

    require_real_nodes()
    box = Sandbox(f"pytest-real-{uuid.uuid4().hex[:6]}")
    bin_dir, node_bin = Builder().build(), NodeBuilder().build()
    asyncio.run(box.up(bin_dir, node_count=1, real_nodes=1, node_bin_dir=node_bin))
    try:
        yield box
    finally:
        _keep_logs(box, "real-sandbox-logs")
        box.down()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def real_kube(real_sandbox: Sandbox) -> AsyncIterator[KubeClient]:
    async with real_sandbox.client() as client:
        yield client


@pytest.fixture(scope="session")
def kubeprobe_image(real_sandbox: Sandbox) -> str:
    """The KubeProbe image (``kubeprobe image build``), loaded into the real node; its name."""
    tag = default_tag()
    archive = ImageBuilder().build(tag)
    realcluster.load_archive(real_sandbox.state, archive)
    return tag
