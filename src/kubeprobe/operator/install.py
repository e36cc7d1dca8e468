"""The repo's manifests (manifests/*.yaml) and applying them with server-side apply."""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml

from kubeprobe.kube.client import KubeClient, Obj, resource_path
from kubeprobe.kube.waiting import wait_for

MANIFESTS = ("crd.yaml", "peering-crds.yaml", "peering.yaml", "rbac.yaml", "deployment.yaml")
#: kind → (plural, namespaced) for the kinds our manifests hold.
_KINDS: dict[str, tuple[str, bool]] = {
    "CustomResourceDefinition": ("customresourcedefinitions", False),
    "Namespace": ("namespaces", False),
    "ServiceAccount": ("serviceaccounts", True),
    "ClusterRole": ("clusterroles", False),
    "ClusterRoleBinding": ("clusterrolebindings", False),
    "Deployment": ("deployments", True),
    "ClusterKopfPeering": ("clusterkopfpeerings", False),
}


def manifest(name: str) -> list[Obj]:
    """The documents of one manifest file of the package."""
    text = resources.files("kubeprobe.operator").joinpath("manifests", name).read_text()
    return [doc for doc in yaml.safe_load_all(text) if doc]


def object_path(obj: Obj) -> str:
    kind = obj["kind"]
    if kind not in _KINDS:
        raise ValueError(f"manifest kind {kind!r} is not known to the installer; known: {sorted(_KINDS)}")
    plural, namespaced = _KINDS[kind]
    ns = obj["metadata"].get("namespace") if namespaced else None
    return resource_path(obj["apiVersion"], plural, ns, obj["metadata"]["name"])


async def apply(kube: KubeClient, obj: Obj) -> Obj:
    return await kube.patch(object_path(obj), obj, patch_type="apply")


async def _established(kube: KubeClient, name: str) -> bool:
    crd = await kube.get(resource_path("apiextensions.k8s.io/v1", "customresourcedefinitions", name=name))
    conditions: list[dict[str, Any]] = (crd.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


async def wait_established(kube: KubeClient, name: str, timeout: float = 30) -> None:
    async def check() -> bool:
        return await _established(kube, name)

    await wait_for(check, bool, timeout=timeout, what=f"CRD {name} established")


async def install(kube: KubeClient, names: tuple[str, ...] = MANIFESTS[:-1]) -> None:
    """Apply the manifests in order; wait for each CRD to be established before going on."""
    for name in names:
        for obj in manifest(name):
            await apply(kube, obj)
            if obj["kind"] == "CustomResourceDefinition":
                await wait_established(kube, obj["metadata"]["name"])
