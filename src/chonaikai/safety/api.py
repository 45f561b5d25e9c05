"""The 安否確認 JSON API for other systems and officers' tools: bearer tokens only (never the
session cookie), judged by the same matrix as the pages; typed request bodies."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar import Request, Router, get, post
from litestar.exceptions import NotFoundException, PermissionDeniedException, ValidationException
from litestar.params import FromPath, JSONBody

from chonaikai.accounts.principal import Principal, authorize, principal_from_bearer
from chonaikai.accounts.roles import Permission
from chonaikai.safety import logic
from chonaikai.safety.routes import city_for
from chonaikai.safety.tables import SafetyCheck
from chonaikai.tenancy.logic import find_tenant
from chonaikai.tenancy.scope import Tenant
from chonaikai.tenancy.tables import Association


@dataclass
class SafetyCheckIn:
    title: str = ""
    message: str = ""
    drill: bool = False


@dataclass
class CitySafetyCheckIn:
    title: str = ""
    message: str = ""
    drill: bool = False
    districts: list[str] = field(default_factory=list)


@dataclass
class SafetyAnswerIn:
    household_id: int
    answer: str
    via: str = "visit"
    note: str = ""


def _refuse(errors: dict[str, str]) -> ValidationException:
    return ValidationException("; ".join(errors.values()))


async def _api_principal(request: Request) -> Principal:
    return await principal_from_bearer(request.headers.get("authorization", ""))


@post("/associations/{slug:str}/safety-checks", name="api_safety_start", status_code=201)
async def api_start(request: Request, slug: FromPath[str], data: JSONBody[SafetyCheckIn]) -> dict[str, Any]:
    principal = await _api_principal(request)
    tenant = await find_tenant(slug)
    if tenant is None:
        raise NotFoundException()
    authorize(principal, tenant, Permission.SAFETY_START)
    values, errors = logic.parse_start(data.title, data.message, data.drill)
    if errors:
        raise _refuse(errors)
    check_id = await logic.start_check(
        tenant, values, started_by=principal.account_id, started_by_label=logic.label_for(principal, tenant.id)
    )
    return {"id": check_id}


@post("/cities/{city_slug:str}/safety-checks", name="api_city_safety_start", status_code=201)
async def api_city_start(request: Request, city_slug: FromPath[str], data: JSONBody[CitySafetyCheckIn]) -> dict[str, Any]:
    principal = await _api_principal(request)
    city = await city_for(city_slug, principal)
    values, errors = logic.parse_start(data.title, data.message, data.drill)
    if errors:
        raise _refuse(errors)
    try:
        batch_id, started = await logic.start_city_check(
            city["id"], values, data.districts, started_by=principal.account_id,
            started_by_label=logic.label_for(principal, None),
        )
    except logic.SafetyError as refused:
        raise ValidationException(str(refused)) from None
    return {"id": batch_id, "checks": [{"association": slug, "id": check_id} for slug, check_id in started]}


async def _tenant_of_check(check_id: int) -> tuple[Tenant, dict[str, Any]]:
    row = await SafetyCheck.select(SafetyCheck.association).where(SafetyCheck.id == check_id).first()
    if row is None:
        raise NotFoundException()
    association = await Association.select(Association.slug).where(Association.id == row["association"]).first()
    tenant = await find_tenant(association["slug"]) if association else None
    if tenant is None:
        raise NotFoundException()
    check = await logic.get_check(tenant, check_id)
    if check is None:
        raise NotFoundException()
    return tenant, check


@get("/safety-checks/{check_id:int}", name="api_safety_results")
async def api_results(request: Request, check_id: FromPath[int]) -> dict[str, Any]:
    principal = await _api_principal(request)
    tenant, check = await _tenant_of_check(check_id)
    access = authorize(principal, tenant, Permission.SAFETY_VIEW)
    return logic.results_json(await logic.results(tenant, check, access))


@post("/safety-checks/{check_id:int}/answers", name="api_safety_answer", status_code=201)
async def api_answer(request: Request, check_id: FromPath[int], data: JSONBody[SafetyAnswerIn]) -> dict[str, Any]:
    principal = await _api_principal(request)
    tenant, _ = await _tenant_of_check(check_id)
    access = authorize(principal, tenant, Permission.SAFETY_RECORD)
    if data.answer not in logic.MEMBER_VALUES + (logic.NO_RESPONSE,):
        raise ValidationException("answer は safe、need_help、away、no_response のどれかです")
    if data.via not in logic.OFFICER_VIAS:
        raise ValidationException("via は visit、phone、cloth、paper、officer のどれかです")
    try:
        recorded = await logic.record_answer(
            tenant, check_id, data.household_id, data.answer, via=data.via, note=data.note,
            entered_by=principal.account_id, entered_by_label=logic.label_for(principal, tenant.id), access=access,
        )
    except logic.NotYourHan as refused:
        raise PermissionDeniedException(str(refused)) from None
    except logic.SafetyError as refused:
        raise ValidationException(str(refused)) from None
    return {**recorded, "answered_at": recorded["answered_at"].isoformat()}


@get("/cities/{city_slug:str}/safety-checks/{batch_id:int}", name="api_city_safety_view")
async def api_city_view(request: Request, city_slug: FromPath[str], batch_id: FromPath[int]) -> dict[str, Any]:
    principal = await _api_principal(request)
    city = await city_for(city_slug, principal)
    view = await logic.city_view(city["id"], batch_id)
    if view is None:
        raise NotFoundException()
    return logic.city_json(view)


router = Router(
    path="/api/v1", route_handlers=[api_start, api_city_start, api_results, api_answer, api_city_view]
)
