"""The 安否確認 JSON API for other systems and officers' tools: bearer tokens only (under /api/
``provide_principal`` judges the token, never a session cookie), the same permission matrix as
the pages, typed request bodies.

``POST /api/v1/associations/{slug}/safety-checks`` is mounted in app.py's association API router
(tenant provided there, ``require`` per route); the routes named by a check's or a city's id find
their association first and are judged in ``_check_and_access``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar import Router, get, post
from litestar.di import NamedDependency
from litestar.exceptions import (
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.params import FromPath, JSONBody

from chonaikai.accounts.permissions import require
from chonaikai.accounts.principal import Access, Principal, authorize
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


@post("/safety-checks", name="api_safety_start", status_code=201, dependencies={"access": require(Permission.SAFETY_START)})
async def api_start(
    tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access],
    data: JSONBody[SafetyCheckIn],
) -> dict[str, Any]:
    values, errors = logic.parse_start(data.title, data.message, data.drill)
    if errors:
        raise _refuse(errors)
    check_id = await logic.start_check(
        tenant, values, started_by=principal.account_id, started_by_label=logic.label_for(principal, tenant.id)
    )
    return {"id": check_id}


@post("/cities/{city_slug:str}/safety-checks", name="api_city_safety_start", status_code=201)
async def api_city_start(
    principal: NamedDependency[Principal], city_slug: FromPath[str], data: JSONBody[CitySafetyCheckIn]
) -> dict[str, Any]:
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


async def _check_and_access(
    principal: Principal, check_id: int, permission: Permission
) -> tuple[Tenant, dict[str, Any], Access]:
    """The check's association, the check, and what the caller may do there (401 / 403 / 404)."""
    if not principal.is_authenticated:  # strangers learn nothing, not even which ids exist
        raise NotAuthorizedException("ログインしてください")
    row = await SafetyCheck.select(SafetyCheck.association).where(SafetyCheck.id == check_id).first()
    if row is None:
        raise NotFoundException()
    association = await Association.select(Association.slug).where(Association.id == row["association"]).first()
    tenant = await find_tenant(association["slug"]) if association else None
    check = await logic.get_check(tenant, check_id) if tenant else None
    if tenant is None or check is None:
        raise NotFoundException()
    return tenant, check, authorize(principal, tenant, permission)


@get("/safety-checks/{check_id:int}", name="api_safety_results")
async def api_results(principal: NamedDependency[Principal], check_id: FromPath[int]) -> dict[str, Any]:
    tenant, check, access = await _check_and_access(principal, check_id, Permission.SAFETY_VIEW)
    return logic.results_json(await logic.results(tenant, check, access))


@post("/safety-checks/{check_id:int}/answers", name="api_safety_answer", status_code=201)
async def api_answer(
    principal: NamedDependency[Principal], check_id: FromPath[int], data: JSONBody[SafetyAnswerIn]
) -> dict[str, Any]:
    tenant, _, access = await _check_and_access(principal, check_id, Permission.SAFETY_RECORD)
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
async def api_city_view(
    principal: NamedDependency[Principal], city_slug: FromPath[str], batch_id: FromPath[int]
) -> dict[str, Any]:
    city = await city_for(city_slug, principal)
    view = await logic.city_view(city["id"], batch_id)
    if view is None:
        raise NotFoundException()
    return logic.city_json(view)


router = Router(path="/api/v1", route_handlers=[api_city_start, api_results, api_answer, api_city_view])
# Mounted in app.py under /api/v1/associations/{slug} (the tenant is provided there).
association_api_router = Router(path="/", route_handlers=[api_start])
