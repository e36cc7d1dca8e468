"""Decoding LIST pages: pruned to the fields inspections read where that pays, whole elsewhere.

Pods dominate a sweep (at 100,000 pods: ~80% of the objects and of the bytes), then nodes and the
metadata-only lists of every resource. Their pages are decoded by msgspec against the shapes of
:mod:`kubeprobe.kube.shapes`, which skips unread fields while parsing instead of building them;
every other page is decoded whole by orjson. Both give plain dicts and lists, so checks cannot
tell the difference except for the keys the shapes leave out.

A page whose values do not fit a shape (a type the API never sends, a future field change) is
decoded whole instead: never an error, never a partial object. Error bodies (``Status``) are
always decoded whole.

The cyclic garbage collector is paused while a page decodes: a page of 500 pods is tens of
thousands of new containers, which would trigger collections that walk everything the checks
keep. A decoded JSON document has no reference cycles to collect. A sweep pauses it for all its
LISTs (:func:`gc_paused`): else the first allocation after each decode walks the whole new page
(at 100,000 pods, 0.27 of 1.38 CPU-s of cutting, decoding and checking the pods).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import orjson

from kubeprobe.kube.shapes import (
    Node,
    NodeList,
    PartialObjectMetadata,
    PartialObjectMetadataList,
    Pod,
    PodList,
)

#: Decodes a page's JSON text, a list object or the bare array of its items (any bytes-like buffer).
Decode = Callable[[bytes | bytearray | memoryview], Any]

_PRUNED: dict[tuple[str, str], msgspec.json.Decoder[Any]] = {
    ("", "pods"): msgspec.json.Decoder(PodList | list[Pod]),
    ("", "nodes"): msgspec.json.Decoder(NodeList | list[Node]),
}
_METADATA = msgspec.json.Decoder(PartialObjectMetadataList | list[PartialObjectMetadata])


def whole(body: bytes | bytearray | memoryview) -> Any:
    """Every field (orjson), with the cyclic GC paused."""
    if not gc.isenabled():
        return orjson.loads(body)
    gc.disable()
    try:
        return orjson.loads(body)
    finally:
        gc.enable()


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector paused meanwhile, unless it already is: of sweeps that overlap
    (in one event loop) the first pauses it and resumes it when it ends, so it is never off for
    longer than one sweep. The cycles a sweep makes (its tasks, errors) wait until then."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _pruned(decoder: msgspec.json.Decoder[Any]) -> Decode:
    def decode(body: bytes | bytearray | memoryview) -> Any:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return decoder.decode(body)
        except msgspec.ValidationError:
            return orjson.loads(body)  # a value that fits no shape: decode that page whole
        except msgspec.DecodeError as exc:
            raise ValueError(f"not JSON: {exc}") from exc
        finally:
            if enabled:
                gc.enable()

    return decode


_PRUNED_DECODE = {key: _pruned(dec) for key, dec in _PRUNED.items()}
_METADATA_DECODE = _pruned(_METADATA)


def page_decoder(key: tuple[str, str], metadata_only: bool, *, pruned: bool = True) -> Decode:
    """How to decode a page of the resource ``key`` (group, plural) listed so.

    ``pruned=False`` decodes everything whole: the reference the pruned decoding is tested against.
    """
    if not pruned:
        return whole
    if metadata_only:
        return _METADATA_DECODE
    return _PRUNED_DECODE.get(key, whole)
