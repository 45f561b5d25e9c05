"""Roster pages for officers, the member's own household page, sign-in cards and the audit log.

Handlers stay thin: authorize, call the logic, render. Every roster view, export, import and change
is written to the audit log.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Request, Response, Router, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template

from chonaikai.accounts.credentials import household_session
from chonaikai.accounts.permissions import require
from chonaikai.accounts.principal import Access, Principal, authorize
from chonaikai.accounts.ratelimit import client_address
from chonaikai.accounts.roles import Permission
from chonaikai.accounts.sessions import begin_session
from chonaikai.accounts.tables import Account, AuditEntry
from chonaikai.line.config import channel_id_for_association
from chonaikai.line.links import issue_code as issue_line_code
from chonaikai.roster import cards, csv_io, logic, reach
from chonaikai.roster.tables import CHANNELS
from chonaikai.settings import get_settings
from chonaikai.tenancy.scope import Tenant
from chonaikai.web import is_htmx

FormData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
MultipartData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
UPLOAD_BODY_LIMIT = csv_io.MAX_UPLOAD_BYTES + 64 * 1024
CONFIRM_BODY_LIMIT = csv_io.MAX_UPLOAD_BYTES * 4 // 3 + 64 * 1024  # the file again, as base64

ACTION_LABELS = {
    "roster.view": "名簿を見た",
    "roster.export": "名簿を書き出した",
    "roster.import": "名簿を取り込んだ",
    "household.create": "世帯を追加",
    "household.update": "世帯を変更",
    "household.move": "班を移動",
    "household.moved_out": "転出にした",
    "household.moved_back": "転出を取り消した",
    "household.erase": "個人情報を削除",
    "household.self_update": "会員が自分で変更",
    "household.view": "世帯を見た",
    "member.add": "家族を追加",
    "member.remove": "家族を削除",
    "card.issue": "ログインカードを印刷",
    "card.signin": "カードでログイン",
    "own.download": "会員が自分の情報を保存",
    "homepage.update": "ホームページを変更",
    "homepage.photo_add": "ホームページに写真を追加",
    "homepage.photo_remove": "ホームページの写真を外した",
    "print.printed": "回覧板を印刷した",
    "print.tick": "紙の回覧板の確認を記入",
    "delivery.unsubscribe": "メールの配信を止めた",
    "line.code": "LINE登録コードを発行",
    "line.link": "LINEとつながった",
    "line.fallback": "LINEからメール・紙に切り替え",
    "line.unlink": "LINEとのつながりが切れた",
    "line.quota": "LINEの送信数の上限",
}


def officer_context(tenant: Tenant, principal: Principal, **values: Any) -> dict[str, Any]:
    return {
        "tenant": tenant,
        "association": tenant.row,
        "can": {p.name.lower(): principal.can(p, tenant.id) for p in Permission},
        "channel_labels": logic.CHANNEL_LABELS,
        "channels": CHANNELS,
        **values,
    }


async def _household_or_404(tenant: Tenant, access: Access, household_id: int) -> dict:
    household = await logic.get_household(tenant, access, household_id)
    if household is None:
        raise NotFoundException()
    return household


# --- roster list --------------------------------------------------------------------------------


@get("/roster", name="roster", dependencies={"access": require(Permission.ROSTER_VIEW)})
async def roster_page(
    request: Request,
    tenant: NamedDependency[Tenant],
    principal: NamedDependency[Principal], access: NamedDependency[Access],
    q: FromQuery[str] = "",
    han: FromQuery[str] = "",
    channel: FromQuery[str] = "",
    moved_out: FromQuery[str] = "",
    reached: FromQuery[str] = "",
) -> Template:
    query = logic.RosterQuery(q=q[:100], han=han[:20], channel=channel[:10], moved_out=moved_out == "1")
    linked = await reach.line_linked_households(tenant)
    households = reach.annotate_with(await logic.list_households(tenant, access, query), linked)
    if reached in CHANNELS:  # by the way they are really reached (LINE not linked yet → paper)
        households = [h for h in households if h["effective_channel"] == reached]
    filters = "、".join(f"{k}={v}" for k, v in (("q", query.q), ("班", han), ("連絡方法", channel),
                                                 ("届き方", reached)) if v)
    await logic.audit(tenant, principal, "roster.view", f"{len(households)} 世帯" + (f"（{filters}）" if filters else ""))
    context = officer_context(
        tenant, principal, households=households, query=query, han_choices=await logic.list_han(tenant, access),
        counts=await logic.counts(tenant, access, effective=reach.rule(linked)), whole=access.whole_association,
        reached=reached if reached in CHANNELS else "",
        can_print_cards=principal.can(Permission.SIGNIN_CARD_ISSUE, tenant.id),
    )
    template = "roster/_results.html" if is_htmx(request) else "roster/list.html"
    return Template(template, context=context)


# --- add and edit -------------------------------------------------------------------------------


@get("/roster/new", name="roster_new", dependencies={"access": require(Permission.ROSTER_EDIT)})
async def household_new_page(tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access]) -> Template:
    han_choices = await logic.list_han(tenant, access)
    values = {"channel": "paper", "han": han_choices[0]["id"] if han_choices and not access.whole_association else None}
    return Template(
        "roster/form.html",
        context=officer_context(tenant, principal, household=None, values=values, errors={}, han_choices=han_choices,
                                whole=access.whole_association),
    )


@post("/roster/new", name="roster_create", status_code=303, dependencies={"access": require(Permission.ROSTER_EDIT)})
async def household_create(
    tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access], data: FormData
) -> Redirect | Template:
    han_choices = await logic.list_han(tenant, access)
    values, errors = logic.validate_form(data, {h["id"] for h in await logic.list_han(tenant)}, access)
    if errors:
        return Template(
            "roster/form.html",
            context=officer_context(tenant, principal, household=None, values={**values.as_dict(), **values.support_dict()}, errors=errors,
                                    han_choices=han_choices, whole=access.whole_association),
            status_code=400,
        )
    household_id = await logic.create_household(tenant, access, principal, values)
    return Redirect(path=f"/a/{tenant.slug}/roster/{household_id}?saved=1", status_code=303)


@get("/roster/{household_id:int}", name="roster_household", dependencies={"access": require(Permission.ROSTER_VIEW)})
async def household_page(
    tenant: NamedDependency[Tenant],
    principal: NamedDependency[Principal], access: NamedDependency[Access],
    household_id: FromPath[int],
    saved: FromQuery[str] = "",
) -> Template:
    household = await _household_or_404(tenant, access, household_id)
    await reach.annotate(tenant, [household])
    await logic.audit(tenant, principal, "household.view", "", household_id)
    editor = None
    if household["updated_by"]:
        editor = await Account.select(Account.email, Account.display_name).where(
            Account.id == household["updated_by"]
        ).first()
    return Template(
        "roster/form.html",
        context=officer_context(
            tenant, principal, household=household, values=household, errors={}, editor=editor,
            han_choices=await logic.list_han(tenant, principal.access(Permission.ROSTER_EDIT, tenant.id) or access),
            whole=access.whole_association, saved=saved,
            can_edit=principal.can(Permission.ROSTER_EDIT, tenant.id),
        ),
    )


@post("/roster/{household_id:int}", name="roster_update", status_code=303, dependencies={"access": require(Permission.ROSTER_EDIT)})
async def household_update(
    tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access], household_id: FromPath[int], data: FormData
) -> Redirect | Template:
    household = await _household_or_404(tenant, access, household_id)
    values, errors = logic.validate_form(data, {h["id"] for h in await logic.list_han(tenant)}, access)
    if household["erased_at"] is not None:
        errors["name"] = "この世帯の情報は削除されています"
    if errors:
        return Template(
            "roster/form.html",
            context=officer_context(
                tenant, principal, household=household, values={**household, **values.as_dict(), **values.support_dict()}, errors=errors,
                han_choices=await logic.list_han(tenant, access), whole=access.whole_association, can_edit=True,
            ),
            status_code=400,
        )
    changed = await logic.update_household(tenant, access, principal, household_id, values)
    return Redirect(path=f"/a/{tenant.slug}/roster/{household_id}?saved={'1' if changed else '0'}", status_code=303)


@post("/roster/{household_id:int}/moved-out", name="roster_moved_out", status_code=303, dependencies={"access": require(Permission.ROSTER_EDIT)})
async def household_moved_out(
    tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access], household_id: FromPath[int], data: FormData
) -> Redirect:
    await _household_or_404(tenant, access, household_id)
    try:
        await logic.set_moved_out(tenant, access, principal, household_id, data.get("moved_out") == "1")
    except logic.NotAllowed as error:
        raise NotFoundException() from error
    return Redirect(path=f"/a/{tenant.slug}/roster/{household_id}?saved=1", status_code=303)


@post("/roster/{household_id:int}/members", name="roster_member_add", status_code=303, dependencies={"access": require(Permission.ROSTER_EDIT)})
async def household_member_add(
    tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access], household_id: FromPath[int], data: FormData
) -> Redirect | Template:
    household = await _household_or_404(tenant, access, household_id)
    try:
        error = await logic.add_member(tenant, access, principal, household_id, data)
    except logic.NotAllowed as exc:
        raise NotFoundException() from exc
    if error:
        return Template(
            "roster/form.html",
            context=officer_context(tenant, principal, household=household, values=household, errors={},
                                    member_error=error, member_values=data,
                                    han_choices=await logic.list_han(tenant, access),
                                    whole=access.whole_association, can_edit=True),
            status_code=400,
        )
    return Redirect(path=f"/a/{tenant.slug}/roster/{household_id}?saved=1", status_code=303)


@post("/roster/{household_id:int}/members/{member_id:int}/delete", name="roster_member_remove", status_code=303, dependencies={"access": require(Permission.ROSTER_EDIT)})
async def household_member_remove(
    tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access],
    household_id: FromPath[int], member_id: FromPath[int],
) -> Redirect:
    await _household_or_404(tenant, access, household_id)
    await logic.remove_member(tenant, access, principal, household_id, member_id)
    return Redirect(path=f"/a/{tenant.slug}/roster/{household_id}?saved=1", status_code=303)


@post("/roster/{household_id:int}/erase", name="roster_erase", status_code=303, dependencies={"access": require(Permission.ROSTER_ERASE)})
async def household_erase(
    tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access], household_id: FromPath[int], data: FormData
) -> Redirect:
    if data.get("confirm") != "1":
        return Redirect(path=f"/a/{tenant.slug}/roster/{household_id}", status_code=303)
    try:
        await logic.erase_household(tenant, principal, household_id)
    except logic.NotAllowed as error:
        raise NotFoundException() from error
    return Redirect(path=f"/a/{tenant.slug}/roster/{household_id}?saved=erased", status_code=303)


# --- sign-in cards ------------------------------------------------------------------------------


@get("/roster/{household_id:int}/card", name="roster_card", dependencies={"access": require(Permission.SIGNIN_CARD_ISSUE)})
async def card_page(
    tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access], household_id: FromPath[int]
) -> Template:
    household = await _household_or_404(tenant, access, household_id)
    return Template("roster/card_issue.html", context=officer_context(tenant, principal, household=household,
                                                                       lifetime_days=cards.CARD_LIFETIME.days))


@post("/roster/{household_id:int}/card", name="roster_card_issue", dependencies={"access": require(Permission.SIGNIN_CARD_ISSUE)})
async def card_issue(
    tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access], household_id: FromPath[int]
) -> Template:
    household = await _household_or_404(tenant, access, household_id)
    if household["moved_out"]:
        raise NotFoundException()
    card = await cards.issue_card(tenant, principal, household_id)
    # Where the association reaches members by LINE, the card also carries a one-time link code
    # the member sends to the LINE account (a household without e-mail may still use LINE).
    line_code = None
    if await channel_id_for_association(tenant.id):
        line_code = await issue_line_code(tenant, household_id, principal.account_id)
    return Template(
        "roster/card_print.html",
        context=officer_context(tenant, principal, household=household, card=card,
                                code=cards.format_code(card.code), base_url=get_settings().base_url.rstrip("/"),
                                line_code=line_code),
        headers={"cache-control": "no-store"},
    )


async def _line_unlinked(tenant: Tenant, access: Access, han: str = "") -> list[dict]:
    """Households (within ``access``) that chose LINE but get paper: no LINE user linked yet."""
    rows = await logic.list_households(tenant, access, logic.RosterQuery(channel="line", han=han))
    return reach.paper_instead(await reach.annotate(tenant, rows), "line")


@get("/roster/cards/line", name="roster_cards_line", dependencies={"access": require(Permission.SIGNIN_CARD_ISSUE)})
async def line_cards_page(
    tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access],
    han: FromQuery[str] = "",
) -> Template:
    households = await _line_unlinked(tenant, access, han[:20])
    return Template("roster/cards_line.html", context=officer_context(
        tenant, principal, households=households, han=han[:20], lifetime_days=cards.CARD_LIFETIME.days,
        line_ready=bool(await channel_id_for_association(tenant.id)),
    ))


@post("/roster/cards/line", name="roster_cards_line_print", dependencies={"access": require(Permission.SIGNIN_CARD_ISSUE)})
async def line_cards_print(
    tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access],
    han: FromQuery[str] = "",
) -> Template:
    """Cards for every household that chose LINE but is not linked yet: each card carries a
    one-time LINE link code, so the next notice reaches them on LINE instead of paper."""
    households = await _line_unlinked(tenant, access, han[:20])
    line_ready = bool(await channel_id_for_association(tenant.id))
    printed = []
    for household in households:
        card = await cards.issue_card(tenant, principal, household["id"])
        line_code = await issue_line_code(tenant, household["id"], principal.account_id) if line_ready else None
        printed.append({"household": household, "card": card, "code": cards.format_code(card.code),
                        "line_code": line_code})
    return Template(
        "roster/card_print_many.html",
        context=officer_context(tenant, principal, printed=printed, base_url=get_settings().base_url.rstrip("/")),
        headers={"cache-control": "no-store"},
    )


# --- CSV ----------------------------------------------------------------------------------------


@get("/roster/export.csv", name="roster_export", dependencies={"access": require(Permission.ROSTER_EXPORT)})
async def roster_export(
    tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access], han: FromQuery[str] = ""
) -> Response:
    data, count = await csv_io.export_csv(tenant, access, han=han[:20])
    await logic.audit(tenant, principal, "roster.export", f"{count} 世帯" + (f"（班 {han}）" if han else ""))
    filename = f"meibo-{tenant.slug}-{datetime.now(UTC):%Y%m%d}.csv"
    return Response(
        data,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{filename}"', "cache-control": "no-store"},
    )


@get("/roster/sample.csv", name="roster_sample", dependencies={"access": require(Permission.ROSTER_IMPORT)})
async def roster_sample(tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access]) -> Response:
    return Response(
        csv_io.sample_csv(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="meibo-mihon.csv"'},
    )


@get("/roster/import", name="roster_import_form", dependencies={"access": require(Permission.ROSTER_IMPORT)})
async def roster_import_form(tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access]) -> Template:
    return Template("roster/import.html", context=officer_context(tenant, principal, plan=None, columns=csv_io.COLUMNS))


@post("/roster/import", name="roster_import_preview", request_max_body_size=UPLOAD_BODY_LIMIT, dependencies={"access": require(Permission.ROSTER_IMPORT)})
async def roster_import_preview(
    tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access], data: MultipartData
) -> Template:
    upload = data.get("file")
    create_han = data.get("create_han") == "1"
    raw = await upload.read() if isinstance(upload, UploadFile) else b""
    if len(raw) > csv_io.MAX_UPLOAD_BYTES:
        return _import_refused(tenant, principal, "ファイルが大きすぎます（5MBまで）", 413)
    plan = await csv_io.plan_import(tenant, access, raw, create_missing_han=create_han)
    return Template(
        "roster/import.html",
        context=officer_context(
            tenant, principal, plan=plan, columns=csv_io.COLUMNS, create_han=create_han,
            payload=base64.b64encode(raw).decode() if plan.ok else "",
            filename=upload.filename if isinstance(upload, UploadFile) else "",
        ),
        status_code=200 if plan.ok else 400,
    )


def _import_refused(tenant: Tenant, principal: Principal, message: str, status: int) -> Template:
    return Template(
        "roster/import.html",
        context=officer_context(tenant, principal, plan=None, columns=csv_io.COLUMNS, message=message),
        status_code=status,
    )


@post("/roster/import/confirm", name="roster_import_confirm", status_code=303,
      request_max_body_size=CONFIRM_BODY_LIMIT, dependencies={"access": require(Permission.ROSTER_IMPORT)})
async def roster_import_confirm(
    tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access], data: MultipartData
) -> Redirect | Template:
    try:
        raw = base64.b64decode(str(data.get("payload", "")), validate=True)
    except (binascii.Error, ValueError):
        return _import_refused(tenant, principal, "ファイルをもう一度選んでください", 400)
    try:
        plan = await csv_io.apply_import(tenant, access, principal, raw, create_missing_han=data.get("create_han") == "1")
    except csv_io.ImportRefused as refused:
        return Template(
            "roster/import.html",
            context=officer_context(tenant, principal, plan=refused.plan, columns=csv_io.COLUMNS, payload=""),
            status_code=400,
        )
    return Redirect(
        path=f"/a/{tenant.slug}/roster",
        query_params={"imported": f"{len(plan.added)}-{len(plan.changed)}"},
        status_code=303,
    )


# --- audit log ----------------------------------------------------------------------------------


@get("/audit", name="audit_log", dependencies={"access": require(Permission.AUDIT_VIEW)})
async def audit_page(
    tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access], page: FromQuery[int] = 1
) -> Template:
    page = max(1, min(page, 10_000))
    per_page = 100
    rows = await AuditEntry.select(
        AuditEntry.id, AuditEntry.action, AuditEntry.detail, AuditEntry.created_at, AuditEntry.household,
        AuditEntry.account.email, AuditEntry.household.name,
    ).where(AuditEntry.association == tenant.id).order_by(AuditEntry.id, ascending=False).limit(per_page + 1).offset(
        (page - 1) * per_page
    )
    # AuditEntry is not reached through tenant.select: it also holds city-level entries
    # (association NULL), so the association filter is written out above on purpose.
    for row in rows:
        row["label"] = ACTION_LABELS.get(row["action"], row["action"])
    return Template(
        "roster/audit.html",
        context=officer_context(tenant, principal, entries=rows[:per_page], page=page, more=len(rows) > per_page),
    )


# --- the member's own household ------------------------------------------------------------------


async def _own_household(tenant: Tenant, principal: Principal) -> int:
    authorize(principal, tenant, Permission.OWN_HOUSEHOLD)
    household_id = principal.household_in(tenant.id)
    if household_id is None:
        raise PermissionDeniedException("世帯が登録されていません")
    return household_id


async def _my_template(
    tenant: Tenant, principal: Principal, household_id: int, *, status_code: int = 200, **values: Any
) -> Template:
    household = await logic.get_household(tenant, None, household_id)
    if household is None or household["moved_out"]:
        raise NotFoundException()
    await reach.annotate(tenant, [household])
    values.setdefault("values", household)
    values.setdefault("errors", {})
    return Template(
        "roster/my.html",
        context=officer_context(tenant, principal, household=household, **values),
        status_code=status_code,
    )


@get("/my", name="my_household")
async def my_page(tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], saved: FromQuery[str] = "") -> Template:
    household_id = await _own_household(tenant, principal)
    return await _my_template(tenant, principal, household_id, saved=saved)


@post("/my", name="my_household_update", status_code=303)
async def my_update(tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], data: FormData) -> Redirect | Template:
    household_id = await _own_household(tenant, principal)
    try:
        errors = await logic.update_own_contact(tenant, principal, household_id, data)
    except logic.NotAllowed as error:
        raise NotFoundException() from error
    if errors:
        return await _my_template(tenant, principal, household_id, status_code=400, values=data, errors=errors)
    return Redirect(path=f"/a/{tenant.slug}/my?saved=1", status_code=303)


@post("/my/members", name="my_member_add", status_code=303)
async def my_member_add(tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], data: FormData) -> Redirect | Template:
    household_id = await _own_household(tenant, principal)
    error = await logic.add_member(tenant, None, principal, household_id, data)
    if error:
        return await _my_template(
            tenant, principal, household_id, status_code=400, member_error=error, member_values=data
        )
    return Redirect(path=f"/a/{tenant.slug}/my?saved=1", status_code=303)


@post("/my/members/{member_id:int}/delete", name="my_member_remove", status_code=303)
async def my_member_remove(
    tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], member_id: FromPath[int], data: FormData
) -> Redirect | Template:
    household_id = await _own_household(tenant, principal)
    if data.get("confirm") != "1":  # one mistaken tap must not remove a family member
        return await _my_template(
            tenant, principal, household_id, status_code=400, confirm_member=member_id,
            member_error="はずすときは「本当にはずす」に印をつけてから、「はずす」を押してください",
        )
    await logic.remove_member(tenant, None, principal, household_id, member_id)
    return Redirect(path=f"/a/{tenant.slug}/my?saved=1", status_code=303)


@get("/my/data.json", name="my_household_data")
async def my_data(tenant: NamedDependency[Tenant], principal: NamedDependency[Principal]) -> Response:
    household_id = await _own_household(tenant, principal)
    data = await logic.own_data(tenant, household_id)
    await logic.audit(tenant, principal, "own.download", "", household_id)
    return Response(
        json.dumps(data, ensure_ascii=False, indent=2).encode(),
        media_type="application/json; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="my-household.json"', "cache-control": "no-store"},
    )


# --- signing in with a card (no association in the path: the card says which) --------------------


async def _card_sign_in(request: Request, found: tuple[int, int]) -> Redirect:
    from chonaikai.tenancy.tables import Association

    household_id, association_id = found
    association = await Association.select(Association.slug).where(Association.id == association_id).first()
    begin_session(request, await household_session(household_id))
    await AuditEntry.insert(
        AuditEntry(association=association_id, household=household_id, action="card.signin",
                   created_at=datetime.now(UTC))
    )
    return Redirect(path=f"/a/{association['slug']}/my", status_code=303)


@get("/card", name="card_code_form")
async def card_code_form() -> Template:
    return Template("roster/card_code.html", context={"error": ""})


@post("/card", name="card_code_use", status_code=303)
async def card_code_use(request: Request, data: FormData) -> Redirect | Template:
    client = client_address(request)
    await cards.slow_down(client)  # slowed, never refused (cards.py)
    found = await cards.household_for_code(str(data.get("code", ""))[:40])
    if found is None:
        await cards.record_failed_attempt(client)
        return Template(
            "roster/card_code.html",
            context={"error": "このコードは使えません。カードの文字をもう一度たしかめてください。"
                              "カードの期限が切れたときは、班長さんか役員さんに新しいカードをたのんでください。"},
            status_code=400,
        )
    return await _card_sign_in(request, found)


@get("/card/{secret:str}", name="card_confirm")
async def card_confirm(request: Request, secret: FromPath[str]) -> Template:
    usable = await cards.household_for_secret(secret[:100]) is not None
    return Template("roster/card_confirm.html", context={"secret": secret, "usable": usable},
                    status_code=200 if usable else 410)


@post("/card/{secret:str}", name="card_use", status_code=303)
async def card_use(request: Request, secret: FromPath[str]) -> Redirect | Template:
    # The QR address holds 192 random bits: no limit is needed to keep it from being guessed,
    # and none stands between a member and their card.
    found = await cards.household_for_secret(secret[:100])
    if found is None:
        return Template("roster/card_confirm.html", context={"secret": secret, "usable": False}, status_code=410)
    return await _card_sign_in(request, found)


def upload_too_large(request: Request, exc: Exception) -> Response:
    """Litestar refuses a body over request_max_body_size before the handler runs: say so in Japanese."""
    return Template(
        "roster/import.html",
        context={"association": {"slug": request.path_params.get("slug", ""), "name": ""}, "can": {},
                 "plan": None, "columns": csv_io.COLUMNS,
                 "message": "ファイルが大きすぎます（5MBまで）。名簿は何も変わっていません。"},
        status_code=413,
    )


association_roster_router = Router(
    path="/",
    route_handlers=[
        roster_page, household_new_page, household_create, household_page, household_update,
        household_moved_out, household_member_add, household_member_remove, household_erase,
        card_page, card_issue, line_cards_page, line_cards_print, roster_export, roster_sample, roster_import_form, roster_import_preview,
        roster_import_confirm, audit_page, my_page, my_update, my_member_add, my_member_remove, my_data,
    ],
    exception_handlers={413: upload_too_large},
)
card_router = Router(path="/", route_handlers=[card_code_form, card_code_use, card_confirm, card_use])
router = Router(path="/", route_handlers=[card_router])
