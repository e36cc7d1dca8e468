"""Case templates, cases (a template plus rendered parameters, validated against its schema), suites."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kubeprobe.center.auth import Principal
from kubeprobe.center.errors import ConflictError, InvalidInputError
from kubeprobe.center.schemas.catalog import CaseIn, CaseOut, SuiteIn, SuiteOut, TemplateIn, TemplateOut
from kubeprobe.center.store.common import audit, by_name, check_limit, delete_fact_rows, ensure_new, utcnow
from kubeprobe.center.store.database import Store
from kubeprobe.center.store.engine import MIGRATION_LOCK
from kubeprobe.center.store.tables import Binding, Case, CaseTemplate, Suite, SuiteCase


def check_schema(schema: dict[str, Any]) -> None:
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise InvalidInputError(
            f"params_schema: not a valid JSON Schema: {exc.message}", field="params_schema"
        ) from exc
    if schema.get("type", "object") != "object" or not isinstance(schema.get("properties", {}), dict):
        raise InvalidInputError(
            "params_schema: must describe an object ('type': 'object') with 'properties'",
            field="params_schema",
        )


def render_params(template: CaseTemplate, params: dict[str, Any]) -> dict[str, Any]:
    """Given parameters plus the schema's defaults; refuses unknown names and wrong types."""
    props: dict[str, Any] = template.params_schema.get("properties", {})
    unknown = sorted(set(params) - set(props))
    if unknown:
        allowed = ", ".join(sorted(props)) or "none"
        raise InvalidInputError(
            f"params.{unknown[0]}: template {template.name!r} has no parameter {unknown[0]!r}; "
            f"allowed: {allowed}",
            field=f"params.{unknown[0]}",
        )
    rendered = {
        k: spec["default"] for k, spec in props.items() if isinstance(spec, dict) and "default" in spec
    }
    rendered.update(params)
    errors = sorted(
        Draft202012Validator(template.params_schema).iter_errors(rendered), key=lambda e: list(e.path)
    )
    if errors:
        err = errors[0]
        where = ".".join(["params", *(str(p) for p in err.path)]) if err.path else "params"
        raise InvalidInputError(f"{where}: {err.message}", field=where)
    return rendered


def template_out(row: CaseTemplate) -> TemplateOut:
    return TemplateOut(
        name=row.name,
        kind=row.kind,
        entry_point=row.entry_point,
        image=row.image,
        command=row.command,
        params_schema=row.params_schema,
        timeout_seconds=row.timeout_seconds,
        description=row.description,
        builtin=row.builtin,
        rbac_rules=list(row.rbac_rules or []),
        created=row.created,
    )


def _template_columns(body: TemplateIn) -> dict[str, Any]:
    columns = body.model_dump(exclude={"rbac_rules"})
    columns["rbac_rules"] = [rule.as_kube() for rule in body.rbac_rules]
    return columns


async def create_template(
    session: AsyncSession, body: TemplateIn, who: Principal, *, builtin: bool = False
) -> TemplateOut:
    await ensure_new(session, CaseTemplate, body.name, "case template")
    check_schema(body.params_schema)
    row = CaseTemplate(created=utcnow(), builtin=builtin, **_template_columns(body))
    session.add(row)
    await session.flush()
    audit(session, who, "create", "template", body.name, {"kind": str(body.kind)})
    return template_out(row)


async def replace_template(session: AsyncSession, name: str, body: TemplateIn, who: Principal) -> TemplateOut:
    row = await by_name(session, CaseTemplate, name, "case template")
    if body.name != name:
        raise InvalidInputError(
            f"name: {body.name!r} differs from the path's {name!r}; names cannot change", field="name"
        )
    check_schema(body.params_schema)
    for key, value in _template_columns(body).items():
        setattr(row, key, value)
    cases = (await session.execute(select(Case).where(Case.template_id == row.id))).scalars().all()
    for case in cases:
        try:
            render_params(row, case.params)
        except InvalidInputError as exc:
            raise ConflictError(
                f"case {case.name!r} would no longer fit the template: {exc.message}"
            ) from exc
    audit(session, who, "update", "template", name, {"kind": str(body.kind)})
    return template_out(row)


async def list_templates(session: AsyncSession, *, limit: int, after: str | None) -> list[TemplateOut]:
    query = select(CaseTemplate).order_by(CaseTemplate.name).limit(check_limit(limit))
    if after:
        query = query.where(CaseTemplate.name > after)
    return [template_out(r) for r in (await session.execute(query)).scalars().all()]


async def delete_template(session: AsyncSession, name: str, who: Principal) -> None:
    row = await by_name(session, CaseTemplate, name, "case template")
    used = (
        (await session.execute(select(Case.name).where(Case.template_id == row.id).limit(10))).scalars().all()
    )
    if used:
        raise ConflictError(f"case template {name!r} is used by cases {', '.join(used)}; delete them first")
    await session.delete(row)
    audit(session, who, "delete", "template", name)


async def case_out(session: AsyncSession, row: Case) -> CaseOut:
    template = await session.get_one(CaseTemplate, row.template_id)
    return CaseOut(
        name=row.name,
        template=template.name,
        kind=template.kind,
        params=render_params(template, row.params),
        description=row.description,
        created=row.created,
    )


async def create_case(session: AsyncSession, body: CaseIn, who: Principal) -> CaseOut:
    await ensure_new(session, Case, body.name, "case")
    template = await by_name(session, CaseTemplate, body.template, "case template", field="template")
    render_params(template, body.params)
    row = Case(
        name=body.name,
        template_id=template.id,
        params=body.params,
        description=body.description,
        created=utcnow(),
    )
    session.add(row)
    await session.flush()
    audit(session, who, "create", "case", body.name, {"template": body.template, "params": body.params})
    return await case_out(session, row)


async def replace_case(session: AsyncSession, name: str, body: CaseIn, who: Principal) -> CaseOut:
    row = await by_name(session, Case, name, "case")
    if body.name != name:
        raise InvalidInputError(
            f"name: {body.name!r} differs from the path's {name!r}; names cannot change", field="name"
        )
    template = await by_name(session, CaseTemplate, body.template, "case template", field="template")
    render_params(template, body.params)
    row.template_id, row.params, row.description = template.id, body.params, body.description
    audit(session, who, "update", "case", name, {"template": body.template, "params": body.params})
    return await case_out(session, row)


async def list_cases(
    session: AsyncSession, *, limit: int, after: str | None, template: str | None = None
) -> list[CaseOut]:
    query = select(Case).order_by(Case.name).limit(check_limit(limit))
    if after:
        query = query.where(Case.name > after)
    if template:
        tpl = await by_name(session, CaseTemplate, template, "case template", field="template")
        query = query.where(Case.template_id == tpl.id)
    return [await case_out(session, r) for r in (await session.execute(query)).scalars().all()]


async def delete_case(session: AsyncSession, name: str, who: Principal) -> None:
    row = await by_name(session, Case, name, "case")
    suites = (
        (
            await session.execute(
                select(Suite.name)
                .join(SuiteCase, SuiteCase.suite_id == Suite.id)
                .where(SuiteCase.case_id == row.id)
            )
        )
        .scalars()
        .all()
    )
    bindings = (await session.execute(select(Binding.name).where(Binding.case_id == row.id))).scalars().all()
    if suites or bindings:
        users = [f"suite {s}" for s in suites] + [f"binding {b}" for b in bindings]
        raise ConflictError(f"case {name!r} is used by {', '.join(users)}; remove it there first")
    await delete_fact_rows(session, case_id=row.id)
    await session.delete(row)
    audit(session, who, "delete", "case", name)


async def suite_out(session: AsyncSession, row: Suite) -> SuiteOut:
    names = (
        (
            await session.execute(
                select(Case.name)
                .join(SuiteCase, SuiteCase.case_id == Case.id)
                .where(SuiteCase.suite_id == row.id)
                .order_by(SuiteCase.position)
            )
        )
        .scalars()
        .all()
    )
    return SuiteOut(name=row.name, cases=list(names), description=row.description, created=row.created)


async def _set_suite_cases(session: AsyncSession, suite: Suite, cases: list[str]) -> None:
    if len(set(cases)) != len(cases):
        dup = next(c for c in cases if cases.count(c) > 1)
        raise InvalidInputError(f"cases: {dup!r} is listed twice; list each case once", field="cases")
    rows = (await session.execute(select(Case.name, Case.id).where(Case.name.in_(cases)))).all()
    ids = {n: i for n, i in rows}
    missing = [c for c in cases if c not in ids]
    if missing:
        raise InvalidInputError(f"cases: no case named {missing[0]!r}", field="cases")
    for old in (
        (await session.execute(select(SuiteCase).where(SuiteCase.suite_id == suite.id))).scalars().all()
    ):
        await session.delete(old)
    await session.flush()
    session.add_all(SuiteCase(suite_id=suite.id, case_id=ids[c], position=i) for i, c in enumerate(cases))


async def create_suite(session: AsyncSession, body: SuiteIn, who: Principal) -> SuiteOut:
    await ensure_new(session, Suite, body.name, "suite")
    row = Suite(name=body.name, description=body.description, created=utcnow())
    session.add(row)
    await session.flush()
    await _set_suite_cases(session, row, body.cases)
    await session.flush()
    audit(session, who, "create", "suite", body.name, {"cases": body.cases})
    return await suite_out(session, row)


async def replace_suite(session: AsyncSession, name: str, body: SuiteIn, who: Principal) -> SuiteOut:
    row = await by_name(session, Suite, name, "suite")
    if body.name != name:
        raise InvalidInputError(
            f"name: {body.name!r} differs from the path's {name!r}; names cannot change", field="name"
        )
    row.description = body.description
    await _set_suite_cases(session, row, body.cases)
    await session.flush()
    audit(session, who, "update", "suite", name, {"cases": body.cases})
    return await suite_out(session, row)


async def list_suites(session: AsyncSession, *, limit: int, after: str | None) -> list[SuiteOut]:
    query = select(Suite).order_by(Suite.name).limit(check_limit(limit))
    if after:
        query = query.where(Suite.name > after)
    return [await suite_out(session, r) for r in (await session.execute(query)).scalars().all()]


async def delete_suite(session: AsyncSession, name: str, who: Principal) -> None:
    row = await by_name(session, Suite, name, "suite")
    used = (await session.execute(select(Binding.name).where(Binding.suite_id == row.id))).scalars().all()
    if used:
        raise ConflictError(f"suite {name!r} is used by bindings {', '.join(used)}; delete them first")
    await session.delete(row)
    audit(session, who, "delete", "suite", name)


async def register_templates(store: Store, templates: Iterable[TemplateIn], who: Principal) -> list[str]:
    """Store the templates (and a default case of each) that are not stored yet; returns new case
    names. Idempotent: what is stored already is left alone (a user's edits survive a restart)."""
    added: list[str] = []
    async with store.transaction() as session:
        if store.dialect == "postgresql":  # replicas starting together: one registers, the others see it
            await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
        known_templates = set((await session.execute(select(CaseTemplate.name))).scalars())
        known_cases = set((await session.execute(select(Case.name))).scalars())
        for template in templates:
            if template.name not in known_templates:
                await create_template(session, template, who, builtin=True)
                known_templates.add(template.name)
            if template.name not in known_cases:
                await create_case(session, CaseIn(name=template.name, template=template.name), who)
                known_cases.add(template.name)
                added.append(template.name)
    return added


async def get_template(session: AsyncSession, name: str) -> TemplateOut:
    return template_out(await by_name(session, CaseTemplate, name, "case template"))


async def get_case(session: AsyncSession, name: str) -> CaseOut:
    return await case_out(session, await by_name(session, Case, name, "case"))


async def get_suite(session: AsyncSession, name: str) -> SuiteOut:
    return await suite_out(session, await by_name(session, Suite, name, "suite"))
