"""A center on the pod network of the session's real-node sandbox (``real_sandbox``), running
cases as pods through the pod runner, with the KubeProbe image loaded into the real node.

``real_center`` serves the center at the sandbox's ``host_ip`` (where pods reach this machine)
with a dispatcher in ``auto`` mode (image cases run as pods) and the sandbox registered as
cluster ``real``; ``pod_template`` adds a template that runs a command in an image, as a center
user would. ``khcheck_image`` builds the Kuberhealthy-style Go check of ``khcheck/`` into its own
OCI image (no Docker: ``go build``, then :mod:`kubeprobe.sandbox.oci`) and loads it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from kubeprobe.cases.registry import builtin_registry
from kubeprobe.center.credentials import load_secret_box
from kubeprobe.center.services.builtin import PROBE_RULES, builtin_templates
from kubeprobe.center.services.dispatcher import Dispatcher
from kubeprobe.center.settings import CenterSettings
from kubeprobe.center.store.database import Store
from kubeprobe.runners.local import LocalRunner
from kubeprobe.runners.pod import sweep
from kubeprobe.sandbox import oci, realcluster
from kubeprobe.sandbox.build import run_go
from kubeprobe.sandbox.cluster import Sandbox
from tests.center.server import running_center
from tests.center.services.test_dispatcher import Center

TOKEN = "kp_real-node-test-admin"
CLUSTER = "real"
AddTemplate = Callable[..., Awaitable[str]]
KHCHECK = Path(__file__).parent / "khcheck"
KHCHECK_IMAGE = "kubeprobe.local/khcheck:test"
#: Where ``khcheck_image`` writes its archive (for faults that remove the image and load it again).
KHCHECK_ARCHIVE = Path(tempfile.gettempdir()) / f"kubeprobe-khcheck-{os.getpid()}.tar"


@pytest.fixture(scope="session")
def khcheck_image(real_sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The Go check as an image of one static binary (user 65532), loaded into the real node."""
    out = tmp_path_factory.mktemp("khcheck")
    run_go("khcheck", ["go", "build", "-trimpath", "-ldflags", "-s -w", "-o", str(out / "khcheck"), "."],
           KHCHECK, out / "build.log")  # fmt: skip
    layer = oci.layer_from_files({"/khcheck": ((out / "khcheck").read_bytes(), 0o755)}, out / "layer.tgz")
    config = oci.ImageConfig(entrypoint=("/khcheck",), user="65532:65532", env=())
    oci.write_archive(KHCHECK_IMAGE, [layer], config, KHCHECK_ARCHIVE)
    realcluster.load_archive(real_sandbox.state, KHCHECK_ARCHIVE)
    yield KHCHECK_IMAGE
    KHCHECK_ARCHIVE.unlink(missing_ok=True)


@pytest_asyncio.fixture
async def real_center(tmp_path: Path, real_sandbox: Sandbox, kubeprobe_image: str) -> AsyncIterator[Center]:
    host = str(real_sandbox.real_nodes["host_ip"])
    settings = CenterSettings(data_dir=tmp_path / "data", admin_token=TOKEN)
    with running_center(settings, builtin_templates(), host=host) as url:
        store = Store.connect(settings.resolved_database_url())
        builtin = frozenset(t.name for t in builtin_registry().all())
        box = load_secret_box(settings)
        local = LocalRunner(builtin)
        dispatcher = Dispatcher(store, box, report_base_url=url, local=local, runner_mode="auto")
        task = asyncio.create_task(dispatcher.run_forever())
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
        ) as http:
            cluster = {"name": CLUSTER, "kubeconfig": real_sandbox.kubeconfig.read_text()}
            resp = await http.post("/api/v1/clusters", json=cluster)
            assert resp.status_code == 201, resp.text
            try:
                yield Center(url, http, dispatcher, store, box, task)
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                await store.close()
                # A pod the cancelled dispatcher still followed waits for a center to adopt it.
                async with real_sandbox.client() as kube:
                    await sweep(kube, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=1))


@pytest_asyncio.fixture
async def pod_template(real_center: Center, kubeprobe_image: str) -> AddTemplate:
    """``await pod_template(name, command, image=..., builtin=..., schema=..., params=...)``: a
    template whose case runs ``command`` (the image's entrypoint when empty) in ``image`` (the
    KubeProbe image by default) with the built-in probes' RBAC, and a case of the same name with
    ``params``; ``builtin`` takes that template's parameter schema, else ``schema``."""

    async def add(
        name: str,
        command: list[str],
        *,
        image: str | None = None,
        builtin: str | None = None,
        schema: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> str:
        if builtin:
            schema = builtin_registry().get(builtin).param_schema()
        template = {
            "name": name,
            "kind": "probe",
            "image": image or kubeprobe_image,
            "command": command,
            "params_schema": schema or {"type": "object"},
            "timeout_seconds": 120,
            "rbac_rules": [r.model_dump(exclude_none=True) for r in PROBE_RULES],
        }
        resp = await real_center.http.post("/api/v1/templates", json=template)
        assert resp.status_code == 201, resp.text
        case = {"name": name, "template": name, "params": params or {}}
        resp = await real_center.http.post("/api/v1/cases", json=case)
        assert resp.status_code == 201, resp.text
        return name

    return add
