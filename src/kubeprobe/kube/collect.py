"""The collection layer of inspections: list each resource kind once per sweep, page by page.

A sweep is planned from what its consumers *need* (:class:`Need`): a resource, whether metadata is
enough (then the LIST asks for ``PartialObjectMetadataList``, far smaller than whole objects), and
optional field and label selectors. Needs for the same resource are merged so it is listed once:
whole objects if any consumer wants them, a selector only if every consumer asks for the same one.
``Need(ALL_RESOURCES, metadata_only=True)`` stands for every listable resource that discovery shows
(generic checks such as dangling owners or stuck finalizers, custom resources included).

Each page is decoded on its own (:mod:`kubeprobe.kube.decoding`: pods, nodes and metadata-only lists
pruned to the fields inspections read) and handed to a visitor, then
dropped; the next page is fetched while the current one is visited. Memory is thus one or two pages
plus whatever the visitors keep, never the whole cluster.

A resource that cannot be listed (forbidden, not served) is recorded in :attr:`Sweep.failed`
with the reason instead of failing the sweep; the consumers of that resource decide what it means.
Connection errors end the sweep (the cluster is unreachable: nothing can be concluded).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from kubeprobe.kube.client import KubeClient, resource_path
from kubeprobe.kube.decoding import Decode, gc_paused, page_decoder, whole
from kubeprobe.kube.errors import KubeAPIError
from kubeprobe.kube.paging import parse_page, pipelined_pages, stream_get
from kubeprobe.kube.streaming import whole_list_pages

Obj = dict[str, Any]
METADATA_ACCEPT = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"
DISCOVERY_ACCEPT = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
#: Groups that only re-serve objects listed elsewhere (events.k8s.io events are core events).
ALIAS_GROUPS = frozenset({"events.k8s.io"})
#: Resources skipped by ALL_RESOURCES: deprecated (componentstatuses probes components).
SKIPPED = frozenset({("", "componentstatuses")})


@dataclass(frozen=True, order=True)
class Resource:
    """One listable resource of one API group version."""

    group: str
    version: str
    plural: str
    kind: str = field(default="", compare=False)
    namespaced: bool = field(default=True, compare=False)

    @cached_property
    def api_version(self) -> str:  # read once per object by some checks: computed once
        return f"{self.group}/{self.version}" if self.group else self.version

    @cached_property
    def key(self) -> tuple[str, str]:
        """Identity across versions: the group and the plural."""
        return (self.group, self.plural)

    def path(self, namespace: str | None = None) -> str:
        return resource_path(self.api_version, self.plural, namespace)

    def __str__(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


ALL_RESOURCES = Resource("*", "*", "*", "*")


@dataclass(frozen=True)
class Need:
    """What a consumer wants listed."""

    resource: Resource
    metadata_only: bool = False
    field_selector: str | None = None
    label_selector: str | None = None


@dataclass(frozen=True)
class ListSpec:
    """One LIST of a sweep, after merging every need for the same resource."""

    resource: Resource
    metadata_only: bool
    field_selector: str | None = None
    label_selector: str | None = None


@dataclass
class ListStats:
    resource: Resource
    objects: int = 0
    pages: int = 0
    bytes: int = 0
    seconds: float = 0.0


@dataclass
class Discovery:
    """Listable resources (preferred version of each group) and groups that could not be read."""

    resources: list[Resource]
    stale_groups: dict[str, str] = field(default_factory=dict)

    def by_kind(self) -> dict[tuple[str, str], Resource]:
        """(group, kind) → resource, for resolving ownerReferences."""
        return {(r.group, r.kind): r for r in self.resources}


@dataclass
class Sweep:
    """What one sweep listed: statistics per LIST, and the resources that failed with why."""

    stats: list[ListStats] = field(default_factory=list)
    failed: dict[Resource, str] = field(default_factory=dict)
    discovery: Discovery | None = None
    seconds: float = 0.0

    @property
    def listed(self) -> set[Resource]:
        return {s.resource for s in self.stats if s.resource not in self.failed}

    @property
    def objects(self) -> int:
        return sum(s.objects for s in self.stats)


#: Called with each page's objects, in order: ``visit(resource, items)``.
Visitor = Callable[[Resource, list[Obj]], None]


# -- discovery ------------------------------------------------------------------------------------
def _parse_discovery(doc: Obj, resources: list[Resource], stale: dict[str, str]) -> None:
    for group in doc.get("items") or []:
        name = (group.get("metadata") or {}).get("name") or ""
        versions = group.get("versions") or []
        if not versions:
            continue
        preferred = versions[0]
        if preferred.get("freshness") == "Stale":
            stale[name or "core"] = f"discovery of {name}/{preferred.get('version')} is stale"
            continue
        for res in preferred.get("resources") or []:
            plural = res.get("resource") or ""
            if "list" not in (res.get("verbs") or []) or "/" in plural:
                continue
            kind = (res.get("responseKind") or {}).get("kind") or ""
            resources.append(
                Resource(name, preferred["version"], plural, kind, res.get("scope") == "Namespaced")
            )


async def discover(kube: KubeClient) -> Discovery:
    """Every listable resource at its group's preferred version (aggregated discovery, one call each
    for the core group and the named groups)."""
    resources: list[Resource] = []
    stale: dict[str, str] = {}
    paths = ("/api", "/apis")
    docs = await asyncio.gather(*(get_json(kube, path, {}, DISCOVERY_ACCEPT) for path in paths))
    for path, doc in zip(paths, docs, strict=True):
        if doc.get("kind") != "APIGroupDiscoveryList":
            raise KubeAPIError(
                406, "NotAcceptable", f"{path}: the API server does not serve aggregated discovery"
            )
        _parse_discovery(doc, resources, stale)
    return Discovery(sorted(resources), stale)


# -- planning -------------------------------------------------------------------------------------
def plan(needs: Iterable[Need], discovery: Discovery | None = None) -> list[ListSpec]:
    """Merge needs into one LIST per resource (by group and plural; the first version named wins)."""
    wanted: dict[tuple[str, str], list[Need]] = {}
    chosen: dict[tuple[str, str], Resource] = {}
    everything: list[Need] = []
    for need in needs:
        if need.resource == ALL_RESOURCES:
            everything.append(need)
            continue
        wanted.setdefault(need.resource.key, []).append(need)
        chosen.setdefault(need.resource.key, need.resource)
    if everything:
        if discovery is None:
            raise ValueError("a need for every resource requires a discovery")
        for res in discovery.resources:
            if res.group in ALIAS_GROUPS or res.key in SKIPPED:
                continue
            wanted.setdefault(res.key, []).extend(everything)
            chosen.setdefault(res.key, res)
    specs = []
    for key, group in wanted.items():
        fields = {n.field_selector for n in group}
        labels = {n.label_selector for n in group}
        metadata_only = all(n.metadata_only for n in group)
        specs.append(
            ListSpec(
                chosen[key],
                metadata_only,
                fields.pop() if len(fields) == 1 else None,
                labels.pop() if len(labels) == 1 else None,
            )
        )
    return sorted(specs, key=lambda s: s.resource)


# -- listing --------------------------------------------------------------------------------------
async def get_json(
    kube: KubeClient, path: str, params: dict[str, Any], accept: str, decode: Decode = whole
) -> Obj:
    """One GET decoded with ``decode`` (an error body always whole); errors mapped like the client's.
    Over the same lean connections as the LISTs (:func:`~kubeprobe.kube.paging.stream_get`)."""
    pieces: list[bytes] = []

    async def sink(status: int, piece: bytes) -> None:
        pieces.append(piece)

    status = await stream_get(kube, path, params, accept, sink)
    return parse_page(path, status, b"".join(pieces), decode)


async def pages(
    kube: KubeClient,
    spec: ListSpec,
    *,
    limit: int = 500,
    pruned: bool = True,
    paged: bool = False,
    pipelined: bool = True,
) -> AsyncIterator[Obj]:
    """Pages of about ``limit`` objects of one LIST.

    By default the LIST is asked for whole, served from the API server's watch cache, and cut into
    pages as it streams in (:mod:`kubeprobe.kube.streaming`; resumed in pages if it breaks).
    ``paged``: asked for in pages of ``limit`` with continue tokens (all but the first served from
    etcd), each next page asked for while the current one still arrives
    (:mod:`kubeprobe.kube.paging`; ``pipelined=False``: only once it is decoded).

    ``pruned``: pages of pods, nodes and metadata-only lists keep only the fields that inspections
    read (:mod:`kubeprobe.kube.decoding`)."""
    params: dict[str, Any] = {}
    if spec.field_selector:
        params["fieldSelector"] = spec.field_selector
    if spec.label_selector:
        params["labelSelector"] = spec.label_selector
    accept = METADATA_ACCEPT if spec.metadata_only else "application/json"
    decode = page_decoder(spec.resource.key, spec.metadata_only, pruned=pruned)
    path = spec.resource.path()
    if not paged:
        async for page in whole_list_pages(kube, path, params, accept, decode=decode, size=limit):
            yield page
        return
    params["limit"] = limit
    if pipelined:
        async for page in pipelined_pages(kube, path, params, accept, decode):
            yield page
        return
    while True:
        page = await get_json(kube, path, dict(params), accept, decode)
        yield page
        token = (page.get("metadata") or {}).get("continue")
        if not token:
            return
        params["continue"] = token


#: Listed first, so the longest LISTs of a sweep start at once and the small ones fill the gaps.
BIG_FIRST = (("", "pods"), ("", "nodes"), ("coordination.k8s.io", "leases"), ("", "events"))


def big_first(spec: ListSpec) -> int:
    """Sort key of the sweep's LISTs: those of :data:`BIG_FIRST` first, in its order."""
    key = spec.resource.key
    return BIG_FIRST.index(key) if key in BIG_FIRST else len(BIG_FIRST)


async def collect(
    kube: KubeClient,
    specs: Iterable[ListSpec],
    visit: Visitor,
    *,
    later: Awaitable[list[ListSpec]] | None = None,
    limit: int = 500,
    concurrency: int = 4,
    pruned: bool = True,
    paged: bool = False,
    pipelined: bool = True,
) -> Sweep:
    """List every spec (``concurrency`` at a time, the big ones first) and call
    ``visit(resource, items)`` per page. ``pruned``, ``paged``, ``pipelined``: see :func:`pages`.

    ``later``: the whole plan, known only later (it needs a discovery); ``specs`` are then a guess
    at some of it, started at once so that they need not wait, but visited only once ``later``
    confirms them: a guess it does not contain is dropped, and the rest of the plan started."""
    sweep = Sweep()
    started = time.monotonic()
    sem = asyncio.Semaphore(concurrency)
    full = asyncio.ensure_future(later) if later is not None else None

    async def one(spec: ListSpec, held: bool) -> None:
        stats = ListStats(spec.resource)
        if not held:
            sweep.stats.append(stats)
        async with sem:
            t0 = time.monotonic()
            try:
                async for page in pages(
                    kube, spec, limit=limit, pruned=pruned, paged=paged, pipelined=pipelined
                ):
                    if held:
                        if not await _confirmed(spec, full):
                            return
                        held = False
                        sweep.stats.append(stats)
                    items = page.get("items") or []
                    stats.pages += 1
                    stats.bytes += int(page.get("__bytes__", 0))
                    stats.objects += len(items)
                    visit(spec.resource, items)
            except KubeAPIError as exc:
                if held:
                    if not await _confirmed(spec, full):
                        return
                    sweep.stats.append(stats)
                sweep.failed[spec.resource] = str(exc)
            stats.seconds = time.monotonic() - t0

    guesses = list(specs) if full is not None else []
    tasks = [asyncio.create_task(one(s, True)) for s in sorted(guesses, key=big_first)]
    try:
        with gc_paused():  # decoded pages have no cycles (kube/decoding.py)
            rest = [s for s in (await full if full is not None else specs) if s not in guesses]
            tasks += [asyncio.create_task(one(s, False)) for s in sorted(rest, key=big_first)]
            await asyncio.gather(*tasks)
    finally:
        for task in [*tasks, *([full] if full is not None else [])]:
            task.cancel()
        await asyncio.gather(*tasks, *([full] if full is not None else []), return_exceptions=True)
    sweep.seconds = time.monotonic() - started
    return sweep


async def _confirmed(spec: ListSpec, full: asyncio.Future[list[ListSpec]] | None) -> bool:
    return full is None or spec in await asyncio.shield(full)


def well_known(group: str, version: str, plural: str, kind: str, namespaced: bool = True) -> Resource:
    return Resource(group, version, plural, kind, namespaced)


_ADMISSION = "admissionregistration.k8s.io"
_FLOW = "flowcontrol.apiserver.k8s.io"
PODS = well_known("", "v1", "pods", "Pod")
NODES = well_known("", "v1", "nodes", "Node", False)
NAMESPACES = well_known("", "v1", "namespaces", "Namespace", False)
SERVICES = well_known("", "v1", "services", "Service")
SECRETS = well_known("", "v1", "secrets", "Secret")
CONFIGMAPS = well_known("", "v1", "configmaps", "ConfigMap")
PVS = well_known("", "v1", "persistentvolumes", "PersistentVolume", False)
PVCS = well_known("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim")
QUOTAS = well_known("", "v1", "resourcequotas", "ResourceQuota")
ENDPOINTSLICES = well_known("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice")
REPLICASETS = well_known("apps", "v1", "replicasets", "ReplicaSet")
DEPLOYMENTS = well_known("apps", "v1", "deployments", "Deployment")
PDBS = well_known("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget")
CRONJOBS = well_known("batch", "v1", "cronjobs", "CronJob")
JOBS = well_known("batch", "v1", "jobs", "Job")
VALIDATING_WEBHOOKS = well_known(
    _ADMISSION, "v1", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration", False
)
MUTATING_WEBHOOKS = well_known(
    _ADMISSION, "v1", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", False
)
APISERVICES = well_known("apiregistration.k8s.io", "v1", "apiservices", "APIService", False)
CRDS = well_known(
    "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False
)
FLOWSCHEMAS = well_known(_FLOW, "v1", "flowschemas", "FlowSchema", False)
PRIORITY_LEVELS = well_known(_FLOW, "v1", "prioritylevelconfigurations", "PriorityLevelConfiguration", False)
