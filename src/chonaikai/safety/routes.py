"""安否確認 pages (officers, 班長, city staff) and its JSON API. Thin: authorize, call logic, render."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException, PermissionDeniedException, ValidationException
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template

from chonaikai.accounts.permissions import require
from chonaikai.accounts.principal import Access, Principal, authorize_city
from chonaikai.accounts.roles import Permission
from chonaikai.params import ascii_int
from chonaikai.roster.tables import Han
from chonaikai.safety import line as _line_answers  # noqa: F401  (registers 「無事」 with the LINE webhook)
from chonaikai.safety import logic, wording
from chonaikai.tenancy.scope import Tenant
from chonaikai.tenancy.tables import City
from chonaikai.web import is_htmx

FormData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


def _first(data: dict[str, Any], key: str) -> str:
    value = data.get(key, "")
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value)


def _context(tenant: Tenant, principal: Principal, **values: Any) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "association": tenant.row,
        "can_start": principal.can(Permission.SAFETY_START, tenant.id),
        "can_record": principal.can(Permission.SAFETY_RECORD, tenant.id),
        "labels": wording.answer_labels(),
        "via_labels": wording.via_labels(),
        "taps": wording.checklist(),
        "notes": wording.notes(),
        "drill_label": wording.drill_label(),
        "local_time": logic.local_time,
        **values,
    }


async def _check_or_404(tenant: Tenant, check_id: int) -> dict[str, Any]:
    check = await logic.get_check(tenant, check_id)
    if check is None:
        raise NotFoundException()
    return check


# -- officers: start, list ---------------------------------------------------------------------


@get("/safety", name="safety_index", dependencies={"access": require(Permission.SAFETY_VIEW)})
async def safety_index(
    tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access],
    closed: FromQuery[str] = "",
) -> Template:
    checks = await logic.list_checks(tenant)
    summaries = []
    for check in checks[:20]:
        result = await logic.results(tenant, check, access)
        summaries.append({"check": check, "totals": result.totals, "total": result.total})
    return Template(
        "safety/index.html",
        context=_context(
            tenant, principal, summaries=summaries, values=logic.StartInput(title=wording.default_title()),
            errors={}, closed=closed == "1", my_hans=await _my_hans(tenant, access),
        ),
    )


async def _my_hans(tenant: Tenant, access) -> list[dict[str, Any]]:
    hans = await tenant.select(Han, Han.id, Han.name).order_by(Han.position)
    return [h for h in hans if access.covers_han(h["id"])]


@post("/safety", name="safety_start", status_code=303, dependencies={"access": require(Permission.SAFETY_START)})
async def safety_start(
    tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access],
    data: FormData,
) -> Redirect | Template:
    values, errors = logic.parse_start(_first(data, "title"), _first(data, "message"), _first(data, "drill"))
    if errors:
        return Template(
            "safety/index.html",
            context=_context(tenant, principal, summaries=[], values=values, errors=errors, closed=False,
                             my_hans=await _my_hans(tenant, access)),
            status_code=400,
        )
    check_id = await logic.start_check(
        tenant, values, started_by=principal.account_id, started_by_label=logic.label_for(principal, tenant.id)
    )
    return Redirect(path=f"/a/{tenant.slug}/safety/{check_id}?started=1", status_code=303)


# -- officers: results -------------------------------------------------------------------------


@get("/safety/{check_id:int}", name="safety_results", dependencies={"access": require(Permission.SAFETY_VIEW)})
async def safety_results(
    tenant: NamedDependency[Tenant],
    principal: NamedDependency[Principal],
    access: NamedDependency[Access],
    check_id: FromPath[int],
    started: FromQuery[str] = "",
) -> Template:
    check = await _check_or_404(tenant, check_id)
    result = await logic.results(tenant, check, access)
    return Template(
        "safety/results.html",
        context=_context(tenant, principal, check=check, result=result, started=started == "1",
                         whole=access.whole_association),
    )


@get("/safety/{check_id:int}/results.csv", name="safety_csv", dependencies={"access": require(Permission.SAFETY_VIEW)})
async def safety_csv(tenant: NamedDependency[Tenant], access: NamedDependency[Access], check_id: FromPath[int]) -> Response:
    check = await _check_or_404(tenant, check_id)
    result = await logic.results(tenant, check, access)
    return Response(
        logic.results_csv(result),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="safety-{check_id}.csv"'},
    )


@get("/safety/{check_id:int}/print", name="safety_print", dependencies={"access": require(Permission.SAFETY_VIEW)})
async def safety_print(
    tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access],
    check_id: FromPath[int],
) -> Template:
    """Call-and-visit list per 班 on paper: who to phone or visit, 要支援 first."""
    check = await _check_or_404(tenant, check_id)
    result = await logic.results(tenant, check, access)
    pages = []
    for han in result.by_han:
        rows = [row for row in logic.checklist_rows(result, han.han_id) if row.answer != logic.SAFE]
        if rows:
            pages.append({"han": han, "rows": rows})
    return Template("safety/print.html", context=_context(tenant, principal, check=check, result=result, pages=pages))


@post("/safety/{check_id:int}/close", name="safety_close", status_code=303,
      dependencies={"access": require(Permission.SAFETY_START)})
async def safety_close(tenant: NamedDependency[Tenant], access: NamedDependency[Access], check_id: FromPath[int]) -> Redirect:
    await _check_or_404(tenant, check_id)
    await logic.close_check(tenant, check_id)
    return Redirect(path=f"/a/{tenant.slug}/safety?closed=1", status_code=303)


# -- 班長: the checklist of one 班 ----------------------------------------------------------------


@get("/safety/{check_id:int}/han/{han_id:int}", name="safety_checklist",
     dependencies={"access": require(Permission.SAFETY_RECORD)})
async def safety_checklist(
    request: Request,
    tenant: NamedDependency[Tenant],
    principal: NamedDependency[Principal],
    access: NamedDependency[Access],
    check_id: FromPath[int],
    han_id: FromPath[int],
    saved: FromQuery[str] = "",
    error: FromQuery[str] = "",
) -> Template:
    # 0: the households not yet in a 班 (officers only; a 班長 covers their own 班).
    if not (access.covers_han(han_id) or (han_id == 0 and access.whole_association)):
        raise PermissionDeniedException("ご自分の班の世帯だけを見られます")
    if han_id == 0:
        han: dict[str, Any] | None = {"id": 0, "name": logic.NO_HAN}
    else:
        han = await tenant.select(Han, Han.id, Han.name).where(Han.id == han_id).first()
    if han is None:
        raise NotFoundException()
    check = await _check_or_404(tenant, check_id)
    result = await logic.results(tenant, check, access)
    rows = logic.checklist_rows(result, han_id or None)
    counts = next((h for h in result.by_han if h.han_id == (han_id or None)), None)
    return Template(
        "safety/checklist.html",
        context=_context(tenant, principal, check=check, han=han, rows=rows, counts=counts,
                         saved=ascii_int(saved), error=error[:200]),
    )


@post("/safety/{check_id:int}/households/{household_id:int}", name="safety_record", status_code=200,
      dependencies={"access": require(Permission.SAFETY_RECORD)})
async def safety_record(
    request: Request,
    tenant: NamedDependency[Tenant],
    principal: NamedDependency[Principal],
    access: NamedDependency[Access],
    check_id: FromPath[int],
    household_id: FromPath[int],
    data: FormData,
) -> Template | Redirect:
    check = await _check_or_404(tenant, check_id)
    tap = _first(data, "seen")
    back_han_id = ascii_int(_first(data, "han"))  # the checklist to go back to (0: no 班)
    back_han = str(back_han_id) if back_han_id is not None else ""
    if tap not in logic.CHECKLIST_TAPS:
        raise ValidationException("見たことを選んでください")
    value, via = logic.CHECKLIST_TAPS[tap]
    try:
        await logic.record_answer(
            tenant, check_id, household_id, value, via=via, note=_first(data, "note"),
            entered_by=principal.account_id, entered_by_label=logic.label_for(principal, tenant.id), access=access,
        )
    except logic.NotYourHan as refused:
        raise PermissionDeniedException(str(refused)) from None
    except logic.SafetyError as refused:
        if not back_han:
            raise ValidationException(str(refused)) from None
        return Redirect(path=f"/a/{tenant.slug}/safety/{check_id}/han/{back_han}", query_params={"error": str(refused)},
                        status_code=303)
    if is_htmx(request):
        result = await logic.results(tenant, check, access)
        row = next(r for r in result.rows if r.household_id == household_id)
        return Template("safety/_checklist_row.html", context=_context(tenant, principal, check=check, row=row, han={"id": row.han_id}))
    target = f"/a/{tenant.slug}/safety/{check_id}/han/{back_han}" if back_han else f"/a/{tenant.slug}/safety/{check_id}"
    return Redirect(path=target, query_params={"saved": str(household_id)}, status_code=303)


# Mounted in app.py under /a/{slug}, which provides the tenant.
association_safety_router = Router(
    path="/",
    route_handlers=[
        safety_index, safety_start, safety_results, safety_csv, safety_print, safety_close,
        safety_checklist, safety_record,
    ],
)


# -- city staff --------------------------------------------------------------------------------


async def city_for(city_slug: str, principal: Principal) -> dict[str, Any]:
    city = await City.select(City.id, City.slug, City.name).where(City.slug == city_slug).first()
    if city is None:
        raise NotFoundException()
    authorize_city(principal, city["id"], Permission.CITY_SAFETY)
    return city


@get("/", name="city_safety")
async def city_safety(city_slug: FromPath[str], principal: NamedDependency[Principal]) -> Template:
    city = await city_for(city_slug, principal)
    return Template(
        "safety/city_index.html",
        context={"city": city, "batches": await logic.list_city_batches(city["id"]),
                 "districts": await logic.city_districts(city["id"]), "values": logic.StartInput(title=wording.default_title()),
                 "errors": {}, "local_time": logic.local_time, "drill_label": wording.drill_label()},
    )


@post("/", name="city_safety_start", status_code=303)
async def city_safety_start(city_slug: FromPath[str], principal: NamedDependency[Principal], data: FormData) -> Redirect | Template:
    city = await city_for(city_slug, principal)
    values, errors = logic.parse_start(_first(data, "title"), _first(data, "message"), _first(data, "drill"))
    chosen = data.get("district", [])
    districts = [chosen] if isinstance(chosen, str) else list(chosen)
    if not errors:
        try:
            batch_id, _ = await logic.start_city_check(
                city["id"], values, districts, started_by=principal.account_id,
                started_by_label=logic.label_for(principal, None),
            )
        except logic.SafetyError as refused:
            errors["districts"] = str(refused)
        else:
            return Redirect(path=f"/c/{city['slug']}/safety/{batch_id}", status_code=303)
    return Template(
        "safety/city_index.html",
        context={"city": city, "batches": await logic.list_city_batches(city["id"]),
                 "districts": await logic.city_districts(city["id"]), "values": values, "errors": errors,
                 "local_time": logic.local_time, "drill_label": wording.drill_label()},
        status_code=400,
    )


@get("/{batch_id:int}", name="city_safety_view")
async def city_safety_view(city_slug: FromPath[str], batch_id: FromPath[int], principal: NamedDependency[Principal]) -> Template:
    city = await city_for(city_slug, principal)
    view = await logic.city_view(city["id"], batch_id)
    if view is None:
        raise NotFoundException()
    return Template(
        "safety/city_view.html",
        context={"city": city, "view": view, "labels": wording.answer_labels(), "local_time": logic.local_time,
                 "drill_label": wording.drill_label()},
    )


city_router = Router(
    path="/c/{city_slug:str}/safety", route_handlers=[city_safety, city_safety_start, city_safety_view]
)
