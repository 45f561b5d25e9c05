"""Pages of the paper 回覧板: the list of 班, one 班's sheet (HTML and PDF), 「印刷しました」, and
the page where 確認 ticks from a returned sheet are entered."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, Router, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import FromPath, FromQuery, Parameter
from litestar.response import Redirect, Template

from chonaikai.accounts.permissions import require
from chonaikai.accounts.principal import Access, Principal
from chonaikai.accounts.roles import Permission
from chonaikai.clock import zone_of
from chonaikai.params import ascii_int
from chonaikai.printing import pdf, receipts, sheets
from chonaikai.printing.sheets import ALL_HAN, NO_HAN, HanGroup, SheetRequestError
from chonaikai.tenancy.scope import Tenant
from chonaikai.web import is_htmx


def _check_han_access(access: Access, han: str) -> None:
    """A 班長 asking for another 班 (or for every 班 of the association) is refused, not narrowed."""
    if han == NO_HAN and not access.whole_association:
        raise PermissionDeniedException("この班の回覧板を扱う権限がありません")
    if ascii_int(han) is not None and not access.covers_han(ascii_int(han)):
        raise PermissionDeniedException("この班の回覧板を扱う権限がありません")


def _household_id(value: object) -> int:
    household_id = ascii_int(value)
    if household_id is None:
        raise ValueError("not a household id")  # answered 400 with the form again
    return household_id


async def _notice_or_404(tenant: Tenant, principal: Principal, notice_id: int) -> dict[str, Any]:
    notice = await sheets.load_notice(tenant, notice_id)
    if notice is None:
        raise NotFoundException()
    # A draft or scheduled notice exists only for those who may post (as on the notice page).
    if notice["status"] not in ("published", "archived") and not principal.can(Permission.NOTICE_POST, tenant.id):
        raise NotFoundException()
    return notice


def _print_url(tenant: Tenant, notice_id: int, suffix: str = "", **query: Any) -> str:
    params = {
        key: (1 if value is True else value)
        for key, value in query.items()
        if value is not None and value is not False and value != ""
    }
    url = f"/a/{tenant.slug}/notices/{notice_id}/print{suffix}"
    return f"{url}?{urlencode(params)}" if params else url


async def _sheets_for(
    tenant: Tenant, access: Access, notice: dict[str, Any], han: str, paper_only: bool
) -> tuple[list[HanGroup], list[sheets.Sheet]]:
    han = sheets.parse_han(han)
    _check_han_access(access, han)
    groups = await sheets.han_groups(tenant, notice, access.han_ids)
    chosen = sheets.pick_groups(groups, han)
    return groups, await sheets.build_sheets(tenant, notice, chosen, paper_only)


def _bad_request(tenant: Tenant, notice: dict[str, Any], message: str) -> Template:
    return Template(
        "print/message.html",
        context={"tenant": tenant, "association": tenant.row, "notice": notice, "message": message,
                 "back": _print_url(tenant, notice["id"])},
        status_code=400,
    )


@get("/{notice_id:int}/print", name="print_sheets", dependencies={"access": require(Permission.PRINT_SHEETS)})
async def print_page(
    tenant: NamedDependency[Tenant],
    principal: NamedDependency[Principal], access: NamedDependency[Access],
    notice_id: FromPath[int],
    han: str | None = Parameter(default=None, max_length=20),
    paper: FromQuery[bool] = False,
    printed: int | None = Parameter(default=None, ge=0),
) -> Template:
    """Without ?han=: the list of 班 with counts. With it: that 班's sheet, ready to print."""
    notice = await _notice_or_404(tenant, principal, notice_id)
    if han is None:
        groups = await sheets.han_groups(tenant, notice, access.han_ids)
        return Template(
            "print/index.html",
            context={
                "tenant": tenant,
                "association": tenant.row,
                "notice": notice,
                "groups": groups,
                "officers_only": notice["audience"] == "officers",
                "total_households": sum(g.households for g in groups),
                "total_paper": sum(g.paper_households for g in groups),
                "can_tick": principal.can(Permission.RECEIPTS_TICK, tenant.id),
                "url": lambda suffix="", **q: _print_url(tenant, notice_id, suffix, **q),
            },
        )
    try:
        groups, chosen = await _sheets_for(tenant, access, notice, han, paper)
    except SheetRequestError as exc:
        return _bad_request(tenant, notice, str(exc))
    attachments = await sheets.load_attachments(tenant, notice_id)
    context = sheets.sheet_context(tenant, notice, attachments, chosen, paper)
    paper_rows = sum(1 for sheet in chosen for row in sheet.rows if row.paper)
    return Template(
        "print/page.html",
        context={
            "tenant": tenant,
            "association": tenant.row,
            "notice": notice,
            "han": han,
            "paper_only": paper,
            "sheets": chosen,
            "sheets_html": sheets.render_sheets_html(context),
            "paper_rows": paper_rows,
            "published": notice["status"] == "published",
            "printed": printed,
            "can_tick": principal.can(Permission.RECEIPTS_TICK, tenant.id) and han != ALL_HAN,
            "url": lambda suffix="", **q: _print_url(tenant, notice_id, suffix, **q),
        },
    )


@get("/{notice_id:int}/print.pdf", name="print_sheets_pdf", dependencies={"access": require(Permission.PRINT_SHEETS)})
async def print_pdf(
    tenant: NamedDependency[Tenant],
    principal: NamedDependency[Principal], access: NamedDependency[Access],
    notice_id: FromPath[int],
    han: str = Parameter(default=ALL_HAN, max_length=20),
    paper: FromQuery[bool] = False,
) -> Response | Template:
    notice = await _notice_or_404(tenant, principal, notice_id)
    try:
        _, chosen = await _sheets_for(tenant, access, notice, han, paper)
    except SheetRequestError as exc:
        return _bad_request(tenant, notice, str(exc))
    attachments = await sheets.load_attachments(tenant, notice_id)
    context = sheets.sheet_context(tenant, notice, attachments, chosen, paper)
    try:
        font = pdf.font_or_raise()
        document = sheets.render_document_html(
            {**context, "font_family": pdf.font_family(font)}, font_url=font.as_uri()
        )
        body = await pdf.render_pdf(document, font)
    except pdf.PdfUnavailable as exc:
        return Template(
            "print/message.html",
            context={"tenant": tenant, "association": tenant.row, "notice": notice, "message": str(exc),
                     "back": _print_url(tenant, notice_id, han=han, paper=paper)},
            status_code=503,
        )
    filename = f"kairanban-{notice_id}-{han}{'-paper' if paper else ''}.pdf"
    return Response(
        body,
        media_type="application/pdf",
        headers={
            "content-disposition": f'inline; filename="{filename}"',
            "cache-control": "private, no-store",  # households' names are on it
        },
    )


@post("/{notice_id:int}/print/printed", name="print_sheets_printed", status_code=303, dependencies={"access": require(Permission.PRINT_SHEETS)})
async def mark_printed(
    request: Request,
    tenant: NamedDependency[Tenant],
    principal: NamedDependency[Principal], access: NamedDependency[Access],
    notice_id: FromPath[int],
) -> Response | Template:
    """「印刷しました」: the sheet's paper households now have their copy (a POST, never a GET,
    so a preview or a link checker marks nothing)."""
    notice = await _notice_or_404(tenant, principal, notice_id)
    form = await request.form()
    han = str(form.get("han", ""))
    paper = form.get("paper") in ("1", "true", "on")
    try:
        _check_han_access(access, sheets.parse_han(han))
        await receipts.ensure_deliveries(notice)
        _, chosen = await _sheets_for(tenant, access, notice, han, paper)
    except SheetRequestError as exc:
        return _bad_request(tenant, notice, str(exc))
    household_ids = [row.household_id for sheet in chosen for row in sheet.rows if row.paper]
    count = await receipts.mark_printed(tenant, notice_id, household_ids, principal.account_id)
    if is_htmx(request):
        return Template("print/printed_fragment.html", context={"printed": count}, status_code=200)
    return Redirect(path=_print_url(tenant, notice_id, han=han, paper=paper, printed=count), status_code=303)


def _tick_context(
    tenant: Tenant, notice: dict[str, Any], han: str, chosen: list[sheets.Sheet], **extra: Any
) -> dict[str, Any]:
    sheet = chosen[0] if chosen else None
    return {
        "tenant": tenant,
        "association": tenant.row,
        "notice": notice,
        "han": han,
        "sheet": sheet,
        "today": datetime.now(zone_of(tenant)).date().isoformat(),
        "print_url": _print_url(tenant, notice["id"], han=han),
        "index_url": _print_url(tenant, notice["id"]),
        "action": _print_url(tenant, notice["id"], "/confirmations", han=han),
        "published": notice["status"] == "published",
        **extra,
    }


async def _one_sheet(tenant: Tenant, access: Access, notice: dict[str, Any], han: str) -> list[sheets.Sheet]:
    if han == ALL_HAN:
        raise SheetRequestError("確認の記録は、班ごとに行います。一覧から班を選んでください。")
    _, chosen = await _sheets_for(tenant, access, notice, han, paper_only=False)
    return chosen


@get("/{notice_id:int}/print/confirmations", name="print_confirmations", dependencies={"access": require(Permission.RECEIPTS_TICK)})
async def confirmations_page(
    tenant: NamedDependency[Tenant],
    principal: NamedDependency[Principal], access: NamedDependency[Access],
    notice_id: FromPath[int],
    han: str = Parameter(default="", max_length=20),
    saved: int | None = Parameter(default=None, ge=0),
    cleared: int | None = Parameter(default=None, ge=0),
) -> Template:
    """Ticks from a returned sheet: which households wrote their 確認."""
    notice = await _notice_or_404(tenant, principal, notice_id)
    try:
        chosen = await _one_sheet(tenant, access, notice, han)
    except SheetRequestError as exc:
        return _bad_request(tenant, notice, str(exc))
    return Template(
        "print/confirmations.html",
        context=_tick_context(tenant, notice, han, chosen, saved=saved, cleared=cleared),
    )


@post("/{notice_id:int}/print/confirmations", name="print_confirmations_save", status_code=303, dependencies={"access": require(Permission.RECEIPTS_TICK)})
async def save_confirmations(
    request: Request,
    tenant: NamedDependency[Tenant],
    principal: NamedDependency[Principal], access: NamedDependency[Access],
    notice_id: FromPath[int],
) -> Response | Template:
    notice = await _notice_or_404(tenant, principal, notice_id)
    form = await request.form()
    han = str(form.get("han", ""))
    try:
        _check_han_access(access, sheets.parse_han(han))
        await receipts.ensure_deliveries(notice)
        chosen = await _one_sheet(tenant, access, notice, han)
    except SheetRequestError as exc:
        return _bad_request(tenant, notice, str(exc))
    sheet_ids = [row.household_id for sheet in chosen for row in sheet.rows]
    try:
        ticked = [_household_id(value) for value in form.getall("confirmed")] if "confirmed" in form else []
        day_text = str(form.get("day", "")).strip()
        day = date.fromisoformat(day_text) if day_text else None
        when = receipts.confirmation_time(day, tz=zone_of(tenant))
        saved, cleared = await receipts.apply_paper_ticks(
            tenant, notice_id, sheet_ids, ticked, when, principal.account_id
        )
    except (ValueError, SheetRequestError) as exc:
        message = str(exc) if isinstance(exc, SheetRequestError) else "入力が正しくありません。もう一度選んでください。"
        return Template(
            "print/confirmations.html",
            context=_tick_context(tenant, notice, han, chosen, error=message),
            status_code=400,
        )
    return Redirect(
        path=_print_url(tenant, notice_id, "/confirmations", han=han, saved=saved, cleared=cleared),
        status_code=303,
    )


router = Router(
    path="/notices",
    route_handlers=[print_page, print_pdf, mark_printed, confirmations_page, save_confirmations],
)
