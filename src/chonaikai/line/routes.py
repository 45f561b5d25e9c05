"""LINE pages: the webhook, the password-free link from LINE, link codes, settings and quota."""

from __future__ import annotations

import logging
from typing import Any

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Redirect, Template

from chonaikai.accounts.credentials import household_session
from chonaikai.accounts.permissions import require
from chonaikai.accounts.principal import Access, Principal, authorize
from chonaikai.accounts.roles import Permission
from chonaikai.accounts.sessions import begin_session
from chonaikai.accounts.tables import AuditEntry
from chonaikai.line import links, quota, webhook
from chonaikai.line.api import LineApi
from chonaikai.line.config import (
    LineNotConfigured,
    channel_by_id,
    channel_for_association,
    channel_id_for_association,
)
from chonaikai.line.tables import LineLink
from chonaikai.notices.tables import Notice
from chonaikai.roster.tables import Household
from chonaikai.tenancy.scope import Tenant
from chonaikai.tenancy.tables import Association
from chonaikai.web import is_htmx

log = logging.getLogger(__name__)


# ---- from LINE ----------------------------------------------------------------------------


@post("/webhook/{channel_id:str}", name="line_webhook", status_code=200)
async def line_webhook(request: Request, channel_id: FromPath[str]) -> Response:
    channel = await channel_by_id(channel_id)
    if channel is None:
        raise NotFoundException()
    body = (await request.body()).decode("utf-8", errors="replace")
    try:
        events = webhook.parse(channel, body, request.headers.get("x-line-signature", ""))
    except webhook.BadSignature:
        # Nothing recorded: a forged request must leave no trace in our data.
        return Response({"detail": "invalid signature"}, status_code=400)
    except webhook.BadBody as error:
        return Response({"detail": str(error)}, status_code=400)
    result = await webhook.handle_events(channel, events)
    if result.replies:
        async with LineApi(channel) as api:
            for reply in result.replies:
                await api.reply(reply.token, reply.messages)
    return Response({"handled": result.handled, "duplicates": result.duplicates}, status_code=200)


@get("/go/{value:str}", name="line_go")
async def line_go(request: Request, value: FromPath[str]) -> Redirect | Template:
    """A button in LINE: signs the household in (no password) and opens the notice or its page."""
    found = await webhook.household_for_signed_link(value)
    if found is None:
        return Template("line/link_expired.html", status_code=410)
    household, target = found
    session = request.scope.get("session")
    if not (isinstance(session, dict) and session.get("account_id")):
        # An officer's own session is kept; anyone else becomes this household.
        begin_session(request, await household_session(household["id"]))
    if target:
        return Redirect(path=f"/r/{target}", status_code=303)
    association = await Association.select(Association.slug).where(Association.id == household["association"]).first()
    return Redirect(path=f"/a/{association['slug']}/my", status_code=303)  # the household's own page


line_router = Router(path="/line", route_handlers=[line_webhook, line_go])


# ---- officers: link codes -----------------------------------------------------------------


async def _household(tenant: Tenant, principal: NamedDependency[Principal], household_id: int) -> dict[str, Any]:
    access = authorize(principal, tenant, Permission.SIGNIN_CARD_ISSUE)
    household = await tenant.select(Household).where(
        (Household.id == household_id) & (Household.moved_out == False)  # noqa: E712
    ).first()
    if household is None or not access.covers_han(household["han"]):
        raise NotFoundException()
    return household


async def _code_context(tenant: Tenant, household: dict[str, Any], code: str = "", expires: Any = None) -> dict[str, Any]:
    linked = await tenant.count(LineLink).where((LineLink.household == household["id"]) & (LineLink.active == True))  # noqa: E712
    return {"tenant": tenant, "association": tenant.row, "household": household, "linked": linked,
            "code": code, "expires": expires}


@get("/households/{household_id:int}/line-code", name="line_code_page")
async def line_code_page(tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], household_id: FromPath[int]) -> Template:
    household = await _household(tenant, principal, household_id)
    return Template("line/code.html", context=await _code_context(tenant, household))


@post("/households/{household_id:int}/line-code", name="line_code_issue", status_code=200)
async def line_code_issue(request: Request, tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], household_id: FromPath[int]) -> Template:
    household = await _household(tenant, principal, household_id)
    code, expires = await links.issue_code(tenant, household["id"], principal.account_id)
    context = await _code_context(tenant, household, code, expires)
    name = "line/code_fragment.html" if is_htmx(request) else "line/code.html"
    return Template(name, context=context)


@post("/households/{household_id:int}/line-code", name="api_line_code", status_code=201)
async def api_line_code(tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], household_id: FromPath[int]) -> dict[str, str]:
    household = await _household(tenant, principal, household_id)
    code, expires = await links.issue_code(tenant, household["id"], principal.account_id)
    return {"code": code, "expires_at": expires.isoformat()}


# ---- officers: settings and quota ---------------------------------------------------------


async def _settings_context(tenant: Tenant) -> dict[str, Any]:
    context: dict[str, Any] = {"tenant": tenant, "association": tenant.row, "error": "", "quota": None}
    context["channel_id"] = await channel_id_for_association(tenant.id)
    try:
        channel = await channel_for_association(tenant.id)
        context["shared"] = channel.shared
        async with LineApi(channel) as api:
            context["quota"] = await api.quota()
    except LineNotConfigured as error:
        context["error"] = str(error)
    except Exception:  # LINE down or unreachable: the page still shows what we know
        log.exception("LINE quota unavailable")
        context["error"] = "LINEから送信数を受け取れませんでした。しばらくしてから開き直してください。"
    context["linked"] = await tenant.count(LineLink).where(LineLink.active == True)  # noqa: E712
    context["events"] = await tenant.select(
        AuditEntry, AuditEntry.action, AuditEntry.detail, AuditEntry.created_at, AuditEntry.household.name.as_alias("household_name")
    ).where(AuditEntry.action.like("line.%")).order_by(AuditEntry.id, ascending=False).limit(20)
    return context


@get("/settings/line", name="line_settings", dependencies={"access": require(Permission.SETTINGS_EDIT)})
async def line_settings(tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access]) -> Template:
    return Template("line/settings.html", context=await _settings_context(tenant))


@post("/settings/line/check", name="line_check", status_code=200, dependencies={"access": require(Permission.SETTINGS_EDIT)})
async def line_check(tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access]) -> Template:
    context = await _settings_context(tenant)
    if not context["error"]:
        async with LineApi(await channel_for_association(tenant.id)) as api:
            gone = await links.check_links(tenant, api)
        context = await _settings_context(tenant)
        context["flash"] = f"確認しました。届かなくなっていたLINEは {gone} 件でした。"
    return Template("line/settings.html", context=context)


async def _notice(tenant: Tenant, notice_id: int) -> dict[str, Any]:
    notice = await tenant.select(Notice, Notice.id, Notice.title).where(Notice.id == notice_id).first()
    if notice is None:
        raise NotFoundException()
    return notice


@get("/notices/{notice_id:int}/line-quota", name="line_quota", dependencies={"access": require(Permission.NOTICE_POST)})
async def line_quota(tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access], notice_id: FromPath[int]) -> Template:
    notice = await _notice(tenant, notice_id)
    context: dict[str, Any] = {"tenant": tenant, "association": tenant.row, "notice": notice, "check": None, "error": "", "moved": None}
    try:
        context["check"] = await quota.check_notice(tenant, notice_id)
    except LineNotConfigured as error:
        context["error"] = str(error)
    return Template("line/quota.html", context=context)


@post("/notices/{notice_id:int}/line-quota", name="line_quota_choose", status_code=200, dependencies={"access": require(Permission.NOTICE_POST)})
async def line_quota_choose(tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access], notice_id: FromPath[int]) -> Template:
    notice = await _notice(tenant, notice_id)
    check = await quota.check_notice(tenant, notice_id)
    moved = None
    if not check.enough:
        moved = await quota.send_rest_another_way(tenant, notice_id, check.remaining or 0, principal.account_id)
        check = await quota.check_notice(tenant, notice_id)
    return Template("line/quota.html", context={"tenant": tenant, "association": tenant.row, "notice": notice,
                                                 "check": check, "error": "", "moved": moved})


association_line_router = Router(
    path="/",
    route_handlers=[line_code_page, line_code_issue, line_settings, line_check, line_quota, line_quota_choose],
)
api_line_router = Router(
    path="/",
    route_handlers=[api_line_code],
)
