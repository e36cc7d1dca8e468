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
keep. A decoded JSON document has no reference cycles to collect.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import Any

import msgspec
import orjson

from kubeprobe.kube.shapes import NodeList, PartialObjectMetadataList, PodList

Decode = Callable[[bytes], Any]

_PRUNED: dict[tuple[str, str], msgspec.json.Decoder[Any]] = {
    ("", "pods"): msgspec.json.Decoder(PodList),
    ("", "nodes"): msgspec.json.Decoder(NodeList),
}
_METADATA = msgspec.json.Decoder(PartialObjectMetadataList)


def whole(body: bytes) -> Any:
    """Every field (orjson), with the cyclic GC paused."""
    if not gc.isenabled():
        return orjson.loads(body)
    gc.disable()
    try:
        return orjson.loads(body)
    finally:
        gc.enable()


def _pruned(decoder: msgspec.json.Decoder[Any]) -> Decode:
    def decode(body: bytes) -> Any:
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
