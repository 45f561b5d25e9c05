"""Pages of the paper 回覧板: the list of 班, one 班's sheet (HTML and PDF), 「印刷しました」, and
the page where 確認 ticks from a returned sheet are entered."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Any
from urllib.parse import quote, urlencode

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
    tenant: Tenant, access: Access, notice: dict[str, Any], han: str, paper_only: bool, unconfirmed: bool = False
) -> tuple[list[HanGroup], list[sheets.Sheet]]:
    han = sheets.parse_han(han)
    _check_han_access(access, han)
    groups = await sheets.han_groups(tenant, notice, access.han_ids)
    chosen = sheets.pick_groups(groups, han)
    return groups, await sheets.build_sheets(tenant, notice, chosen, paper_only, unconfirmed)


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
    qr: FromQuery[bool] = False,
    unconfirmed: FromQuery[bool] = False,
) -> Template:
    """Without ?han=: the list of 班 with counts. With it: that 班's sheet, ready to print.
    ``?qr=1``: each household row carries its own small QR code (its read link);
    ``?unconfirmed=1``: only households that have not confirmed yet (with ``paper=1``: the
    reminder's reprint list for paper households)."""
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
        groups, chosen = await _sheets_for(tenant, access, notice, han, paper, unconfirmed)
    except SheetRequestError as exc:
        return _bad_request(tenant, notice, str(exc))
    attachments = sheets.paper_attachments(await sheets.load_attachments(tenant, notice_id))
    # On screen the images come from the officer's own attachment route (same origin, signed in).
    context = sheets.sheet_context(
        tenant, notice, attachments, chosen, paper, row_qr=qr, unconfirmed=unconfirmed,
        image_src=lambda f: f"/a/{tenant.slug}/notices/{notice_id}/files/{f.id}",
    )
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
            "row_qr": qr,
            "unconfirmed": unconfirmed,
            "pdf_files": [f for f in attachments if f.is_pdf],
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
    qr: FromQuery[bool] = False,
    pdfs: str = Parameter(default=sheets.PDF_ATTACH_EACH, max_length=10),
    unconfirmed: FromQuery[bool] = False,
) -> Response | Template:
    """The sheets as a PDF: images printed on them, the attached PDFs' pages after each 班's sheet
    (``?pdfs=each``) or once after the last (``?pdfs=once``)."""
    notice = await _notice_or_404(tenant, principal, notice_id)
    try:
        pdf_attach = sheets.parse_pdf_attach(pdfs)
        _, chosen = await _sheets_for(tenant, access, notice, han, paper, unconfirmed)
    except SheetRequestError as exc:
        return _bad_request(tenant, notice, str(exc))
    attachments = await _load_attachment_files(tenant, notice_id)
    images = {f.id: pdf.data_url(f.data, f.content_type) for f in attachments if f.is_image and f.data}
    context = sheets.sheet_context(
        tenant, notice, attachments, chosen, paper, row_qr=qr, unconfirmed=unconfirmed, pdf_attach=pdf_attach if chosen else None,
        image_src=lambda f: images.get(f.id, ""),
    )
    context["images"] = [(f, src) for f, src in context["images"] if src]
    try:
        font = pdf.font_or_raise()
        document = sheets.render_document_html(
            {**context, "font_family": pdf.font_family(font)}, font_url=font.as_uri()
        )
        body = await pdf.render_sheets_pdf(
            document, font, images=frozenset(images.values()),
            sheet_anchors=[f"sheet-{sheet.han.key}" for sheet in chosen],
            appendix=[f.data for f in context["appended"]],
            after_each=pdf_attach == sheets.PDF_ATTACH_EACH,
        )
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


async def _load_attachment_files(tenant: Tenant, notice_id: int) -> list[sheets.PaperAttachment]:
    """The notice's attachments with their bytes, and each PDF's page count (for the PDF only)."""
    from chonaikai.notices.attachments import get_store

    files = sheets.paper_attachments(await sheets.load_attachments(tenant, notice_id))
    store = get_store()
    for f in files:
        try:
            f.data = await store.get(f.storage_key)
        except (FileNotFoundError, OSError):
            f.data = b""  # lost from the store: listed by name only
            continue
        if f.is_pdf:
            f.pages = await asyncio.to_thread(pdf.pdf_page_count, f.data)
    return files


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


# --- the sheet link: what the 回覧板's QR code opens, without signing in ---------------------------

SHEET_HEADERS = {
    # Revocable (archive, audience): never kept by a shared cache; not for search engines.
    "cache-control": "private, no-store",
    "x-robots-tag": "noindex, nofollow",
}
CLOSED_MESSAGES = {
    "archived": "このお知らせは、掲示が終わりました。",
    "not_for_han": "このお知らせは、いまはこの班にはお届けしていません。",
    "unknown": "このQRコードのページは見つかりません。",
}


def _closed(reason: str) -> Template:
    return Template(
        "print/sheet_closed.html",
        context={"message": CLOSED_MESSAGES.get(reason, CLOSED_MESSAGES["unknown"])},
        status_code=404 if reason == "unknown" else 410,
        headers=SHEET_HEADERS,
    )


@get("/{notice_id:int}/{han_key:str}/{mac:str}", name="sheet_link")
async def sheet_link_page(notice_id: FromPath[int], han_key: FromPath[str], mac: FromPath[str]) -> Template:
    """The notice in large type with its attachments, for anyone holding that 班's 回覧板."""
    try:
        tenant, notice = await sheets.open_sheet_link(notice_id, han_key[:12], mac[:64])
    except sheets.SheetLinkClosed as closed:
        return _closed(closed.reason)
    files = sheets.paper_attachments(await sheets.load_attachments(tenant, notice_id))
    here = sheets.sheet_path(notice_id, han_key)
    return Template(
        "print/sheet_notice.html",
        context={
            "association": tenant.row,
            "notice": notice,
            "body_html": sheets.render_body(notice["body"]),
            "published": sheets.japanese_date(notice["published_at"]),
            "images": [(f, f"{here}/files/{f.id}") for f in files if f.is_image],
            "files": [(f, f"{here}/files/{f.id}") for f in files if not f.is_image],
            "file_size": sheets.file_size,
        },
        headers=SHEET_HEADERS,
    )


@get("/{notice_id:int}/{han_key:str}/{mac:str}/files/{attachment_id:int}", name="sheet_link_file")
async def sheet_link_file(
    notice_id: FromPath[int], han_key: FromPath[str], mac: FromPath[str], attachment_id: FromPath[int]
) -> Response | Template:
    from chonaikai.notices.attachments import find_attachment, read_attachment

    try:
        tenant, _notice = await sheets.open_sheet_link(notice_id, han_key[:12], mac[:64])
    except sheets.SheetLinkClosed as closed:
        return _closed(closed.reason)
    row = await find_attachment(tenant, notice_id, attachment_id)
    if row is None:
        raise NotFoundException()
    try:
        data = await read_attachment(row)
    except FileNotFoundError:
        raise NotFoundException() from None
    return Response(
        content=data,
        media_type=row["content_type"],
        headers={**SHEET_HEADERS, "content-disposition": f"inline; filename*=UTF-8''{quote(row['filename'])}"},
    )


router = Router(
    path="/notices",
    route_handlers=[print_page, print_pdf, mark_printed, confirmations_page, save_confirmations],
)
sheet_link_router = Router(path=sheets.SHEET_LINK_PREFIX, route_handlers=[sheet_link_page, sheet_link_file])
