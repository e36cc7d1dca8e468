"""Cutting a streamed LIST into pages: the same items as decoding it whole, whatever the pieces.

The lists are written as the API server writes them (compact JSON, typed lists with their metadata
first, custom resource lists with their keys sorted); items hold what could fool a cutter: the
separator inside strings, and nested lists of objects that start like items.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from kubeprobe.kube.decoding import page_decoder, whole
from kubeprobe.kube.streaming import Cutter
from kubeprobe.sandbox.scale import scale_pod


def _pods(count: int) -> list[dict[str, Any]]:
    pods = []
    for i in range(count):
        pod = scale_pod(f"p-{i}", f"node-{i % 3}", "web")
        pod.pop("apiVersion")
        pod.pop("kind")
        pod["metadata"]["annotations"] = {"note": '},{"metadata":{"name":"fake"}}'}
        pod["status"] = {"phase": "Running", "podIP": f"10.0.0.{i}"}
        pods.append(pod)
    return pods


def _statefulsets(count: int) -> list[dict[str, Any]]:
    """Each holds a list of objects that start like items: {"metadata":{...}},{"metadata":{...}}."""
    templates = [{"metadata": {"name": f"data-{j}"}, "spec": {"accessModes": ["RWO"]}} for j in range(3)]
    return [
        {"metadata": {"name": f"s-{i}"}, "spec": {"replicas": 1, "volumeClaimTemplates": templates}}
        for i in range(count)
    ]


def _typed(kind: str, items: list[dict[str, Any]], api_version: str = "v1") -> bytes:
    meta = {"resourceVersion": "42"}
    return orjson.dumps({"kind": kind, "apiVersion": api_version, "metadata": meta, "items": items})


def _cut(body: bytes, size: int, decode: Any, seed: int) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    cutter = Cutter(size, decode)
    pages, at = [], 0
    while at < len(body):
        step = rnd.choice([1, 7, 50, 333, 4096, 70000])
        pages.extend(cutter.feed(body[at : at + step]))
        at += step
    pages.append(cutter.finish())
    return pages


LISTS: dict[str, tuple[Callable[[int], bytes], tuple[str, str], bool]] = {
    "pods": (lambda n: _typed("PodList", _pods(n)), ("", "pods"), False),
    "statefulsets": (lambda n: _typed("StatefulSetList", _statefulsets(n), "apps/v1"), ("apps", "x"), False),
    "metadata": (
        lambda n: _typed(
            "PartialObjectMetadataList",
            [
                {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": {"name": f"c-{i}"},
                }
                for i in range(n)
            ],
            "meta.k8s.io/v1",
        ),
        ("", "configmaps"),
        True,
    ),
    # Custom resources: keys sorted, the list's metadata last.
    "custom": (
        lambda n: orjson.dumps(
            {
                "apiVersion": "example.com/v1",
                "items": [
                    {
                        "apiVersion": "example.com/v1",
                        "kind": "Widget",
                        "metadata": {"name": f"w-{i}"},
                        "spec": {"list": [{"metadata": {}}]},
                    }
                    for i in range(n)
                ],
                "kind": "WidgetList",
                "metadata": {"continue": "", "resourceVersion": "7"},
            }
        ),
        ("example.com", "widgets"),
        False,
    ),
}


@pytest.mark.parametrize("name", sorted(LISTS))
@pytest.mark.parametrize("count", [0, 1, 3, 10, 41])
@pytest.mark.parametrize("pruned", [False, True])
def test_cut_pages_hold_the_whole_lists_items(name: str, count: int, pruned: bool) -> None:
    make, key, metadata_only = LISTS[name]
    body = make(count)
    decode = page_decoder(key, metadata_only, pruned=pruned)
    expected = decode(body)["items"] or []
    for seed in range(3):
        pages = _cut(body, 4, decode, seed)
        assert [item for page in pages for item in page["items"] or []] == expected
        assert all(len(page["items"] or []) <= 6 for page in pages)  # about the size asked for
        if name != "statefulsets":  # items alike in size, no separator inside one: exactly that size
            assert all(len(page["items"]) == 4 for page in pages[:-1])
        if count >= 10:
            assert len(pages) >= count // 6
        assert sum(page["__bytes__"] for page in pages) == len(body)
        assert pages[-1]["metadata"].get("resourceVersion") in ("42", "7")


def test_another_layout_is_decoded_whole() -> None:
    body = orjson.dumps({"items": [{"metadata": {"name": f"x-{i}"}} for i in range(20)], "kind": "List"})
    pages = _cut(body, 3, whole, 0)
    assert len(pages) == 1
    assert len(pages[0]["items"]) == 20


def test_a_broken_list_is_an_error() -> None:
    body = _typed("PodList", _pods(10))[:-200]
    cutter = Cutter(3, whole)
    cutter.feed(body)
    with pytest.raises(ValueError, match=r"(?i)json|unexpected|truncated|end"):
        cutter.finish()
