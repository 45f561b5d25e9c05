"""The notice board: posting, the draft → scheduled → published → archived states, who may read
what, the list with search and unread marks, and 「読みました」 confirmations.

Route handlers stay thin; tests call these functions directly.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from array import array
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from piccolo.columns.combination import WhereRaw
from piccolo.querystring import QueryString

from chonaikai.accounts.principal import Principal
from chonaikai.accounts.roles import ROLE_LABELS, Permission, Role
from chonaikai.accounts.signed_in_cache import signed_in_cache
from chonaikai.clock import local_date, local_datetime, zone
from chonaikai.db import fetch_rows, in_ids, is_postgres, write_transaction
from chonaikai.delivery import api as delivery
from chonaikai.kept import Batched
from chonaikai.notices import publishing, search
from chonaikai.notices.publishing import NoticeStateError, PublishRefused
from chonaikai.notices.render import normalise_query
from chonaikai.notices.tables import (
    AUDIENCES,
    DEFAULT_CATEGORIES,
    VISIBILITIES,
    Attachment,
    Notice,
    NoticeCategory,
    NoticeHan,
    NoticeRead,
)
from chonaikai.roster.tables import Han, Household
from chonaikai.tenancy.scope import Tenant
from chonaikai.tenancy.tables import Association

# Associations are in Japan; times are typed and shown in Japan time, stored in UTC.
LOCAL_TZ = ZoneInfo("Asia/Tokyo")  # the default of CHONAIKAI_TIME_ZONE (chonaikai.clock.zone())
PER_PAGE = 20
TITLE_MAX = publishing.TITLE_MAX
BODY_MAX = publishing.BODY_MAX
CATEGORY_MAX = 30
MAX_CATEGORIES = 20
log = logging.getLogger(__name__)
# Which role title signs a notice when the poster holds several.
TITLE_ORDER = (Role.CHAIR, Role.VICE_CHAIR, Role.EDITOR, Role.TREASURER, Role.HAN_LEADER)


def now_utc() -> datetime:
    return datetime.now(UTC)


def jp_date(moment: datetime | date | None, with_time: bool = False) -> str:
    """「2026年11月23日（月）」, optionally 「…14:30」, in local time (chonaikai.clock, the one clock)."""
    if with_time and isinstance(moment, datetime):
        return local_datetime(moment)
    return local_date(moment)


# --- categories ---------------------------------------------------------------------------


async def categories(tenant: Tenant) -> list[str]:
    rows = await tenant.select(NoticeCategory, NoticeCategory.name).order_by(NoticeCategory.position)
    return [row["name"] for row in rows] or list(DEFAULT_CATEGORIES)


def parse_categories(text: str) -> tuple[list[str], str | None]:
    """One category per line → (names, error message or None)."""
    names: list[str] = []
    for line in (text or "").splitlines():
        name = line.strip()
        if name and name not in names:
            names.append(name)
    if not names:
        return [], "分類をひとつ以上書いてください。"
    if len(names) > MAX_CATEGORIES:
        return [], f"分類は{MAX_CATEGORIES}個までにしてください。"
    if any(len(name) > CATEGORY_MAX for name in names):
        return [], f"分類の名前は{CATEGORY_MAX}文字までにしてください。"
    return names, None


async def set_categories(tenant: Tenant, names: list[str]) -> None:
    async with write_transaction():
        await tenant.delete(NoticeCategory)
        await NoticeCategory.insert(
            *[tenant.new(NoticeCategory, name=name, position=i) for i, name in enumerate(names)]
        )


# --- the form ----------------------------------------------------------------------------


@dataclass
class NoticeInput:
    title: str = ""
    body: str = ""
    category: str = "その他"
    audience: str = "all"
    visibility: str = "members"
    urgent: bool = False
    pinned: bool = False
    needs_confirmation: bool = False
    answer_by: date | None = None
    remind_on_deadline: bool = False  # 09:00 local on answer_by: remind those not yet confirmed
    han_ids: list[int] = field(default_factory=list)
    publish_at: datetime | None = None  # only when scheduling

    # What the form shows back (the typed text, even when it did not parse).
    answer_by_text: str = ""
    publish_at_text: str = ""


def _first(data: dict[str, Any], key: str) -> str:
    value = data.get(key, "")
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value or "")


def _all(data: dict[str, Any], key: str) -> list[str]:
    value = data.get(key, [])
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)] if value not in (None, "") else []


def _checked(data: dict[str, Any], key: str) -> bool:
    return _first(data, key) in ("1", "on", "true", "yes")


def local_datetime_text(moment: datetime | None) -> str:
    return moment.astimezone(zone()).strftime("%Y-%m-%dT%H:%M") if moment else ""


async def han_choices(tenant: Tenant) -> list[dict[str, Any]]:
    return await tenant.select(Han, Han.id, Han.name).order_by(Han.position).order_by(Han.id)


async def parse_notice_form(tenant: Tenant, data: dict[str, Any]) -> tuple[NoticeInput, dict[str, str]]:
    """The posted form as a NoticeInput and the problems found, by field, in Japanese."""
    errors: dict[str, str] = {}
    values = NoticeInput(
        title=_first(data, "title").strip(),
        body=_first(data, "body").replace("\r\n", "\n").strip(),
        category=_first(data, "category").strip(),
        audience=_first(data, "audience") or "all",
        visibility=_first(data, "visibility") or "members",
        urgent=_checked(data, "urgent"),
        pinned=_checked(data, "pinned"),
        needs_confirmation=_checked(data, "needs_confirmation"),
        remind_on_deadline=_checked(data, "remind_on_deadline"),
        answer_by_text=_first(data, "answer_by").strip(),
        publish_at_text=_first(data, "publish_at").strip(),
    )
    if not values.title:
        errors["title"] = "題名を書いてください。"
    elif len(values.title) > TITLE_MAX:
        errors["title"] = f"題名は{TITLE_MAX}文字までにしてください。"
    if len(values.body) > BODY_MAX:
        errors["body"] = f"本文は{BODY_MAX}文字までにしてください。"
    allowed_categories = await categories(tenant)
    if values.category not in allowed_categories:
        errors["category"] = "分類を一覧から選んでください。"
    if values.audience not in AUDIENCES:
        errors["audience"] = "届け先を選んでください。"
    if values.visibility not in VISIBILITIES:
        errors["visibility"] = "公開のしかたを選んでください。"
    elif values.visibility == "public" and values.audience != "all":
        errors["visibility"] = "「班を選ぶ」「役員だけ」のお知らせはホームページに公開できません。「会員だけ」を選んでください。"
    if values.audience == "han":
        known = {row["id"] for row in await han_choices(tenant)}
        try:
            chosen = sorted({int(v) for v in _all(data, "han")})
        except ValueError:
            chosen = []
        values.han_ids = [han for han in chosen if han in known]
        if not values.han_ids:
            errors["han"] = "届ける班をひとつ以上選んでください。"
    if values.answer_by_text:
        try:
            values.answer_by = date.fromisoformat(values.answer_by_text)
        except ValueError:
            errors["answer_by"] = "返事の期限は 2026-12-01 のように書いてください。"
    if values.answer_by and not values.needs_confirmation:
        values.answer_by = None  # a deadline without a question makes no sense: drop it quietly
    if not values.answer_by:
        values.remind_on_deadline = False  # no deadline, no morning-of-deadline reminder
    if values.publish_at_text:
        try:
            local = datetime.fromisoformat(values.publish_at_text)
            if not 2000 <= local.year <= 2100:
                raise ValueError("year out of range")
            values.publish_at = (local if local.tzinfo else local.replace(tzinfo=zone())).astimezone(UTC)
        except (ValueError, OverflowError):  # year 0001 in Tokyo overflows when moved to UTC
            errors["publish_at"] = "公開する日時を選び直してください（2000年から2100年までの日時にしてください）。"
    return values, errors


def form_from_ready_text(text: Any) -> NoticeInput:
    return NoticeInput(
        title=text.title,
        body=text.body,
        category=text.category,
        audience=text.audience,
        visibility=text.visibility,
        urgent=text.urgent,
        needs_confirmation=text.needs_confirmation,
    )


def form_from_notice(notice: dict[str, Any]) -> NoticeInput:
    return NoticeInput(
        title=notice["title"],
        body=notice["body"],
        category=notice["category"],
        audience=notice["audience"],
        visibility=notice["visibility"],
        urgent=notice["urgent"],
        pinned=notice["pinned"],
        needs_confirmation=notice["needs_confirmation"],
        answer_by=notice["answer_by"],
        remind_on_deadline=bool(notice.get("remind_on_deadline")),
        answer_by_text=notice["answer_by"].isoformat() if notice["answer_by"] else "",
        han_ids=list(notice.get("han_ids", [])),
        publish_at=notice["publish_at"],
        publish_at_text=local_datetime_text(notice["publish_at"]),
    )


def author_title(principal: Principal, tenant: Tenant) -> str:
    roles = principal.roles_in(tenant.id)
    for role in TITLE_ORDER:
        if role in roles:
            return ROLE_LABELS[role]
    return "役員"


def _columns(values: NoticeInput) -> dict[Any, Any]:
    return {
        Notice.title: values.title,
        Notice.body: values.body,
        Notice.category: values.category,
        Notice.audience: values.audience,
        Notice.visibility: values.visibility,
        Notice.urgent: values.urgent,
        Notice.pinned: values.pinned,
        Notice.needs_confirmation: values.needs_confirmation,
        Notice.answer_by: values.answer_by,
        Notice.remind_on_deadline: values.remind_on_deadline,
        Notice.search_text: search.search_text(values.title, values.body),
    }


async def _set_hans(tenant: Tenant, notice_id: int, values: NoticeInput) -> None:
    await tenant.delete(NoticeHan).where(NoticeHan.notice == notice_id)
    if values.audience == "han" and values.han_ids:
        await NoticeHan.insert(*[tenant.new(NoticeHan, notice=notice_id, han=h) for h in values.han_ids])


async def create_notice(
    tenant: Tenant,
    values: NoticeInput,
    *,
    author_id: int | None = None,
    author_title: str = "",
    now: datetime | None = None,
) -> int:
    """A new draft; returns its id."""
    now = now or now_utc()
    async with write_transaction():
        row = tenant.new(
            Notice,
            status="draft",
            author=author_id,
            author_title=author_title,
            created_at=now,
            updated_at=now,
        )
        for column, value in _columns(values).items():
            setattr(row, column._meta.name, value)
        await row.save()
        await _set_hans(tenant, row.id, values)
    return row.id


async def update_notice(tenant: Tenant, notice_id: int, values: NoticeInput, *, now: datetime | None = None) -> None:
    """Save changes; once published, the change is marked so readers see 「更新」."""
    now = now or now_utc()
    async with write_transaction():
        notice = await tenant.select(Notice, Notice.status).where(Notice.id == notice_id).first()
        if notice is None:
            raise NoticeStateError("このお知らせは見つかりません。")
        changes = _columns(values) | {Notice.updated_at: now}
        if notice["status"] in ("published", "archived"):
            changes[Notice.edited_at] = now
        await tenant.update(Notice, changes).where(Notice.id == notice_id)
        await _set_hans(tenant, notice_id, values)
        if notice["status"] == "published":
            # A widened audience (another 班, all households) reaches the households it now
            # includes; those that had it already get nothing twice.
            await delivery.enqueue([notice_id])


async def get_notice(tenant: Tenant, notice_id: int) -> dict[str, Any] | None:
    notice = await tenant.select(Notice).where(Notice.id == notice_id).first()
    if notice is None:
        return None
    rows = await tenant.select(NoticeHan, NoticeHan.han).where(NoticeHan.notice == notice_id)
    notice["han_ids"] = sorted(row["han"] for row in rows)
    return notice


# --- states: draft → scheduled → published → archived -------------------------------------


async def _move(tenant: Tenant, notice_id: int, from_states: tuple[str, ...], changes: dict[Any, Any]) -> bool:
    """Change the state only if the notice is still in one of ``from_states`` (safe when racing)."""
    rows = (
        await tenant.update(Notice, changes)
        .where(Notice.id == notice_id)
        .where(Notice.status.is_in(list(from_states)))
        .returning(Notice.id)
    )
    return bool(rows)


async def schedule_notice(tenant: Tenant, notice_id: int, publish_at: datetime, *, now: datetime | None = None) -> None:
    now = now or now_utc()
    if publish_at <= now + timedelta(minutes=1):
        raise NoticeStateError("予約する日時は、これから先の日時にしてください。")
    if not await _move(
        tenant, notice_id, ("draft", "scheduled"),
        {Notice.status: "scheduled", Notice.publish_at: publish_at, Notice.updated_at: now},
    ):
        raise NoticeStateError("公開済みのお知らせは予約できません。")


async def unschedule_notice(tenant: Tenant, notice_id: int, *, now: datetime | None = None) -> None:
    if not await _move(
        tenant, notice_id, ("scheduled",),
        {Notice.status: "draft", Notice.publish_at: None, Notice.updated_at: now or now_utc()},
    ):
        raise NoticeStateError("予約されていないお知らせです。")


async def publish_notice(
    tenant: Tenant, notice_id: int, *, now: datetime | None = None, priority: int | None = None
) -> bool:
    """Publish a draft or scheduled notice through the publishing service (its rules, then its
    deliveries). Returns False if it was already published; ``PublishRefused`` if a rule says no.
    ``priority``: of its deliveries (default: urgent notices first; a 安否確認 passes its own)."""
    return await publishing.publish_notice(tenant, notice_id, now=now or now_utc(), priority=priority)


async def archive_notice(tenant: Tenant, notice_id: int, *, now: datetime | None = None) -> None:
    if not await _move(
        tenant, notice_id, ("published",), {Notice.status: "archived", Notice.updated_at: now or now_utc()}
    ):
        raise NoticeStateError("公開中のお知らせだけを片付けられます。")


async def unarchive_notice(tenant: Tenant, notice_id: int, *, now: datetime | None = None) -> None:
    if not await _move(
        tenant, notice_id, ("archived",), {Notice.status: "published", Notice.updated_at: now or now_utc()}
    ):
        raise NoticeStateError("片付けたお知らせではありません。")


async def delete_draft(tenant: Tenant, notice_id: int) -> bool:
    from chonaikai.notices.attachments import get_store

    # The rows go by cascade, the files do not: note their keys before the rows are gone.
    async with write_transaction():
        keys = [row["storage_key"] for row in await tenant.select(Attachment, Attachment.storage_key).where(
            Attachment.notice == notice_id
        )]
        rows = (
            await tenant.delete(Notice)
            .where(Notice.id == notice_id)
            .where(Notice.status.is_in(["draft", "scheduled"]))
            .returning(Notice.id)
        )
    if rows:
        store = get_store()
        for key in keys:
            await store.delete(key)
    return bool(rows)


async def publish_due_notices(now: datetime | None = None) -> list[int]:
    """Publish every scheduled notice whose time has come, in every association (the worker's job).

    Each notice is published (with its deliveries) by ``publish_notice``, which moves it only if
    it is still scheduled: two workers never publish one twice.
    """
    now = now or now_utc()
    due = (
        await Notice.select(Notice.id, Notice.association)
        .where(Notice.status == "scheduled")
        .where(Notice.publish_at <= now)
        .order_by(Notice.publish_at)
    )
    published: list[int] = []
    tenants: dict[int, Tenant] = {}
    for row in due:
        tenant = tenants.get(row["association"])
        if tenant is None:
            association = (
                await Association.select().where(Association.id == row["association"]).first().output(load_json=True)
            )
            tenant = tenants[row["association"]] = Tenant.from_row(association)
        try:
            if await publish_notice(tenant, row["id"], now=now):
                published.append(row["id"])
        except PublishRefused as refused:  # stays scheduled; officers see it on the board
            log.warning("scheduled notice %s not published: %s", row["id"], refused)
    return published


# --- who may read what ---------------------------------------------------------------------


@dataclass(frozen=True)
class Viewer:
    """Who is reading this association's board, resolved once per request."""

    authenticated: bool = False
    account_id: int | None = None
    member: bool = False  # any role in this association
    officer: bool = False
    poster: bool = False
    household_id: int | None = None
    han_id: int | None = None
    receipts: bool = False  # may see who has read a notice
    printing: bool = False  # may print the paper 回覧板
    settings: bool = False  # may change the categories

    @property
    def reader_known(self) -> bool:
        return self.household_id is not None or self.account_id is not None


ANONYMOUS_VIEWER = Viewer()


async def load_viewer(principal: Principal, tenant: Tenant) -> Viewer:
    """Kept per process like the principal it comes from (accounts/signed_in_cache.py): a
    household moved to another 班 sees that 班's notices at once through this process, within
    about a second through another."""
    if not principal.is_authenticated:
        return ANONYMOUS_VIEWER
    key = ("viewer", principal, tenant.id)
    viewer = signed_in_cache.get(key)
    if viewer is None:
        generation = signed_in_cache.generation
        viewer = await _load_viewer(principal, tenant)
        signed_in_cache.keep_watched(key, viewer, generation)
    return viewer


async def _load_viewer(principal: Principal, tenant: Tenant) -> Viewer:
    household_id = principal.household_in(tenant.id)
    han_id = None
    if household_id is not None:
        hans = dict(principal.household_hans)
        if household_id in hans:  # loaded with the principal
            han_id = hans[household_id]
        else:
            row = await tenant.select(Household, Household.han).where(Household.id == household_id).first()
            han_id = row["han"] if row else None
    return Viewer(
        authenticated=True,
        account_id=principal.account_id,
        member=principal.can(Permission.NOTICE_READ_MEMBERS, tenant.id),
        officer=principal.can(Permission.NOTICE_READ_OFFICERS, tenant.id),
        poster=principal.can(Permission.NOTICE_POST, tenant.id),
        household_id=household_id,
        han_id=han_id,
        receipts=principal.can(Permission.RECEIPTS_VIEW, tenant.id),
        printing=principal.can(Permission.PRINT_SHEETS, tenant.id),
        settings=principal.can(Permission.SETTINGS_EDIT, tenant.id),
    )


def access_to(viewer: Viewer, notice: dict[str, Any]) -> str:
    """"ok", "signin" (a stranger: sign in first), "forbidden" (signed in, not for them) or "hidden"."""
    if notice["status"] not in ("published", "archived"):
        if viewer.poster:
            return "ok"
        return "hidden"
    if notice["audience"] == "officers":
        if viewer.officer:
            return "ok"
        return "forbidden" if viewer.authenticated else "signin"
    if viewer.officer:
        return "ok"
    if notice["visibility"] == "public" and notice["audience"] == "all":
        return "ok"
    if not viewer.member:
        return "forbidden" if viewer.authenticated else "signin"
    if notice["audience"] == "han" and viewer.han_id not in notice.get("han_ids", []):
        return "forbidden"
    return "ok"


def sight_of(viewer: Viewer) -> Viewer:
    """What decides which notices ``viewer`` may read (``_visible``) and nothing else of them:
    readers with the same sight get the same search results."""
    officer = viewer.officer
    member = viewer.member and not officer
    return Viewer(authenticated=viewer.authenticated, member=viewer.member, officer=officer,
                  han_id=viewer.han_id if member else None)


async def _visible(tenant: Tenant, viewer: Viewer, query: Any) -> Any:
    """Narrow a query on Notice to what ``viewer`` may read (the same rules as ``access_to``)."""
    if viewer.officer:
        return query
    if not viewer.member:
        return query.where(Notice.visibility == "public").where(Notice.audience == "all")
    if viewer.han_id is not None:
        # A sub-select, so a 班 with years of notices does not become a long IN list.
        for_my_han = tenant.select(NoticeHan, NoticeHan.notice).where(NoticeHan.han == viewer.han_id)
        return query.where((Notice.audience == "all") | ((Notice.audience == "han") & Notice.id.is_in(for_my_han)))
    return query.where(Notice.audience == "all")


def _search(query: Any, words: list[str]) -> Any:
    # Japanese has no spaces between words: each word must appear as a substring of the folded
    # text or its kana reading, found through the text index (notices/search.py).
    for word in words:
        clause, args = search.word_clause(word)
        query = query.where(WhereRaw(clause, *args))
    return query


@dataclass
class NoticeCard:
    """One line of the board."""

    id: int
    title: str
    category: str
    urgent: bool
    pinned: bool
    status: str
    date: str
    needs_confirmation: bool
    edited: bool
    unread: bool = False
    publish_at: str = ""


@dataclass
class Board:
    cards: list[NoticeCard]
    page: int
    has_next: bool
    pages: int | None = None  # known when searching (the matches were counted)
    total: int | None = None
    drafts: list[NoticeCard] = field(default_factory=list)


CARD_COLUMNS = (
    Notice.id, Notice.title, Notice.category, Notice.urgent, Notice.pinned, Notice.status,
    Notice.published_at, Notice.publish_at, Notice.needs_confirmation, Notice.edited_at, Notice.updated_at,
)


def _card(row: dict[str, Any]) -> NoticeCard:
    return NoticeCard(
        id=row["id"],
        title=row["title"],
        category=row["category"],
        urgent=row["urgent"],
        pinned=row["pinned"],
        status=row["status"],
        date=jp_date(row["published_at"] or row["updated_at"]),
        needs_confirmation=row["needs_confirmation"],
        edited=row["edited_at"] is not None,
        publish_at=jp_date(row["publish_at"], with_time=True),
    )


def _board_order(query: Any) -> Any:
    # The same order as the notice_board_order index, so the first page needs no sorting.
    return (
        query.order_by(Notice.urgent, ascending=False)
        .order_by(Notice.pinned, ascending=False)
        .order_by(Notice.published_at, ascending=False)
        .order_by(Notice.id, ascending=False)
    )


# The number of matches, on every row of a page of them (PostgreSQL: see _search_page).
_TOTAL = QueryString("count(*) OVER ()").as_alias("total")


async def _search_page(tenant: Tenant, matches: Any, page: int, per_page: int, total: int | None = None) -> Board:
    """One page of a search's matches (board order) and their number, without reading or
    sending here any other match (a common word matches a quarter of a board).

    PostgreSQL checks the words on each row of the association anyway (notices/search.py), so
    one pass counts them (a window) and keeps the page. On SQLite the count and the page's ids
    come from the text index and the board index alone, and only the page's rows are read.
    ``total``: the number of matches if the caller knows it (kept from another page of the same
    search): then only the page is read, and PostgreSQL may stop at the page's last match."""

    def board(rows: list[dict[str, Any]], total: int, page: int) -> Board:
        pages = max(1, math.ceil(total / per_page))
        cards = [_card(row) for row in rows]
        return Board(cards=cards, page=page, has_next=page < pages, pages=pages, total=total)

    async def rows_of(page: int, counted: bool = True) -> list[dict[str, Any]]:
        if is_postgres():
            query = await matches(tenant.select(Notice, *CARD_COLUMNS, *([_TOTAL] if counted else [])))
            return await _board_order(query).limit(per_page).offset((page - 1) * per_page)
        ids = _board_order(await matches(tenant.select(Notice, Notice.id))).limit(per_page).offset((page - 1) * per_page)
        return await _board_order(tenant.select(Notice, *CARD_COLUMNS).where(Notice.id.is_in(ids)))

    if total is not None:
        if not total:
            return board([], 0, 1)
        page = min(page, math.ceil(total / per_page))
        return board(await rows_of(page, counted=False), total, page)
    if is_postgres():
        rows = await rows_of(page)
        if rows:
            return board(rows, rows[0]["total"], page)
        # No match, or a page past the last one: counted below, and the last page is shown.
    total = await (await matches(tenant.count(Notice)))
    if not total:
        return board([], 0, 1)
    page = min(page, math.ceil(total / per_page))
    rows = await rows_of(page)
    return board(rows, rows[0].get("total", total) if rows else total, page)


async def list_notices(
    tenant: Tenant,
    viewer: Viewer,
    *,
    category: str = "",
    q: str = "",
    page: int = 1,
    archived: bool = False,
    per_page: int = PER_PAGE,
    total: int | None = None,
) -> Board:
    """The board for ``viewer``: urgent and pinned first, then newest; searching also finds
    archived notices, since past notices must be easy to find again.

    Browsing reads one row more than a page to know whether there is a next page (no count).
    Searching counts the matches (unless ``total`` gives their number) and reads one page of
    them (``_search_page``).
    """
    words = normalise_query(q)
    page = max(1, page)

    def narrowed(query: Any) -> Any:
        query = query.where(Notice.status.is_in(["published", "archived"] if (words or archived) else ["published"]))
        if category:
            query = query.where(Notice.category == category)
        return _search(query, words)

    if words:

        async def matches(query: Any) -> Any:
            return await _visible(tenant, viewer, narrowed(query))

        board = await _search_page(tenant, matches, page, per_page, total)
    else:
        query = await _visible(tenant, viewer, narrowed(tenant.select(Notice, *CARD_COLUMNS)))
        rows = await _board_order(query).limit(per_page + 1).offset((page - 1) * per_page)
        board = Board(cards=[_card(row) for row in rows[:per_page]], page=page, has_next=len(rows) > per_page)
    if viewer.reader_known and board.cards:
        read = await read_notice_ids(tenant, viewer, [card.id for card in board.cards])
        for card in board.cards:
            card.unread = card.id not in read
    if viewer.poster and page == 1 and not words:
        draft_rows = await (
            tenant.select(Notice, *CARD_COLUMNS)
            .where(Notice.status.is_in(["draft", "scheduled"]))
            .order_by(Notice.updated_at, ascending=False)
            .limit(50)
        )
        board.drafts = [_card(row) for row in draft_rows]
    return board


async def public_notices(tenant: Tenant, limit: int = 5) -> list[dict[str, Any]]:
    """The newest public notices for the association homepage (one query: it is the busiest page)."""
    query = await _visible(
        tenant, ANONYMOUS_VIEWER,
        tenant.select(Notice, Notice.id, Notice.title, Notice.category, Notice.urgent, Notice.published_at),
    )
    rows = await _board_order(query.where(Notice.status.is_in(["published"]))).limit(limit)
    return [{**row, "date": jp_date(row["published_at"])} for row in rows]


# --- read marks and confirmations ----------------------------------------------------------


def _reader(viewer: Viewer) -> tuple[str, int | None]:
    return ("household", viewer.household_id) if viewer.household_id is not None else ("account", viewer.account_id)


class KnownReads:
    """(reader, notice) pairs this process knows are read: read marks only ever appear, so a
    notice page opened again writes nothing, and the board shows it read at once."""

    MAX_ENTRIES = 200_000

    def __init__(self) -> None:
        self._pairs: set[tuple[tuple[str, int | None], int]] = set()

    def add(self, reader: tuple[str, int | None], notice_ids: Any) -> None:
        if signed_in_cache.seconds <= 0:  # kept with the sessions, or not at all
            return
        if len(self._pairs) >= self.MAX_ENTRIES:
            self._pairs.clear()
        self._pairs.update((reader, notice_id) for notice_id in notice_ids)

    def __contains__(self, pair: tuple[tuple[str, int | None], int]) -> bool:
        return pair in self._pairs

    def clear(self) -> None:
        self._pairs.clear()


known_reads = KnownReads()


# Each reader's read marks (and 「読みました」) are kept up to a quarter less, at random: read
# for a crowd at one moment, they would otherwise all end together (kept.KeptValues.keep).
READ_MARKS_SPREAD = 0.25


async def read_notice_ids(tenant: Tenant, viewer: Viewer, notice_ids: list[int]) -> set[int]:
    """Which of ``notice_ids`` this reader has opened. Those read through another process
    show within about five seconds (kept with the session: accounts/signed_in_cache.py)."""
    if not viewer.reader_known or not notice_ids:
        return set()
    reader = _reader(viewer)
    key = ("read", reader, tenant.id, tuple(notice_ids))
    read = signed_in_cache.get(key)
    if read is None:
        generation = signed_in_cache.generation
        read = await _read_marks_of.get((reader, tenant.id, tuple(notice_ids))) or frozenset()
        known_reads.add(reader, read)
        # Read marks decide no access: kept five times as long as the session (a notice opened
        # through another process loses its 「未読」 here within ~5 s; through this one at once).
        signed_in_cache.keep(key, read, generation, longer=5, spread=READ_MARKS_SPREAD)
    return {notice_id for notice_id in notice_ids if notice_id in read or (reader, notice_id) in known_reads}


async def _read_marks_among(asked: list[tuple[tuple[str, int | None], int, tuple[int, ...]]]) -> dict[Any, frozenset[int]]:
    """For ``read_notice_ids``: the read marks of several readers among their notices, per kind of
    reader and association one statement (the board's readers of a moment ask about the same
    twenty notices)."""
    groups: dict[tuple[str, int], list[tuple[tuple[str, int | None], int, tuple[int, ...]]]] = {}
    for key in asked:
        groups.setdefault((key[0][0], key[1]), []).append(key)
    found: dict[Any, frozenset[int]] = {}
    for (column, association), keys in groups.items():
        readers_sql, readers = in_ids(sorted({reader[1] for reader, _, _ in keys if reader[1] is not None}))
        notices_sql, notices = in_ids(sorted({notice for _, _, ids in keys for notice in ids}))
        rows = await fetch_rows(
            f"SELECT {column} AS reader, notice FROM notice_read "
            f"WHERE {column} {readers_sql} AND association = {{}} AND notice {notices_sql}",
            readers, association, notices,
        )
        marks: dict[int, set[int]] = {}
        for row in rows:
            marks.setdefault(row["reader"], set()).add(row["notice"])
        for key in keys:
            (_, reader_id), _, ids = key
            found[key] = frozenset(marks.get(reader_id, set()) & set(ids))  # type: ignore[arg-type]
    return found


_read_marks_of: Batched[Any, frozenset[int]] = Batched(_read_marks_among)


READ_SET_MAX = 2000  # a household reading ten notices a week for four years


async def read_among(tenant: Tenant, viewer: Viewer, notice_ids: list[int]) -> set[int]:
    """``read_notice_ids`` for pages a reader seldom opens twice (every page of every search):
    all the reader's read marks in the association at once (the migration's indexes
    ``notice_read_by_household`` / ``_by_account``), kept as long as a board page's, so their
    next pages ask the database nothing. A reader with more than READ_SET_MAX marks is asked per
    page, as the board does."""
    if not viewer.reader_known or not notice_ids:
        return set()
    reader = _reader(viewer)
    key = ("read all", reader, tenant.id)
    read = signed_in_cache.get(key)
    if read is None:
        generation = signed_in_cache.generation
        column = "household" if viewer.household_id is not None else "account"
        rows = await fetch_rows(
            f"SELECT notice FROM notice_read WHERE {column} = {{}} AND association = {{}} ORDER BY notice LIMIT {{}}",
            reader[1], tenant.id, READ_SET_MAX + 1,
        )
        # A sorted array: 8 bytes a mark (a set of 2,000 ids: ~190 KB a reader).
        read = array("q", [row["notice"] for row in rows]) if len(rows) <= READ_SET_MAX else False
        signed_in_cache.keep(key, read, generation, longer=5, spread=READ_MARKS_SPREAD)
    if read is False:
        return await read_notice_ids(tenant, viewer, notice_ids)

    def marked(notice_id: int) -> bool:
        at = bisect_left(read, notice_id)
        return at < len(read) and read[at] == notice_id

    return {notice_id for notice_id in notice_ids if marked(notice_id) or (reader, notice_id) in known_reads}


async def mark_read(tenant: Tenant, viewer: Viewer, notice_id: int, *, now: datetime | None = None) -> None:
    """Remember that this household (or, for an officer without one, this account) opened it."""
    if not viewer.reader_known:
        return
    reader = _reader(viewer)
    if (reader, notice_id) in known_reads:
        return  # read before: nothing to write
    mark = ReadMark(
        association=tenant.id,
        notice=notice_id,
        household=viewer.household_id,
        account=None if viewer.household_id is not None else viewer.account_id,
        read_at=now or now_utc(),
    )
    if signed_in_cache.seconds > 0:  # read marks kept per process: written with others, shortly
        known_reads.add(reader, (notice_id,))
        read_marks.add(mark)
        return
    await write_read_marks([mark])


@dataclass(frozen=True, slots=True)
class ReadMark:
    """One row of ``notice_read`` waiting to be written (a plain value: a batch of them is one
    statement's parameters, not a row object each)."""

    association: int
    notice: int
    household: int | None
    account: int | None
    read_at: datetime


async def write_read_marks(marks: list[ReadMark]) -> None:
    """Insert the marks in one statement; a mark already there is kept (the unique indexes: one
    row per reader and notice, two tabs opening the page at once).

    The columns go as arrays (PostgreSQL, ``unnest``) or one JSON list (SQLite, ``json_each``):
    the query builder's insert of 500 row objects took ~20 ms of the event loop to compose, a
    pause every waiting reader felt (bench/signed_in.py, a notice page's first views: p99 138 ms
    on PostgreSQL)."""
    if not marks:
        return
    columns = "INSERT INTO notice_read (association, notice, household, account, read_at) "
    if is_postgres():
        await NoticeRead.raw(
            columns + "SELECT * FROM unnest({}::int[], {}::int[], {}::int[], {}::int[], {}::timestamptz[]) "
            "ON CONFLICT DO NOTHING",
            [m.association for m in marks], [m.notice for m in marks], [m.household for m in marks],
            [m.account for m in marks], [m.read_at for m in marks],
        ).run()
        return
    # read_at as the SQLite driver writes a datetime (str(): "2026-12-04 09:00:00.123456+00:00").
    rows = json.dumps([[m.association, m.notice, m.household, m.account, str(m.read_at)] for m in marks])
    await NoticeRead.raw(
        columns + "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), "
        "json_extract(value, '$[3]'), json_extract(value, '$[4]') FROM json_each({}) WHERE true "
        "ON CONFLICT DO NOTHING",  # "WHERE true": SQLite's parser needs it before an upsert's ON
        rows,
    ).run()


class ReadMarks:
    """Read marks of this process written together, at most ``DELAY`` after the visit: a member
    opening a notice for the first time waited for a write (SQLite: a commit) of its own. This
    process shows the mark at once (``known_reads``); others within about a second; a crash loses
    at most the marks of the last half second (the notice shows 「未読」 again). The server's
    shutdown writes what is waiting (app.py)."""

    DELAY = 0.5
    BATCH = 500

    def __init__(self) -> None:
        self._waiting: list[ReadMark] = []
        self._task: asyncio.Task[None] | None = None

    def add(self, mark: ReadMark) -> None:
        self._waiting.append(mark)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._write_soon())

    async def _write_soon(self) -> None:
        await asyncio.sleep(self.DELAY)
        await self.flush()

    def discard(self) -> None:
        """Tests: marks of an earlier test's database."""
        self._waiting.clear()

    async def flush(self) -> None:
        while self._waiting:
            marks, self._waiting = self._waiting[: self.BATCH], self._waiting[self.BATCH :]
            try:
                await write_read_marks(marks)
            except Exception:  # bookkeeping: a mark lost shows 「未読」 again, nothing worse
                log.warning("%d read marks not written", len(marks), exc_info=True)


read_marks = ReadMarks()


async def confirmation_of(tenant: Tenant, household_id: int | None, notice_id: int) -> datetime | None:
    return await delivery.confirmation_of(tenant.id, notice_id, household_id)


# The notice pages of one moment ask for their households' 「読みました」 together (kept.Batched).
_confirmations: Batched[tuple[int, int, int], datetime] = Batched(delivery.confirmations_of)


async def kept_confirmation_of(tenant: Tenant, household_id: int | None, notice_id: int) -> datetime | None:
    """For showing a notice page: kept like the session (accounts/signed_in_cache.py), so
    「読みました」 pressed through this process (a write) shows at once, through another (a read
    link, LINE) within about a second."""
    if household_id is None:
        return None
    key = ("confirmed", tenant.id, notice_id, household_id)
    kept = signed_in_cache.get(key)
    if kept is None:
        generation = signed_in_cache.generation
        kept = (await _confirmations.get((tenant.id, notice_id, household_id)),)
        signed_in_cache.keep(key, kept, generation, spread=READ_MARKS_SPREAD)
    return kept[0]


async def confirm_notice(
    tenant: Tenant, household_id: int, notice_id: int, *, now: datetime | None = None
) -> datetime:
    """Record 「読みました」 for a household in its delivery (made if publishing made none,
    e.g. for a household that joined afterwards). Returns when it was first confirmed."""
    now = now or now_utc()
    household = await tenant.select(Household, Household.channel).where(Household.id == household_id).first()
    if household is None:
        raise NoticeStateError("世帯が見つかりません。")
    channel = household["channel"] if household["channel"] in ("email", "line", "paper") else "paper"
    # status "sent": the household has read it on the web already; nothing is left to send.
    confirmed = await delivery.confirm_by_household(
        tenant.id, notice_id, household_id, "web", channel=channel, opened=True, now=now
    )
    assert confirmed is not None
    return confirmed
