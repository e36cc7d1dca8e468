"""The fields of Kubernetes objects that inspections read, as TypedDicts: what a pruned LIST keeps.

At 100,000 pods a sweep receives ~200 MB of JSON, and a full decode builds a Python object for
every field of it (managedFields' ``fieldsV1`` trees, container specs, probes, volumes ...), most of
which no check reads. Decoding a page against these shapes (msgspec, see
:mod:`kubeprobe.kube.decoding`) skips every other field while parsing: the result is the same plain
dicts and lists a full decode gives, only without the keys no check looks at.

The shapes are the contract between the checks and the collection layer: **a check that reads a
field of a pod, a node or an object's metadata that is not named here must add it here**, or it
reads nothing. The before/after test (tests/cases/inspections/test_decoding_equivalence.py) feeds
every unit fixture and the scale sandbox's objects through both decoders and compares findings.

Sub-objects that are small or read whole (tolerations, taints, conditions, owner references,
container states) are kept whole as ``dict[str, Any]``. Fields the API may send as ``null`` are
typed ``... | None``.
"""

from __future__ import annotations

from typing import Any, TypedDict


class ManagedFieldsEntry(TypedDict, total=False):
    """Who wrote an object through which API version (``fieldsV1``, the bulk, is dropped)."""

    apiVersion: str
    manager: str


class LeanMeta(TypedDict, total=False):
    """Metadata of pods and nodes: no annotations (no check reads them; they can be large)."""

    name: str
    namespace: str
    uid: str
    creationTimestamp: str | None
    deletionTimestamp: str | None
    labels: dict[str, str] | None
    ownerReferences: list[dict[str, Any]] | None
    finalizers: list[str] | None
    managedFields: list[ManagedFieldsEntry] | None


class ObjectMeta(LeanMeta, total=False):
    """Metadata of every other resource listed metadata-only."""

    annotations: dict[str, str] | None


class Condition(TypedDict, total=False):
    type: str
    status: str
    reason: str
    message: str
    lastTransitionTime: str | None


#: A list's metadata ("continue" is a keyword, hence the functional form).
ListMeta = TypedDict(
    "ListMeta",
    {"resourceVersion": str, "continue": str, "remainingItemCount": int},
    total=False,
)


class PartialObjectMetadata(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: ObjectMeta


class PartialObjectMetadataList(TypedDict, total=False):
    metadata: ListMeta
    items: list[PartialObjectMetadata] | None


# -- pods -----------------------------------------------------------------------------------------
class Container(TypedDict, total=False):
    name: str
    image: str


class ContainerStatus(TypedDict, total=False):
    name: str
    restartCount: int
    state: dict[str, Any] | None
    lastState: dict[str, Any] | None


class PodSpec(TypedDict, total=False):
    nodeName: str
    hostNetwork: bool
    containers: list[Container] | None
    tolerations: list[dict[str, Any]] | None


class PodStatus(TypedDict, total=False):
    phase: str
    podIP: str
    podIPs: list[dict[str, Any]] | None
    conditions: list[Condition] | None
    containerStatuses: list[ContainerStatus] | None
    initContainerStatuses: list[ContainerStatus] | None


class Pod(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: LeanMeta
    spec: PodSpec
    status: PodStatus


class PodList(TypedDict, total=False):
    metadata: ListMeta
    items: list[Pod] | None


# -- nodes ----------------------------------------------------------------------------------------
class NodeSpec(TypedDict, total=False):
    podCIDR: str
    podCIDRs: list[str] | None
    unschedulable: bool
    taints: list[dict[str, Any]] | None


class NodeStatus(TypedDict, total=False):
    conditions: list[Condition] | None
    nodeInfo: dict[str, Any] | None


class Node(TypedDict, total=False):
    apiVersion: str
    kind: str
    metadata: LeanMeta
    spec: NodeSpec
    status: NodeStatus


class NodeList(TypedDict, total=False):
    metadata: ListMeta
    items: list[Node] | None
