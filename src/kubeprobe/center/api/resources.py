"""CRUD routes for clusters, groups, templates, cases, suites, bindings, tokens, and the audit log."""

from __future__ import annotations

from typing import Annotated, Protocol, TypeVar

from fastapi import APIRouter, Query, Response

from kubeprobe.center.api.deps import Admin, BoxDep, StoreDep, Viewer
from kubeprobe.center.errors import InvalidInputError
from kubeprobe.center.schemas.bindings import BindingIn, BindingOut
from kubeprobe.center.schemas.catalog import CaseIn, CaseOut, SuiteIn, SuiteOut, TemplateIn, TemplateOut
from kubeprobe.center.schemas.clusters import ClusterIn, ClusterOut, ClusterUpdate, GroupIn, GroupOut
from kubeprobe.center.schemas.common import Page
from kubeprobe.center.schemas.tokens import AuditOut, TokenCreated, TokenIn, TokenOut
from kubeprobe.center.store import bindings, catalog, clusters, tokens

router = APIRouter(prefix="/api/v1")
Limit = Annotated[int, Query(ge=1, le=1000, description="items per page")]
After = Annotated[str | None, Query(max_length=63, description="the 'next' of the previous page")]
NO_CONTENT = Response(status_code=204)


class Named(Protocol):
    @property
    def name(self) -> str: ...


N = TypeVar("N", bound=Named)


def _page(items: list[N], limit: int) -> Page[N]:
    return Page(items=items, next=items[-1].name if len(items) == limit else None)


# --- clusters ----------------------------------------------------------------------------------


@router.post("/clusters", status_code=201, response_model=ClusterOut, tags=["clusters"])
async def create_cluster(body: ClusterIn, who: Admin, store: StoreDep, box: BoxDep) -> ClusterOut:
    """Register a cluster; its kubeconfig is checked, encrypted, and never returned."""
    async with store.transaction() as s:
        return await clusters.create_cluster(s, box, body, who)


@router.get("/clusters", response_model=Page[ClusterOut], tags=["clusters"])
async def list_clusters(
    *,
    who: Viewer,
    store: StoreDep,
    limit: Limit = 100,
    after: After = None,
    label: Annotated[list[str] | None, Query(description="k=v; repeat to require several")] = None,
) -> Page[ClusterOut]:
    selector = {}
    for item in label or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInputError(f"label: {item!r} is not key=value", field="label")
        selector[key] = value
    async with store.transaction() as s:
        return _page(await clusters.list_clusters(s, limit=limit, after=after, labels=selector), limit)


@router.get("/clusters/{name}", response_model=ClusterOut, tags=["clusters"])
async def get_cluster(name: str, who: Viewer, store: StoreDep) -> ClusterOut:
    async with store.transaction() as s:
        return await clusters.get_cluster(s, name)


@router.patch("/clusters/{name}", response_model=ClusterOut, tags=["clusters"])
async def update_cluster(
    name: str, body: ClusterUpdate, who: Admin, store: StoreDep, box: BoxDep
) -> ClusterOut:
    async with store.transaction() as s:
        return await clusters.update_cluster(s, box, name, body, who)


@router.delete("/clusters/{name}", status_code=204, tags=["clusters"])
async def delete_cluster(name: str, who: Admin, store: StoreDep) -> Response:
    async with store.transaction() as s:
        await clusters.delete_cluster(s, name, who)
    return NO_CONTENT


# --- groups ----------------------------------------------------------------------------------


@router.post("/groups", status_code=201, response_model=GroupOut, tags=["groups"])
async def create_group(body: GroupIn, who: Admin, store: StoreDep) -> GroupOut:
    async with store.transaction() as s:
        return await clusters.create_group(s, body, who)


@router.get("/groups", response_model=Page[GroupOut], tags=["groups"])
async def list_groups(
    who: Viewer, store: StoreDep, limit: Limit = 100, after: After = None
) -> Page[GroupOut]:
    async with store.transaction() as s:
        return _page(await clusters.list_groups(s, limit=limit, after=after), limit)


@router.get("/groups/{name}", response_model=GroupOut, tags=["groups"])
async def get_group(name: str, who: Viewer, store: StoreDep) -> GroupOut:
    async with store.transaction() as s:
        return await clusters.get_group(s, name)


@router.put("/groups/{name}", response_model=GroupOut, tags=["groups"])
async def replace_group(name: str, body: GroupIn, who: Admin, store: StoreDep) -> GroupOut:
    async with store.transaction() as s:
        return await clusters.replace_group(s, name, body, who)


@router.delete("/groups/{name}", status_code=204, tags=["groups"])
async def delete_group(name: str, who: Admin, store: StoreDep) -> Response:
    async with store.transaction() as s:
        await clusters.delete_group(s, name, who)
    return NO_CONTENT


# --- templates -------------------------------------------------------------------------------


@router.post("/templates", status_code=201, response_model=TemplateOut, tags=["templates"])
async def create_template(body: TemplateIn, who: Admin, store: StoreDep) -> TemplateOut:
    async with store.transaction() as s:
        return await catalog.create_template(s, body, who)


@router.get("/templates", response_model=Page[TemplateOut], tags=["templates"])
async def list_templates(
    who: Viewer, store: StoreDep, limit: Limit = 100, after: After = None
) -> Page[TemplateOut]:
    async with store.transaction() as s:
        return _page(await catalog.list_templates(s, limit=limit, after=after), limit)


@router.get("/templates/{name}", response_model=TemplateOut, tags=["templates"])
async def get_template(name: str, who: Viewer, store: StoreDep) -> TemplateOut:
    async with store.transaction() as s:
        return await catalog.get_template(s, name)


@router.put("/templates/{name}", response_model=TemplateOut, tags=["templates"])
async def replace_template(name: str, body: TemplateIn, who: Admin, store: StoreDep) -> TemplateOut:
    async with store.transaction() as s:
        return await catalog.replace_template(s, name, body, who)


@router.delete("/templates/{name}", status_code=204, tags=["templates"])
async def delete_template(name: str, who: Admin, store: StoreDep) -> Response:
    async with store.transaction() as s:
        await catalog.delete_template(s, name, who)
    return NO_CONTENT


# --- cases -----------------------------------------------------------------------------------


@router.post("/cases", status_code=201, response_model=CaseOut, tags=["cases"])
async def create_case(body: CaseIn, who: Admin, store: StoreDep) -> CaseOut:
    async with store.transaction() as s:
        return await catalog.create_case(s, body, who)


@router.get("/cases", response_model=Page[CaseOut], tags=["cases"])
async def list_cases(
    *,
    who: Viewer,
    store: StoreDep,
    limit: Limit = 100,
    after: After = None,
    template: Annotated[str | None, Query(max_length=63)] = None,
) -> Page[CaseOut]:
    async with store.transaction() as s:
        return _page(await catalog.list_cases(s, limit=limit, after=after, template=template), limit)


@router.get("/cases/{name}", response_model=CaseOut, tags=["cases"])
async def get_case(name: str, who: Viewer, store: StoreDep) -> CaseOut:
    async with store.transaction() as s:
        return await catalog.get_case(s, name)


@router.put("/cases/{name}", response_model=CaseOut, tags=["cases"])
async def replace_case(name: str, body: CaseIn, who: Admin, store: StoreDep) -> CaseOut:
    async with store.transaction() as s:
        return await catalog.replace_case(s, name, body, who)


@router.delete("/cases/{name}", status_code=204, tags=["cases"])
async def delete_case(name: str, who: Admin, store: StoreDep) -> Response:
    async with store.transaction() as s:
        await catalog.delete_case(s, name, who)
    return NO_CONTENT


# --- suites ----------------------------------------------------------------------------------


@router.post("/suites", status_code=201, response_model=SuiteOut, tags=["suites"])
async def create_suite(body: SuiteIn, who: Admin, store: StoreDep) -> SuiteOut:
    async with store.transaction() as s:
        return await catalog.create_suite(s, body, who)


@router.get("/suites", response_model=Page[SuiteOut], tags=["suites"])
async def list_suites(
    who: Viewer, store: StoreDep, limit: Limit = 100, after: After = None
) -> Page[SuiteOut]:
    async with store.transaction() as s:
        return _page(await catalog.list_suites(s, limit=limit, after=after), limit)


@router.get("/suites/{name}", response_model=SuiteOut, tags=["suites"])
async def get_suite(name: str, who: Viewer, store: StoreDep) -> SuiteOut:
    async with store.transaction() as s:
        return await catalog.get_suite(s, name)


@router.put("/suites/{name}", response_model=SuiteOut, tags=["suites"])
async def replace_suite(name: str, body: SuiteIn, who: Admin, store: StoreDep) -> SuiteOut:
    async with store.transaction() as s:
        return await catalog.replace_suite(s, name, body, who)


@router.delete("/suites/{name}", status_code=204, tags=["suites"])
async def delete_suite(name: str, who: Admin, store: StoreDep) -> Response:
    async with store.transaction() as s:
        await catalog.delete_suite(s, name, who)
    return NO_CONTENT


# --- bindings --------------------------------------------------------------------------------


@router.post("/bindings", status_code=201, response_model=BindingOut, tags=["bindings"])
async def create_binding(body: BindingIn, who: Admin, store: StoreDep) -> BindingOut:
    async with store.transaction() as s:
        return await bindings.create_binding(s, body, who)


@router.get("/bindings", response_model=Page[BindingOut], tags=["bindings"])
async def list_bindings(
    *,
    who: Viewer,
    store: StoreDep,
    limit: Limit = 100,
    after: After = None,
    cluster: Annotated[str | None, Query(max_length=63)] = None,
    case: Annotated[str | None, Query(max_length=63)] = None,
) -> Page[BindingOut]:
    async with store.transaction() as s:
        return _page(
            await bindings.list_bindings(s, limit=limit, after=after, cluster=cluster, case=case), limit
        )


@router.get("/bindings/{name}", response_model=BindingOut, tags=["bindings"])
async def get_binding(name: str, who: Viewer, store: StoreDep) -> BindingOut:
    async with store.transaction() as s:
        return await bindings.get_binding(s, name)


@router.put("/bindings/{name}", response_model=BindingOut, tags=["bindings"])
async def replace_binding(name: str, body: BindingIn, who: Admin, store: StoreDep) -> BindingOut:
    async with store.transaction() as s:
        return await bindings.replace_binding(s, name, body, who)


@router.delete("/bindings/{name}", status_code=204, tags=["bindings"])
async def delete_binding(name: str, who: Admin, store: StoreDep) -> Response:
    async with store.transaction() as s:
        await bindings.delete_binding(s, name, who)
    return NO_CONTENT


# --- tokens and audit ------------------------------------------------------------------------


@router.post("/tokens", status_code=201, response_model=TokenCreated, tags=["tokens"])
async def create_token(body: TokenIn, who: Admin, store: StoreDep) -> TokenCreated:
    """A new API token; the secret is in this response only."""
    async with store.transaction() as s:
        return await tokens.create_token(s, body, who)


@router.get("/tokens", response_model=Page[TokenOut], tags=["tokens"])
async def list_tokens(who: Admin, store: StoreDep, limit: Limit = 100, after: After = None) -> Page[TokenOut]:
    async with store.transaction() as s:
        return _page(await tokens.list_tokens(s, limit=limit, after=after), limit)


@router.delete("/tokens/{name}", status_code=204, tags=["tokens"])
async def revoke_token(name: str, who: Admin, store: StoreDep) -> Response:
    async with store.transaction() as s:
        await tokens.revoke_token(s, name, who)
    return NO_CONTENT


@router.get("/audit", response_model=list[AuditOut], tags=["audit"])
async def list_audit(
    *,
    who: Admin,
    store: StoreDep,
    limit: Limit = 100,
    before: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="entries with a smaller id")] = None,
    resource: Annotated[str | None, Query(max_length=32)] = None,
    actor: Annotated[str | None, Query(max_length=128)] = None,
) -> list[AuditOut]:
    """Every mutating call, newest first: who did what to which resource."""
    async with store.transaction() as s:
        return await tokens.list_audit(s, limit=limit, before=before, resource=resource, actor=actor)
