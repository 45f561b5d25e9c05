"""The paper 回覧板: which 班 a notice's sheet goes to, who is on each sheet, and the sheet's HTML.

The sheet itself is a non-web rendering of a notice, so its template lives in ``notices/print/``
and is rendered by its own Jinja environment (the web engine's globals and CSRF do not belong on
paper); the same HTML feeds the browser's print dialog and the PDF.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import segno
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from chonaikai.clock import to_local
from chonaikai.delivery.tables import Delivery
from chonaikai.line.tables import LineLink
from chonaikai.notices.questions import load_question
from chonaikai.notices.render import render_html
from chonaikai.notices.tables import Attachment, Notice, NoticeHan
from chonaikai.params import ascii_int
from chonaikai.roster.tables import Han, Household
from chonaikai.settings import PROJECT_ROOT, get_settings
from chonaikai.tenancy.scope import Tenant

SHEET_TEMPLATES_DIR = PROJECT_ROOT / "notices" / "print"
JST = ZoneInfo("Asia/Tokyo")
NO_HAN = "none"  # ?han=none: households not in any 班
ALL_HAN = "all"  # ?han=all: every 班 the reader may print, one page (or more) each
PAPER = "paper"


class SheetRequestError(ValueError):
    """A ?han= value that names nothing printable; the message is shown to the officer."""


@dataclass
class HanGroup:
    """One 班 as the index lists it (``id`` None: households without a 班)."""

    id: int | None
    name: str
    households: int = 0
    paper_households: int = 0

    @property
    def key(self) -> str:
        return NO_HAN if self.id is None else str(self.id)


@dataclass
class SheetRow:
    household_id: int
    name: str
    address: str
    paper: bool
    confirmed_at: datetime | None = None
    confirmed_via: str = ""
    delivery_status: str | None = None


@dataclass
class Sheet:
    han: HanGroup
    rows: list[SheetRow] = field(default_factory=list)


# --- loading -----------------------------------------------------------------------------------


async def load_notice(tenant: Tenant, notice_id: int) -> dict[str, Any] | None:
    notice = await tenant.select(Notice).where(Notice.id == notice_id).first()
    if notice is not None and tenant.row.get("show_poster_name") is False:
        notice["author_title"] = ""  # the officers chose not to sign notices (homepage settings)
    return notice


async def load_attachments(tenant: Tenant, notice_id: int) -> list[dict[str, Any]]:
    return await (
        tenant.select(Attachment, Attachment.filename, Attachment.content_type, Attachment.size_bytes)
        .where(Attachment.notice == notice_id)
        .order_by(Attachment.position)
        .order_by(Attachment.id)
    )


async def audience_han_ids(tenant: Tenant, notice: dict[str, Any]) -> set[int] | None:
    """The 班 a notice goes to: None for every 班, an empty set for officers-only notices."""
    if notice["audience"] == "officers":
        return set()
    if notice["audience"] == "han":
        rows = await tenant.select(NoticeHan, NoticeHan.han).where(NoticeHan.notice == notice["id"])
        return {row["han"] for row in rows}
    return None


async def han_groups(
    tenant: Tenant, notice: dict[str, Any], allowed_han_ids: frozenset[int] | None
) -> list[HanGroup]:
    """The 班 whose sheets this reader may print for this notice, with household counts.

    ``allowed_han_ids`` None means the whole association (then households without a 班 get a
    group of their own, so nobody is left off paper).
    """
    audience = await audience_han_ids(tenant, notice)
    if audience is not None and not audience:
        return []
    hans = await tenant.select(Han, Han.id, Han.name).order_by(Han.position).order_by(Han.id)
    groups = {
        row["id"]: HanGroup(row["id"], row["name"])
        for row in hans
        if (audience is None or row["id"] in audience)
        and (allowed_han_ids is None or row["id"] in allowed_han_ids)
    }
    no_han = HanGroup(None, "班なし") if allowed_han_ids is None and audience is None else None
    delivery_channels = await _delivery_channels(tenant, notice["id"])
    line_linked = await _line_linked_household_ids(tenant)
    households = await tenant.select(
        Household, Household.id, Household.han, Household.channel, Household.email
    ).where(
        Household.moved_out == False  # noqa: E712 (a piccolo expression, not a Python comparison)
    )
    for row in households:
        group = groups.get(row["han"]) if row["han"] is not None else no_han
        if group is None:
            continue
        group.households += 1
        if _on_paper(row, delivery_channels.get(row["id"]), line_linked):
            group.paper_households += 1
    result = list(groups.values())
    if no_han is not None and no_han.households:
        result.append(no_han)
    return result


async def _delivery_channels(tenant: Tenant, notice_id: int) -> dict[int, str]:
    """Household id → the channel its delivery of this notice was given (a LINE or e-mail
    household may have fallen back to paper)."""
    rows = await tenant.select(Delivery, Delivery.household, Delivery.channel).where(Delivery.notice == notice_id)
    return {row["household"]: row["channel"] for row in rows}


async def _line_linked_household_ids(tenant: Tenant) -> set[int]:
    rows = await tenant.select(LineLink, LineLink.household).where(LineLink.active == True)  # noqa: E712
    return {row["household"] for row in rows}


def _on_paper(household: dict[str, Any], delivery_channel: str | None, line_linked: set[int]) -> bool:
    """Whether this notice reaches the household on paper: its own choice, the channel its
    delivery was given, or, before a delivery exists, the outbox's fallback (an e-mail household
    without an address, a LINE household not linked yet)."""
    if household["channel"] == PAPER:
        return True
    if delivery_channel is not None:
        return delivery_channel == PAPER
    if household["channel"] == "email":
        local, _, domain = (household["email"] or "").partition("@")
        return not (local and domain)
    if household["channel"] == "line":
        return household["id"] not in line_linked
    return True


def pick_groups(groups: list[HanGroup], han: str) -> list[HanGroup]:
    """The groups named by ``?han=`` among those the reader may print (the caller has already
    refused a 班 outside the reader's reach); SheetRequestError when it names none of them."""
    if han == ALL_HAN:
        return groups
    for group in groups:
        if group.key == han:
            return [group]
    raise SheetRequestError("その班の回覧板はありません。一覧から班を選んでください。")


def parse_han(han: str) -> str:
    han = (han or "").strip()
    if han in (ALL_HAN, NO_HAN) or ascii_int(han) is not None:
        return han
    raise SheetRequestError("班の指定が正しくありません。一覧から班を選んでください。")


async def build_sheets(
    tenant: Tenant, notice: dict[str, Any], groups: list[HanGroup], paper_only: bool
) -> list[Sheet]:
    """One sheet per group: that 班's households still living there, paper ones marked."""
    if not groups:
        return []
    han_ids = [g.id for g in groups if g.id is not None]
    where = Household.moved_out == False  # noqa: E712
    wants_no_han = any(g.id is None for g in groups)
    han_clause = Household.han.is_in(han_ids) if han_ids else None
    if wants_no_han:
        han_clause = Household.han.is_null() if han_clause is None else (han_clause | Household.han.is_null())
    households = await (
        tenant.select(
            Household, Household.id, Household.han, Household.name, Household.kana, Household.address,
            Household.channel, Household.email,
        )
        .where(where & han_clause)
        .order_by(Household.kana)
        .order_by(Household.name)
        .order_by(Household.id)
    )
    deliveries = {
        row["household"]: row
        for row in await tenant.select(
            Delivery,
            Delivery.household,
            Delivery.channel,
            Delivery.status,
            Delivery.confirmed_at,
            Delivery.confirmed_via,
        ).where(Delivery.notice == notice["id"])
    }
    line_linked = await _line_linked_household_ids(tenant)
    sheets = {g.id: Sheet(g) for g in groups}
    for row in households:
        delivery = deliveries.get(row["id"])
        paper = _on_paper(row, delivery["channel"] if delivery else None, line_linked)
        if paper_only and not paper:
            continue
        sheets[row["han"]].rows.append(
            SheetRow(
                household_id=row["id"],
                name=row["name"],
                address=row["address"],
                paper=paper,
                confirmed_at=delivery["confirmed_at"] if delivery else None,
                confirmed_via=delivery["confirmed_via"] if delivery else "",
                delivery_status=delivery["status"] if delivery else None,
            )
        )
    result = list(sheets.values())
    if paper_only:
        # Only what is needed: a 班 with nobody on paper gets no page at all.
        result = [sheet for sheet in result if sheet.rows]
    return result


# --- rendering ---------------------------------------------------------------------------------


def notice_url(tenant: Tenant, notice_id: int) -> str:
    return f"{get_settings().base_url.rstrip('/')}/a/{tenant.slug}/notices/{notice_id}"


def qr_svg(url: str) -> Markup:
    """An inline SVG QR code (no image request, works in the PDF and under our CSP)."""
    # Error level M survives a smudged photocopy; border 2 keeps it compact beside the title.
    code = segno.make(url, error="m")
    return Markup(code.svg_inline(scale=3, border=2, title="このお知らせのページ", dark="#000"))


def render_body(body: str) -> Markup:
    """The notice body as the board shows it: the board's Markdown renderer, sanitised (no images
    from other sites, no scripts), so paper and screen say the same thing."""
    return render_html(body)


def japanese_date(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is not None:
        value = to_local(value)
    return f"{value.year}年{value.month}月{value.day}日"


def file_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f}MB"
    return f"{max(1, round(size / 1024))}KB"


@lru_cache(maxsize=1)
def sheet_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(SHEET_TEMPLATES_DIR)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["japanese_date"] = japanese_date
    env.filters["file_size"] = file_size
    return env


def sheet_context(
    tenant: Tenant,
    notice: dict[str, Any],
    attachments: list[dict[str, Any]],
    sheets: list[Sheet],
    paper_only: bool,
) -> dict[str, Any]:
    url = notice_url(tenant, notice["id"])
    question = load_question(notice.get("question"), notice.get("answer_deadline"))
    return {
        "question": None if question.is_confirm else question,  # a column per choice to circle
        "association": tenant.row,
        "notice": notice,
        "body_html": render_body(notice["body"]),
        "attachments": attachments,
        "sheets": sheets,
        "paper_only": paper_only,
        "url": url,
        "qr": qr_svg(url),
    }


def render_sheets_html(context: dict[str, Any]) -> Markup:
    """The sheets alone (``<section class="sheet">`` per 班), for the web print page."""
    return Markup(sheet_environment().get_template("sheets.html").render(context))


def render_document_html(context: dict[str, Any], font_url: str) -> str:
    """A whole HTML document of the sheets, for the PDF."""
    return sheet_environment().get_template("document.html").render({**context, "font_url": font_url})
