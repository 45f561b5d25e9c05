"""Read links, one-click unsubscribe, and the officers' who-has-read page (HTML, CSV, JSON)."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import datetime
from typing import Any
from urllib.parse import quote

from litestar import MediaType, Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from litestar.utils.scope.state import ScopeState

from chonaikai.accounts.permissions import require
from chonaikai.accounts.principal import Access, Principal, authorize
from chonaikai.accounts.roles import Permission
from chonaikai.accounts.sessions import SESSION_COOKIE
from chonaikai.clock import to_local, zone_of
from chonaikai.delivery import content, readlink, reminders
from chonaikai.delivery import summary as readers
from chonaikai.delivery.read_front import READ_HEADERS, SharedPage, page_key
from chonaikai.params import optional_int
from chonaikai.roster.tables import CHANNELS, Han
from chonaikai.settings import get_settings
from chonaikai.tenancy import logic
from chonaikai.tenancy.scope import Tenant
from chonaikai.web import TEMPLATES_DIR, is_htmx

# 「受け付けました」 is the same for every reader: read once, sent as it is (the busiest answer).
CONFIRMED_FRAGMENT = (TEMPLATES_DIR / "delivery" / "_read_confirmed.html").read_bytes()


def _missing_read_link() -> Template:
    return Template("delivery/read_missing.html", status_code=404, headers=READ_HEADERS)


def _withdrawn_read_link() -> Template:
    return Template("delivery/read_withdrawn.html", status_code=410, headers=READ_HEADERS)


# -- read link (no sign-in) ----------------------------------------------------------------


@get("/r/{token:str}", name="read_notice")
async def read_page(
    request: Request, token: FromPath[str], choice: FromQuery[list[str] | None] = None,
    change: FromQuery[str] = "", answered: FromQuery[str] = "",
) -> Template | Response:
    view = await readlink.open_by_token(token)
    if view is None:
        return _missing_read_link()
    if isinstance(view, readlink.Withdrawn):
        return _withdrawn_read_link()
    # What producers add (a notice's question: its answer form; ?choice= only pre-selects).
    extras = await content.read_extras(token, {"choice": choice or [], "change": change, "answered": answered})
    template = extras.pop("template", None) or "delivery/read.html"
    # The page shared by a notice's readers (read_front.py answers them from it): only when what
    # producers added is the same for every such reader, and the reader has no session (no name
    # or menu on the page).
    shared_for_all = not extras or content.SHARED_UNTIL in extras
    shared_until = extras.pop(content.SHARED_UNTIL, None)
    context = {"view": view, "notice": view.notice, "confirmed": view.confirmed_at is not None, "ask": None,
               **extras}
    if shared_for_all and view.shared is not None and SESSION_COOKIE not in request.cookies:
        page = _shared_page(request, view, template, context, shared_until)
        csrf = ScopeState.from_scope(request.scope).csrf_token
        return Response(page.for_reader(token, csrf if isinstance(csrf, str) else ""),
                         media_type=MediaType.HTML, headers=READ_HEADERS)
    return Template(template, context=context, headers=READ_HEADERS)


# Stand-ins for the two values that differ between readers of one notice's page.
_TOKEN_MARK = "t" + secrets.token_hex(16)
_CSRF_MARK = "c" + secrets.token_hex(16)


def _shared_page(
    request: Request, view: readlink.ReadView, template: str, context: dict[str, Any], until: datetime | None
) -> SharedPage:
    """The read page as every reader without a session gets it, rendered once per notice, 「読みました」
    state and text size, with stand-ins for the reader's token and CSRF value. Whatever else the
    page shows must be in the key (read_front.page_key) or in ``view.shared``, which is per
    notice: nothing of one household may reach another. A signed-in reader (menu, name) gets the
    page rendered for them."""
    key = page_key(context["confirmed"], request.cookies)  # the template is the content's own
    pages = view.shared.pages  # type: ignore[union-attr]
    page = pages.get(key)
    if page is None or not page.valid():
        text = request.app.template_engine.get_template(template).render({
            **context,
            "request": request,
            "csrf_input": f'<input type="hidden" name="_csrf_token" value="{_CSRF_MARK}" />',
            "csrf_token": lambda: _CSRF_MARK,
        })
        # The token is put in by producers' parts too (an answer form): replaced where it appears.
        page = SharedPage(text.replace(view.token, _TOKEN_MARK), _TOKEN_MARK, _CSRF_MARK,
                          until.timestamp() if until else None)
        pages[key] = page
    return page


@post(["/r/{token:str}", "/r/{token:str}/confirm"], name="read_confirm", status_code=200)
async def read_confirm(request: Request, token: FromPath[str]) -> Template | Response | Redirect:
    state = await readlink.link_state(token)
    if isinstance(state, readlink.Withdrawn):
        return _withdrawn_read_link()
    confirmed = await readlink.confirm_by_token(token, via="web") if state else None
    if confirmed is None:
        return _missing_read_link()
    if is_htmx(request):
        return Response(CONFIRMED_FRAGMENT, media_type=MediaType.HTML, headers=READ_HEADERS)
    return Redirect(path=f"/r/{token}", status_code=303, headers=READ_HEADERS)


@get("/r/{token:str}/files/{attachment_id:int}", name="read_file")
async def read_file(token: FromPath[str], attachment_id: FromPath[int]) -> Response:
    found = await readlink.attachment_by_token(token, attachment_id)
    if found is None:
        return _missing_read_link()
    attachment, data = found
    return Response(
        content=data,
        media_type=attachment["content_type"],
        headers={
            **READ_HEADERS,
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(attachment['filename'])}",
            "Cache-Control": "private, max-age=3600",
        },
    )


# -- one-click unsubscribe (RFC 8058; the POST is exempt from CSRF: mail programs send it) ----


@get("/u/{token:str}", name="unsubscribe_confirm")
async def unsubscribe_page(token: FromPath[str]) -> Template:
    household = await readlink.household_for_token(token)
    if household is None:
        return _missing_read_link()
    return Template(
        "delivery/unsubscribe.html",
        context={"token": token, "already": household["channel"] != "email", "done": False,
                 "channel_label": readlink.CHANNEL_LABELS.get(household["channel"], "")},
        headers=READ_HEADERS,
    )


@post("/u/{token:str}", name="unsubscribe", status_code=200)
async def unsubscribe(token: FromPath[str]) -> Template:
    result = await readlink.unsubscribe_by_token(token)
    if result is None:
        return _missing_read_link()
    return Template(
        "delivery/unsubscribe.html",
        context={"token": token, "already": not result.changed, "done": True,
                 "channel_label": readlink.CHANNEL_LABELS.get(result.new_channel, "")},
        headers=READ_HEADERS,
    )


# -- officers: who has read ----------------------------------------------------------------


async def _notice_or_404(tenant: Tenant, principal: Principal, notice_id: int) -> dict[str, Any]:
    notice = await content.source().describe(tenant.id, notice_id)
    if notice is None:
        raise NotFoundException()
    # A draft or scheduled notice exists only for those who may post (as on the notice page).
    if notice["status"] not in ("published", "archived") and not principal.can(Permission.NOTICE_POST, tenant.id):
        raise NotFoundException()
    return notice


def _filters(unconfirmed: str, han: str, channel: str, state: str = "") -> dict[str, Any]:
    han_id = optional_int(han, "班")  # ASCII digits or nothing (400)
    if unconfirmed in ("1", "on", "true"):  # the old checkbox's links keep working
        state = "unconfirmed"
    return {
        "state": state if state in readers.STATES else None,
        "han_id": han_id,
        "channel": channel if channel in CHANNELS else None,
    }


@get("/notices/{notice_id:int}/receipts", name="notice_receipts", dependencies={"access": require(Permission.RECEIPTS_VIEW)})
async def receipts_page(
    request: Request,
    tenant: NamedDependency[Tenant],
    principal: NamedDependency[Principal],
    access: NamedDependency[Access],
    notice_id: FromPath[int],
    unconfirmed: FromQuery[str] = "",
    han: FromQuery[str] = "",
    channel: FromQuery[str] = "",
    show: FromQuery[str] = "",  # the 「状態」 filter (`state` is a name Litestar keeps for itself)
    fragment: FromQuery[str] = "",
    reminded: FromQuery[str] = "",
    too_soon: FromQuery[str] = "",
    not_yet: FromQuery[str] = "",
    failed: FromQuery[str] = "",
    next: FromQuery[str] = "",
) -> Template:
    notice = await _notice_or_404(tenant, principal, notice_id)
    summary = await readers.summarize(tenant, access, notice_id)
    base = f"/a/{tenant.slug}/notices/{notice_id}/receipts"
    if fragment == "progress":
        return Template("delivery/_receipts_progress.html", context={"summary": summary, "base": base})
    filters = _filters(unconfirmed, han, channel, show)
    rows = await readers.households(tenant, access, notice_id, **filters)
    hans = await tenant.select(Han, Han.id, Han.name).order_by(Han.position)
    hans = [h for h in hans if access.covers_han(h["id"])]
    return Template(
        "delivery/receipts.html",
        context={
            "tenant": tenant,
            "notice": notice,
            "summary": summary,
            "rows": rows,
            "hans": hans,
            "filters": filters,
            "base": base,
            "channel_labels": readlink.CHANNEL_LABELS,
            "status_labels": readers.STATUS_LABELS,
            "states": readers.STATES,
            "can_tick": principal.can(Permission.RECEIPTS_TICK, tenant.id),
            "can_print": principal.can(Permission.PRINT_SHEETS, tenant.id),
            "reminded": reminders.from_query(reminded[:40], too_soon[:9], not_yet[:9], failed[:9], next[:12]),
            "local_text": reminders.local_text,
            "min_hours": get_settings().reminder_min_hours,
        },
    )


@post(
    "/notices/{notice_id:int}/receipts/{household_id:int}/tick",
    name="receipt_tick",
    status_code=200,
    dependencies={"access": require(Permission.RECEIPTS_TICK)},
)
async def tick_receipt(
    request: Request,
    tenant: NamedDependency[Tenant],
    principal: NamedDependency[Principal],
    access: NamedDependency[Access],
    notice_id: FromPath[int],
    household_id: FromPath[int],
) -> Template | Redirect:
    await _notice_or_404(tenant, principal, notice_id)
    row = await readers.tick(tenant, access, notice_id, household_id)
    if row is None:
        raise NotFoundException()
    if is_htmx(request):
        return Template(
            "delivery/_receipt_row.html",
            context={"row": row, "can_tick": True, "base": f"/a/{tenant.slug}/notices/{notice_id}/receipts"},
        )
    return Redirect(path=f"/a/{tenant.slug}/notices/{notice_id}/receipts", status_code=303)


@post(
    "/notices/{notice_id:int}/receipts/resend",
    name="receipts_resend",
    status_code=200,
    dependencies={"access": require(Permission.RECEIPTS_TICK)},
)
async def resend(
    request: Request,
    tenant: NamedDependency[Tenant],
    principal: NamedDependency[Principal],
    access: NamedDependency[Access],
    notice_id: FromPath[int],
) -> Template | Redirect:
    await _notice_or_404(tenant, principal, notice_id)
    result = await reminders.remind(tenant, access, notice_id)
    if is_htmx(request):
        return Template("delivery/_resend_result.html", context={
            "reminded": result, "local_text": reminders.local_text, "tenant": tenant, "notice_id": notice_id,
            "can_print": principal.can(Permission.PRINT_SHEETS, tenant.id),
        })
    return Redirect(
        path=f"/a/{tenant.slug}/notices/{notice_id}/receipts",
        query_params=reminders.to_query(result),
        status_code=303,
    )


@get("/notices/{notice_id:int}/receipts.csv", name="receipts_csv", dependencies={"access": require(Permission.RECEIPTS_VIEW)})
async def receipts_csv(
    tenant: NamedDependency[Tenant],
    principal: NamedDependency[Principal],
    access: NamedDependency[Access],
    notice_id: FromPath[int],
) -> Response:
    await _notice_or_404(tenant, principal, notice_id)
    rows = await readers.households(tenant, access, notice_id, limit=1_000_000)
    zone = zone_of(tenant)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["世帯", "班", "届け方", "状態", "送った日時", "開いた日時", "確認した日時", "確認の方法", "届かなかった理由"])
    for row in rows:
        writer.writerow([
            _csv_safe(row["name"]), _csv_safe(row["han"]), row["channel_label"], row["status_label"],
            _when(row["sent_at"], zone), _when(row["opened_at"], zone), _when(row["confirmed_at"], zone),
            row["confirmed_via_label"], _csv_safe(row["last_error"]),
        ])
    # A BOM so that Excel on Windows opens Japanese text correctly.
    return Response(
        "\ufeff" + buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="receipts-{notice_id}.csv"'},
    )


def _csv_safe(value: str | None) -> str:
    # Spreadsheet programs run cells that start with these as formulas.
    value = value or ""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def _when(value: datetime | None, zone: Any = None) -> str:
    """Local time (CHONAIKAI_TIME_ZONE or the city's), as spreadsheet programs read it."""
    return to_local(value, zone).strftime("%Y-%m-%d %H:%M") if value else ""


# -- JSON ----------------------------------------------------------------------------------


async def receipts_json(tenant: Tenant, principal: Principal, notice_id: int, access: Access | None = None) -> dict[str, Any]:
    access = access or authorize(principal, tenant, Permission.RECEIPTS_VIEW)
    await _notice_or_404(tenant, principal, notice_id)
    summary = await readers.summarize(tenant, access, notice_id)
    rows = await readers.households(tenant, access, notice_id, limit=1_000_000)
    return {
        "notice_id": notice_id,
        "totals": {
            "households": summary.total,
            "confirmed": summary.confirmed,
            "by_status": summary.by_status,
            "by_channel": {name: counts["total"] for name, counts in summary.by_channel.items()},
            "confirmed_by_channel": {name: counts["confirmed"] for name, counts in summary.by_channel.items()},
            "by_han": [
                {"han_id": h["han_id"], "han": h["name"], "households": h["total"], "confirmed": h["confirmed"]}
                for h in summary.by_han
            ],
        },
        "households": [
            {
                "household_id": row["household"],
                "han": row["han"],
                "channel": row["channel"],
                "status": row["status"],
                "attempts": row["attempts"],
                "last_error": row["last_error"],
                "sent_at": _iso(row["sent_at"]),
                "opened_at": _iso(row["opened_at"]),
                "confirmed_at": _iso(row["confirmed_at"]),
                "confirmed_via": row["confirmed_via"] or None,
            }
            for row in rows
        ],
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@get(
    "/notices/{notice_id:int}/receipts.json",
    name="notice_receipts_json",
    dependencies={"access": require(Permission.RECEIPTS_VIEW)},
)
async def receipts_json_page(
    tenant: NamedDependency[Tenant],
    principal: NamedDependency[Principal],
    access: NamedDependency[Access],
    notice_id: FromPath[int],
) -> dict[str, Any]:
    """The same JSON for a signed-in browser (sessions are not used under /api/)."""
    return await receipts_json(tenant, principal, notice_id, access)


@get("/notices/{notice_id:int}/receipts", name="api_notice_receipts", dependencies={"access": require(Permission.RECEIPTS_VIEW)})
async def api_receipts(
    tenant: NamedDependency[Tenant],
    principal: NamedDependency[Principal],
    access: NamedDependency[Access],
    notice_id: FromPath[int],
) -> dict[str, Any]:
    return await receipts_json(tenant, principal, notice_id, access)


@get("/api/v1/notices/{notice_id:int}/receipts", name="api_receipts_by_notice")
async def api_receipts_by_notice(principal: NamedDependency[Principal], notice_id: FromPath[int]) -> dict[str, Any]:
    from chonaikai.tenancy.tables import Association

    if not principal.is_authenticated:  # strangers learn nothing, not even which ids exist
        raise NotAuthorizedException("ログインしてください")
    association_id = await content.source().association_of(notice_id)
    if association_id is None:
        raise NotFoundException()
    association = await Association.select(Association.slug).where(Association.id == association_id).first()
    tenant = await logic.find_tenant(association["slug"]) if association else None
    if tenant is None:
        raise NotFoundException()
    return await receipts_json(tenant, principal, notice_id)


read_router = Router(
    path="/", route_handlers=[read_page, read_confirm, read_file, unsubscribe_page, unsubscribe, api_receipts_by_notice]
)
receipts_router = Router(
    path="/",
    route_handlers=[receipts_page, tick_receipt, resend, receipts_csv, receipts_json_page],
)
api_router = Router(
    path="/",
    route_handlers=[api_receipts],
)
ROUTERS = [read_router]
