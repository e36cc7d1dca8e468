"""Pipelined paging (the next page asked for from the head of the current one) and whole LISTs cut
into pages as they stream in: the same pages as when each next page waits for the current one to be
decoded; a broken stream is resumed in pages."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from kubeprobe.kube import paging, streaming
from kubeprobe.kube.client import KubeClient
from kubeprobe.kube.collect import CONFIGMAPS, PODS, ListSpec, Resource, pages
from kubeprobe.kube.config import ClusterConnection
from kubeprobe.kube.errors import KubeAPIError, KubeConnectionError, NotFoundError
from kubeprobe.kube.waiting import wait_for
from kubeprobe.kube.wire import usable

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def test_head_continue_reads_the_lists_metadata() -> None:
    head = (
        b'{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"912","continue":'
        b'"eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ","remainingItemCount":9500},"items":[{"metadata":{"name":"a"'
    )
    assert paging.head_continue(head) == "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ"
    last = (
        b'{"kind":"PartialObjectMetadataList","apiVersion":"meta.k8s.io/v1",'
        b'"metadata":{"resourceVersion":"9"},"items":[]}'
    )
    assert paging.head_continue(last) == ""
    # Too short to tell, and a list with its metadata last (custom resources: keys sorted).
    assert paging.head_continue(head[:60]) is None
    assert (
        paging.head_continue(b'{"apiVersion":"example.com/v1","items":[{"metadata":{"continue":"x"}}]')
        is None
    )
    # An object's own "continue" field inside the items is never taken for the list's.
    tricky = (
        b'{"kind":"WidgetList","apiVersion":"example.com/v1","metadata":{},"items":[{"spec":{"continue":"x"}}'
    )
    assert paging.head_continue(tricky) == ""


async def _names(
    kube: KubeClient, spec: ListSpec, *, pipelined: bool, limit: int = 2, paged: bool = True
) -> list[list[str]]:
    got = []
    async for page in pages(kube, spec, limit=limit, paged=paged, pipelined=pipelined):
        got.append([f"{o['metadata'].get('namespace')}/{o['metadata']['name']}" for o in page["items"] or []])
    return got


async def test_pipelined_pages_are_the_serial_ones(kube: KubeClient, namespace: str) -> None:
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    for i in range(7):
        await kube.create(path, {"metadata": {"name": f"cm-{i}", "labels": {"paging": namespace}}})
    for metadata_only in (True, False):
        spec = ListSpec(CONFIGMAPS, metadata_only, label_selector=f"paging={namespace}")
        serial = await _names(kube, spec, pipelined=False, limit=3)
        assert await _names(kube, spec, pipelined=True, limit=3) == serial
        assert await _names(kube, spec, pipelined=True, limit=3, paged=False) == serial  # streamed
        assert sorted(n for page in serial for n in page) == [f"{namespace}/cm-{i}" for i in range(7)]
        assert len(serial) == 3


async def test_a_wrong_early_token_is_dropped(
    kube: KubeClient, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A head that tells another token than the decoded page: its early request is dropped and the
    decoded token followed, so no page is lost or seen twice."""
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    for i in range(5):
        await kube.create(path, {"metadata": {"name": f"cm-{i}", "labels": {"paging": namespace}}})
    spec = ListSpec(CONFIGMAPS, True, label_selector=f"paging={namespace}")
    serial = await _names(kube, spec, pipelined=False)
    monkeypatch.setattr(paging, "head_continue", lambda head: "bm90IGEgdG9rZW4")
    assert await _names(kube, spec, pipelined=True) == serial


async def test_an_error_ends_the_pages(kube: KubeClient) -> None:
    spec = ListSpec(Resource("nothere.example.com", "v1", "things", "Thing"), True)
    with pytest.raises(KubeAPIError, match="404"):
        await _names(kube, spec, pipelined=True)
    assert await _names(kube, ListSpec(PODS, True, field_selector="metadata.name=none"), pipelined=True) == [
        []
    ]


@pytest_asyncio.fixture(loop_scope="session")
async def widgets(kube: KubeClient, namespace: str) -> AsyncIterator[Resource]:
    """A custom resource with five objects: its whole list has its metadata last."""
    group = f"paging{uuid.uuid4().hex[:6]}.example.com"
    schema = {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
    crd: dict[str, Any] = {
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{"name": "v1", "served": True, "storage": True, "schema": schema}],
        },
    }
    await kube.create(CRDS, crd)
    resource = Resource(group, "v1", "widgets", "Widget")
    try:
        for i in range(5):
            body = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": f"w-{i}"}}
            await _create_when_served(kube, resource.path(namespace), body)
        yield resource
    finally:
        await kube.delete(f"{CRDS}/widgets.{group}")


async def _create_when_served(kube: KubeClient, path: str, body: dict[str, Any]) -> None:
    async def attempt() -> bool:
        try:
            await kube.create(path, body)
        except NotFoundError:
            return False  # the new resource is not served yet
        return True

    await wait_for(attempt, bool, timeout=30, what=f"create {path}")


async def test_custom_resources_page_with_their_metadata_last(kube: KubeClient, widgets: Resource) -> None:
    for metadata_only in (False, True):
        got = await _names(kube, ListSpec(widgets, metadata_only), pipelined=True)
        assert got == await _names(kube, ListSpec(widgets, metadata_only), pipelined=False)
        assert got == await _names(kube, ListSpec(widgets, metadata_only), pipelined=True, paged=False)
        assert sorted(n.split("/")[1] for page in got for n in page) == [f"w-{i}" for i in range(5)]


def test_lean_connections_leave_proxies_to_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    conn = ClusterConnection(server="https://10.0.0.1:6443", context="x")
    assert usable(conn)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    assert not usable(conn)
    monkeypatch.setenv("NO_PROXY", "10.0.0.1")
    assert usable(conn)


@pytest.mark.parametrize("after_pages", [0, 1, 2])
async def test_a_broken_stream_is_resumed_in_pages(
    kube: KubeClient, namespace: str, monkeypatch: pytest.MonkeyPatch, after_pages: int
) -> None:
    """The stream of a whole LIST breaks after some pages: the rest of the same snapshot comes in
    pages, every object exactly once, in order."""
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    for i in range(8):
        await kube.create(path, {"metadata": {"name": f"cm-{i}", "labels": {"paging": namespace}}})
    spec = ListSpec(CONFIGMAPS, True, label_selector=f"paging={namespace}")
    expected = [n for page in await _names(kube, spec, pipelined=False) for n in page]
    feed = streaming.Cutter.feed
    given = {"pages": 0}

    def breaking(self: streaming.Cutter, data: bytes) -> list[dict[str, Any]]:
        out = feed(self, data)
        if given["pages"] + len(out) > after_pages:
            raise KubeConnectionError("the API server ended the request (simulated)")
        given["pages"] += len(out)
        return out

    monkeypatch.setattr(streaming.Cutter, "feed", breaking)
    got = [n for page in await _names(kube, spec, pipelined=True, limit=3, paged=False) for n in page]
    assert got == expected
