"""City circulars (回覧物): create, send to many associations in bulk, forward or decline in each
association, and the city's dashboard — all plain async functions the routes and tests call.

Sending to 800 associations must take seconds: inbox entries are made with one INSERT … SELECT,
auto-forwarded notices with chunked multi-row inserts, and deliveries with the delivery outbox's
bulk function. The dashboard aggregates in SQL (GROUP BY) and never selects a household column.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from chonaikai.accounts.roles import Role
from chonaikai.accounts.tables import RoleGrant
from chonaikai.circulars.tables import (
    TARGET_KINDS,
    Circular,
    CircularAttachment,
    CircularEntry,
    CircularReminder,
)
from chonaikai.db import is_postgres, write_transaction
from chonaikai.notices import search
from chonaikai.notices.tables import Notice, NoticeHan
from chonaikai.roster.tables import Han
from chonaikai.settings import get_settings
from chonaikai.tenancy.scope import Tenant
from chonaikai.tenancy.tables import Association, City

CATEGORIES = ("回覧", "行事", "防災", "ごみ", "健康・福祉", "その他")
NOTICE_CATEGORY = "回覧"  # what a forwarded circular is on the association's board
TITLE_MAX = 200
SUMMARY_MAX = 5000
NOTE_MAX = 500
ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
ATTACHMENTS_MAX = 5
REMIND_INTERVAL = timedelta(hours=24)
# Statement size for bulk UPDATE … CASE: well under both databases' parameter limits.
CASE_CHUNK = 400
NOTICE_CHUNK = 500


# ---------------------------------------------------------------------------------------------
# Input and validation


class CircularError(ValueError):
    """Bad input: every message in Japanese and in English; nothing was changed."""

    def __init__(self, messages: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(en for _, en in messages))
        self.messages = messages

    @property
    def japanese(self) -> list[str]:
        return [ja for ja, _ in self.messages]

    def as_json(self) -> dict[str, Any]:
        return {"errors": [{"ja": ja, "en": en} for ja, en in self.messages]}


@dataclass
class CircularInput:
    title: str
    summary: str
    category: str = NOTICE_CATEGORY
    target_kind: str = "all"
    districts: list[str] = field(default_factory=list)
    associations: list[str] = field(default_factory=list)  # slugs
    needs_confirmation: bool = False
    answer_by: date | None = None
    publish: bool = True  # send now (or at publish_at); False keeps a draft
    publish_at: datetime | None = None


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    content: bytes


def _clean_filename(name: str) -> str:
    name = Path(name.replace("\\", "/")).name.strip() or "attachment.pdf"
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"<>|:*?')
    if not name.lower().endswith(".pdf"):
        name += ".pdf"
    return name[-150:]


async def validate(city_id: int, data: CircularInput, files: Sequence[UploadedFile] = ()) -> list[int]:
    """Check everything; raise CircularError listing all problems. Returns the target association ids."""
    errors: list[tuple[str, str]] = []
    data.title = (data.title or "").strip()
    data.summary = (data.summary or "").strip()
    if not data.title:
        errors.append(("題名を入れてください。", "title is required"))
    elif len(data.title) > TITLE_MAX:
        errors.append((f"題名は{TITLE_MAX}文字までです。", f"title must be at most {TITLE_MAX} characters"))
    if not data.summary:
        errors.append(("あらまし（本文）を入れてください。", "summary is required"))
    elif len(data.summary) > SUMMARY_MAX:
        errors.append(
            (f"あらましは{SUMMARY_MAX}文字までです。", f"summary must be at most {SUMMARY_MAX} characters")
        )
    if data.category not in CATEGORIES:
        errors.append(("分類を一覧から選んでください。", f"category must be one of {', '.join(CATEGORIES)}"))
    if data.needs_confirmation and data.answer_by is not None and data.answer_by < datetime.now(UTC).date():
        errors.append(("回答期限が過ぎた日になっています。", "answer_by is in the past"))
    if data.publish_at is not None and data.publish_at.tzinfo is None:
        errors.append(("送る日時の形が正しくありません。", "publish_at needs a time zone"))
    if len(files) > ATTACHMENTS_MAX:
        errors.append(
            (f"添付できるのは{ATTACHMENTS_MAX}つまでです。", f"at most {ATTACHMENTS_MAX} attachments")
        )
    for upload in files:
        if not upload.content.startswith(b"%PDF-"):
            errors.append(
                (f"「{upload.filename}」はPDFではありません。PDFだけ添付できます。", f"{upload.filename}: not a PDF")
            )
        elif len(upload.content) > ATTACHMENT_MAX_BYTES:
            errors.append(
                (f"「{upload.filename}」が大きすぎます（10MBまで）。", f"{upload.filename}: larger than 10 MB")
            )
    target_ids: list[int] = []
    if data.target_kind not in TARGET_KINDS:
        errors.append(
            ("送り先を「すべて」「地区」「町内会」から選んでください。", "target must be all, districts or associations")
        )
    else:
        data.districts = sorted({d.strip() for d in data.districts if d and d.strip()})
        data.associations = sorted({s.strip() for s in data.associations if s and s.strip()})
        if data.target_kind == "districts":
            known = set(await districts_of_city(city_id))
            unknown = [d for d in data.districts if d not in known]
            if not data.districts:
                errors.append(("地区を一つ以上選んでください。", "choose at least one district"))
            elif unknown:
                errors.append(
                    (f"この市にない地区です: {'、'.join(unknown)}", f"unknown districts: {', '.join(unknown)}")
                )
        if data.target_kind == "associations":
            rows = await Association.select(Association.slug).where(
                (Association.city == city_id) & Association.slug.is_in(data.associations or [""])
            )
            unknown = sorted(set(data.associations) - {row["slug"] for row in rows})
            if not data.associations:
                errors.append(("町内会を一つ以上選んでください。", "choose at least one association"))
            elif unknown:
                errors.append(
                    (
                        f"この市にない町内会です: {'、'.join(unknown)}",
                        f"unknown associations in this city: {', '.join(unknown)}",
                    )
                )
        if not errors:
            target_ids = await target_association_ids(
                city_id, data.target_kind, data.districts, data.associations
            )
            if not target_ids:
                errors.append(("送り先の町内会がありません。", "no association matches the target"))
    if errors:
        raise CircularError(errors)
    return target_ids


def _target_where(city_id: int, kind: str, districts: Sequence[str], slugs: Sequence[str]):
    where = Association.city == city_id
    if kind == "districts":
        where &= Association.district.is_in(list(districts) or [""])
    elif kind == "associations":
        where &= Association.slug.is_in(list(slugs) or [""])
    return where


async def target_association_ids(city_id: int, kind: str, districts: Sequence[str], slugs: Sequence[str]) -> list[int]:
    rows = await Association.select(Association.id).where(_target_where(city_id, kind, districts, slugs))
    return [row["id"] for row in rows]


async def districts_of_city(city_id: int) -> list[str]:
    rows = await Association.select(Association.district).where(
        (Association.city == city_id) & (Association.district != "")
    ).distinct().order_by(Association.district)
    return [row["district"] for row in rows]


async def associations_of_city(city_id: int) -> list[dict[str, Any]]:
    return await Association.select(
        Association.id, Association.slug, Association.name, Association.district, Association.auto_forward_circulars
    ).where(Association.city == city_id).order_by(Association.district, Association.kana)


# ---------------------------------------------------------------------------------------------
# Creating and sending


def upload_dir() -> Path:
    return Path(get_settings().upload_dir) / "circulars"


async def create_circular(
    city_id: int,
    data: CircularInput,
    created_by: int | None = None,
    files: Sequence[UploadedFile] = (),
    now: datetime | None = None,
) -> int:
    """Validate, store, and send now when asked to (publish and no future publish_at)."""
    now = now or datetime.now(UTC)
    await validate(city_id, data, files)
    scheduled = data.publish and data.publish_at is not None and data.publish_at > now
    stored: list[Path] = []
    try:
        async with write_transaction():
            row = Circular(
                city=city_id,
                title=data.title,
                summary=data.summary,
                category=data.category,
                target_kind=data.target_kind,
                target_districts=data.districts if data.target_kind == "districts" else [],
                target_associations=data.associations if data.target_kind == "associations" else [],
                needs_confirmation=data.needs_confirmation,
                answer_by=data.answer_by if data.needs_confirmation else None,
                status="scheduled" if scheduled else "draft",
                publish_at=data.publish_at if scheduled else None,
                created_by=created_by,
                created_at=now,
            )
            await row.save()
            folder = upload_dir()
            folder.mkdir(parents=True, exist_ok=True)
            for position, upload in enumerate(files):
                key = secrets.token_urlsafe(24)
                path = folder / key
                path.write_bytes(upload.content)
                stored.append(path)
                await CircularAttachment.insert(
                    CircularAttachment(
                        city=city_id,
                        circular=row.id,
                        filename=_clean_filename(upload.filename),
                        size_bytes=len(upload.content),
                        storage_key=key,
                        position=position,
                        created_at=now,
                    )
                )
    except BaseException:
        for path in stored:  # nothing half-made: no orphan files either
            path.unlink(missing_ok=True)
        raise
    if data.publish and not scheduled:
        await send_circular(row.id, now=now)
    return row.id


@dataclass(frozen=True)
class SendResult:
    entries: int
    forwarded: int
    notice_ids: list[int]


def attachment_url(key: str, filename: str) -> str:
    return f"{get_settings().base_url.rstrip('/')}/circular-files/{key}/{quote(filename)}"


async def notice_body(circular: dict[str, Any], cover_note: str = "") -> str:
    """What members read: the summary, the association's cover note, links to the PDFs."""
    parts = [circular["summary"].strip()]
    if cover_note.strip():
        parts.append(f"町内会から: {cover_note.strip()}")
    files = await CircularAttachment.select(CircularAttachment.filename, CircularAttachment.storage_key).where(
        CircularAttachment.circular == circular["id"]
    ).order_by(CircularAttachment.position)
    if files:
        parts.append(
            "添付資料:\n" + "\n".join(f"- [{f['filename']}]({attachment_url(f['storage_key'], f['filename'])})" for f in files)
        )
    return "\n\n".join(parts)


def _notice_row(circular: dict[str, Any], city_name: str, association_id: int, body: str, now: datetime, **extra: Any) -> Notice:
    values: dict[str, Any] = {
        "association": association_id,
        "title": circular["title"],
        "body": body,
        "search_text": search.search_text(circular["title"], body),
        "category": NOTICE_CATEGORY,
        "audience": "all",
        "visibility": "members",
        "needs_confirmation": circular["needs_confirmation"],
        "answer_by": circular["answer_by"],
        "status": "published",
        "published_at": now,
        "author_title": city_name,
        "source_city": circular["city"],
        "created_at": now,
        "updated_at": now,
    }
    values.update(extra)
    return Notice(**values)


async def _city_name(city_id: int) -> str:
    row = await City.select(City.name).where(City.id == city_id).first()
    return row["name"] if row else ""


async def deliver(notice_ids: Sequence[int]) -> bool:
    """Hand published notices to the delivery outbox in bulk. False when that module is missing.

    Publishing twice creates nothing twice (the outbox's unique (notice, household)), so calling
    this again after a failure is safe.
    """
    if not notice_ids:
        return True
    try:
        from chonaikai.delivery import outbox  # type: ignore[attr-defined]
    except ImportError:
        return False
    await outbox.create_deliveries_for_notices(list(notice_ids))
    return True


async def send_circular(circular_id: int, now: datetime | None = None) -> SendResult:
    """Create one inbox entry per target association and forward at once where the association
    chose automatic forwarding. Safe to call twice: nothing is created twice."""
    now = now or datetime.now(UTC)
    circular = await Circular.select().where(Circular.id == circular_id).first().output(load_json=True)
    if circular is None:
        raise LookupError(circular_id)
    city_name = await _city_name(circular["city"])
    body = await notice_body(circular)
    async with write_transaction():
        # Claim the send: only one caller turns draft/scheduled into sent.
        claimed = await Circular.update({Circular.status: "sent", Circular.sent_at: now}).where(
            (Circular.id == circular_id) & (Circular.status != "sent")
        ).returning(Circular.id)
        if not claimed:
            return SendResult(0, 0, [])
        # One INSERT … SELECT for every entry, whatever the number of associations.
        target_sql, target_args = _target_sql(circular)
        await CircularEntry.raw(
            "INSERT INTO circular_entry (association, circular, state, decline_reason, cover_note, created_at) "
            f"SELECT association.id, {{}}, 'pending', '', '', {{}} FROM association WHERE {target_sql} "
            "ON CONFLICT (circular, association) DO NOTHING",
            circular_id,
            now,
            *target_args,
        )
        auto = await CircularEntry.raw(
            "SELECT e.association FROM circular_entry e JOIN association a ON a.id = e.association "
            "WHERE e.circular = {} AND e.state = 'pending' AND a.auto_forward_circulars = {}",
            circular_id,
            True,
        )
        association_ids = [row["association"] for row in auto]
        notice_by_association: dict[int, int] = {}
        for start in range(0, len(association_ids), NOTICE_CHUNK):
            chunk = association_ids[start : start + NOTICE_CHUNK]
            rows = await Notice.insert(
                *[_notice_row(circular, city_name, aid, body, now) for aid in chunk]
            ).returning(Notice.id, Notice.association)
            notice_by_association.update({row["association"]: row["id"] for row in rows})
        await _mark_forwarded(circular_id, notice_by_association, now)
        entries = await CircularEntry.count().where(CircularEntry.circular == circular_id)
    notice_ids = list(notice_by_association.values())
    await deliver(notice_ids)
    return SendResult(entries=entries, forwarded=len(notice_ids), notice_ids=notice_ids)


def _target_sql(circular: dict[str, Any]) -> tuple[str, list[Any]]:
    """The target associations as a WHERE clause (``{}`` placeholders) for INSERT … SELECT."""
    sql, args = "association.city = {}", [circular["city"]]
    kind = circular["target_kind"]
    values = circular["target_districts"] if kind == "districts" else circular["target_associations"]
    if kind in ("districts", "associations"):
        column = "district" if kind == "districts" else "slug"
        values = list(values) or [""]
        sql += f" AND association.{column} IN ({', '.join('{}' for _ in values)})"
        args += values
    return sql, args


async def _mark_forwarded(circular_id: int, notice_by_association: dict[int, int], now: datetime) -> None:
    items = list(notice_by_association.items())
    for start in range(0, len(items), CASE_CHUNK):
        chunk = items[start : start + CASE_CHUNK]
        cases = " ".join("WHEN {} THEN CAST({} AS INTEGER)" for _ in chunk)
        args: list[Any] = [value for pair in chunk for value in pair]
        ids = ", ".join("{}" for _ in chunk)
        await CircularEntry.raw(
            f"UPDATE circular_entry SET state = 'forwarded', forwarded_at = {{}}, notice = CASE association {cases} END "
            f"WHERE circular = {{}} AND state = 'pending' AND association IN ({ids})",
            now,
            *args,
            circular_id,
            *[aid for aid, _ in chunk],
        )


async def send_due_circulars(now: datetime | None = None) -> list[int]:
    """Send scheduled circulars whose time has come (run by the worker or `chonaikai city send-due`)."""
    now = now or datetime.now(UTC)
    rows = await Circular.select(Circular.id).where(
        (Circular.status == "scheduled") & (Circular.publish_at <= now)
    )
    sent = []
    for row in rows:
        result = await send_circular(row["id"], now=now)
        if result.entries:
            sent.append(row["id"])
    return sent


# ---------------------------------------------------------------------------------------------
# In the association: the 「市からの回覧」 inbox


class EntryError(ValueError):
    def __init__(self, japanese: str) -> None:
        super().__init__(japanese)
        self.japanese = japanese


async def inbox(tenant: Tenant) -> list[dict[str, Any]]:
    entries = await tenant.select(
        CircularEntry,
        CircularEntry.id,
        CircularEntry.state,
        CircularEntry.opened_at,
        CircularEntry.forwarded_at,
        CircularEntry.declined_at,
        CircularEntry.notice,
        CircularEntry.created_at,
        CircularEntry.circular.title,
        CircularEntry.circular.category,
        CircularEntry.circular.answer_by,
        CircularEntry.circular.needs_confirmation,
    ).order_by(CircularEntry.created_at, ascending=False)
    return [_flatten(entry) for entry in entries]


def _flatten(row: dict[str, Any]) -> dict[str, Any]:
    return {key.replace("circular.", "circular_"): value for key, value in row.items()}


async def entry_detail(tenant: Tenant, entry_id: int) -> dict[str, Any] | None:
    entry = await tenant.select(CircularEntry).where(CircularEntry.id == entry_id).first()
    if entry is None:
        return None
    circular = await Circular.select().where(Circular.id == entry["circular"]).first().output(load_json=True)
    attachments = await CircularAttachment.select().where(CircularAttachment.circular == entry["circular"]).order_by(
        CircularAttachment.position
    )
    city_name = await _city_name(circular["city"])
    return {"entry": entry, "circular": circular, "attachments": attachments, "city_name": city_name}


async def open_entry(tenant: Tenant, entry_id: int, now: datetime | None = None) -> None:
    """An officer looked at it: the city sees 「開封」 with the time (first look only)."""
    now = now or datetime.now(UTC)
    await tenant.update(CircularEntry, {CircularEntry.state: "opened", CircularEntry.opened_at: now}).where(
        (CircularEntry.id == entry_id) & (CircularEntry.state == "pending")
    )


async def forward_entry(
    tenant: Tenant,
    entry_id: int,
    *,
    cover_note: str = "",
    audience: str = "all",
    han_ids: Sequence[int] = (),
    account_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """Post the circular on the association's board and deliver it. Returns the notice id."""
    now = now or datetime.now(UTC)
    cover_note = (cover_note or "").strip()
    if len(cover_note) > NOTE_MAX:
        raise EntryError(f"ひとことは{NOTE_MAX}文字までです。")
    if audience not in ("all", "han", "officers"):
        raise EntryError("届ける相手を選んでください。")
    han_ids = sorted(set(han_ids))
    if audience == "han":
        if not han_ids:
            raise EntryError("届ける班を一つ以上選んでください。")
        known = {row["id"] for row in await tenant.select(Han, Han.id).where(Han.id.is_in(han_ids))}
        if set(han_ids) - known:
            raise EntryError("この町内会にない班が選ばれています。")
    detail = await entry_detail(tenant, entry_id)
    if detail is None:
        raise LookupError(entry_id)
    entry, circular = detail["entry"], detail["circular"]
    if entry["state"] in ("forwarded", "declined"):
        raise EntryError("この回覧はもう処理済みです。")
    body = await notice_body(circular, cover_note)
    async with write_transaction():
        claimed = await tenant.update(
            CircularEntry,
            {
                CircularEntry.state: "forwarded",
                CircularEntry.forwarded_at: now,
                CircularEntry.opened_at: entry["opened_at"] or now,
                CircularEntry.cover_note: cover_note,
                CircularEntry.handled_by: account_id,
            },
        ).where((CircularEntry.id == entry_id) & CircularEntry.state.is_in(["pending", "opened"])).returning(
            CircularEntry.id
        )
        if not claimed:  # someone else handled it a moment ago
            raise EntryError("この回覧はもう処理済みです。")
        rows = await Notice.insert(
            _notice_row(circular, detail["city_name"], tenant.id, body, now, audience=audience, author=account_id)
        ).returning(Notice.id)
        notice_id = rows[0]["id"]
        if audience == "han":
            await NoticeHan.insert(*[tenant.new(NoticeHan, notice=notice_id, han=han_id) for han_id in han_ids])
        await tenant.update(CircularEntry, {CircularEntry.notice: notice_id}).where(CircularEntry.id == entry_id)
    await deliver([notice_id])
    return notice_id


async def decline_entry(
    tenant: Tenant, entry_id: int, reason: str, account_id: int | None = None, now: datetime | None = None
) -> None:
    """「この地区には関係ない」: recorded with the reason, which the city sees."""
    now = now or datetime.now(UTC)
    reason = (reason or "").strip()
    if not reason:
        raise EntryError("回覧しない理由を書いてください。市の担当者に伝わります。")
    if len(reason) > NOTE_MAX:
        raise EntryError(f"理由は{NOTE_MAX}文字までです。")
    entry = await tenant.select(CircularEntry, CircularEntry.id, CircularEntry.opened_at).where(
        CircularEntry.id == entry_id
    ).first()
    if entry is None:
        raise LookupError(entry_id)
    claimed = await tenant.update(
        CircularEntry,
        {
            CircularEntry.state: "declined",
            CircularEntry.declined_at: now,
            CircularEntry.opened_at: entry["opened_at"] or now,
            CircularEntry.decline_reason: reason,
            CircularEntry.handled_by: account_id,
        },
    ).where((CircularEntry.id == entry_id) & CircularEntry.state.is_in(["pending", "opened"])).returning(
        CircularEntry.id
    )
    if not claimed:
        raise EntryError("この回覧はもう処理済みです。")


# ---------------------------------------------------------------------------------------------
# The city's view: list, dashboard, reminders, CSV


async def find_circular(city_id: int, circular_id: int) -> dict[str, Any] | None:
    return await Circular.select().where((Circular.id == circular_id) & (Circular.city == city_id)).first().output(
        load_json=True
    )


async def list_circulars(city_id: int) -> list[dict[str, Any]]:
    circulars = await Circular.select(
        Circular.id, Circular.title, Circular.category, Circular.status, Circular.publish_at, Circular.sent_at,
        Circular.created_at,
    ).where(Circular.city == city_id).order_by(Circular.created_at, ascending=False)
    if not circulars:
        return circulars
    counts = await CircularEntry.raw(
        "SELECT e.circular, e.state, COUNT(*) AS n FROM circular_entry e JOIN circular c ON c.id = e.circular "
        "WHERE c.city = {} GROUP BY e.circular, e.state",
        city_id,
    )
    by_circular: dict[int, dict[str, int]] = {}
    for row in counts:
        by_circular.setdefault(row["circular"], {})[row["state"]] = row["n"]
    for circular in circulars:
        states = by_circular.get(circular["id"], {})
        circular["targeted"] = sum(states.values())
        circular["forwarded"] = states.get("forwarded", 0)
        circular["declined"] = states.get("declined", 0)
    return circulars


_ENTRIES_SQL = """
SELECT e.id AS entry_id, e.notice, a.slug, a.name, a.district, e.state, e.opened_at, e.forwarded_at,
       e.declined_at, e.decline_reason, e.last_reminded_at
FROM circular_entry e
JOIN association a ON a.id = e.association
WHERE e.circular = {}
ORDER BY a.district, a.kana, a.id
"""

# The deliveries of a circular's notices, read once. The covering index
# delivery (notice, status, sent_at, confirmed_at) lets PostgreSQL answer from the index alone.
_NOTICES_OF = "d.notice IN (SELECT notice FROM circular_entry WHERE circular = {} AND notice IS NOT NULL)"
_REACHED = "CASE WHEN d.status IN ('sent', 'printed') THEN 1 ELSE 0 END"
_CONFIRMED = "CASE WHEN d.confirmed_at IS NOT NULL THEN 1 ELSE 0 END"


def _rate(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


@dataclass
class DeliveryStats:
    per_notice: dict[int, tuple[int, int, int]]  # notice -> (households, reached, confirmed)
    sent_hours: dict[datetime, int]
    confirmed_hours: dict[datetime, int]


async def delivery_stats(circular_id: int) -> DeliveryStats:
    stats = DeliveryStats({}, {}, {})
    if is_postgres():
        # One pass over the deliveries for the table and both lines of the chart.
        sent_hour, confirmed_hour = "date_trunc('hour', d.sent_at)", "date_trunc('hour', d.confirmed_at)"
        rows = await CircularEntry.raw(
            f"SELECT GROUPING(d.notice, {sent_hour}, {confirmed_hour}) AS g, d.notice, "
            f"{sent_hour} AS sent_hour, {confirmed_hour} AS confirmed_hour, COUNT(*) AS total, "
            f"SUM({_REACHED}) AS reached, SUM({_CONFIRMED}) AS confirmed "
            f"FROM delivery d WHERE {_NOTICES_OF} "
            f"GROUP BY GROUPING SETS ((d.notice), ({sent_hour}), ({confirmed_hour}))",
            circular_id,
        )
        for row in rows:
            if row["g"] == 0b011:
                stats.per_notice[row["notice"]] = (int(row["total"]), int(row["reached"]), int(row["confirmed"]))
            elif row["g"] == 0b101 and row["sent_hour"] is not None:
                stats.sent_hours[_bucket_time(row["sent_hour"])] = int(row["total"])
            elif row["g"] == 0b110 and row["confirmed_hour"] is not None:
                stats.confirmed_hours[_bucket_time(row["confirmed_hour"])] = int(row["total"])
        return stats
    rows = await CircularEntry.raw(
        f"SELECT d.notice, COUNT(*) AS total, SUM({_REACHED}) AS reached, SUM({_CONFIRMED}) AS confirmed "
        f"FROM delivery d WHERE {_NOTICES_OF} GROUP BY d.notice",
        circular_id,
    )
    stats.per_notice = {row["notice"]: (int(row["total"]), int(row["reached"]), int(row["confirmed"])) for row in rows}
    for target, column in ((stats.sent_hours, "d.sent_at"), (stats.confirmed_hours, "d.confirmed_at")):
        # Timestamps are ISO text on SQLite: the first 13 characters are the hour.
        rows = await CircularEntry.raw(
            f"SELECT substr({column}, 1, 13) AS bucket, COUNT(*) AS n FROM delivery d "
            f"WHERE {_NOTICES_OF} AND {column} IS NOT NULL GROUP BY 1",
            circular_id,
        )
        target.update({_bucket_time(row["bucket"]): int(row["n"]) for row in rows})
    return stats


async def dashboard(circular_id: int) -> dict[str, Any]:
    """Per-association rows, totals and the chart's points; counts only, never a household's data."""
    rows = await CircularEntry.raw(_ENTRIES_SQL, circular_id)
    stats = await delivery_stats(circular_id)
    totals = {"targeted": len(rows), "pending": 0, "opened": 0, "forwarded": 0, "declined": 0,
              "households": 0, "reached": 0, "confirmed": 0}
    for row in rows:
        row["households"], row["reached"], row["confirmed"] = stats.per_notice.get(row.pop("notice"), (0, 0, 0))
        for key in ("opened_at", "forwarded_at", "declined_at", "last_reminded_at"):
            row[key] = _as_datetime(row[key])
        row["confirmation_rate"] = _rate(row["confirmed"], row["households"])
        row["reach_rate"] = _rate(row["reached"], row["households"])
        totals[row["state"]] = totals.get(row["state"], 0) + 1
        for key in ("households", "reached", "confirmed"):
            totals[key] += row[key]
    totals["ever_opened"] = sum(1 for row in rows if row["opened_at"] is not None or row["state"] == "forwarded")
    totals["confirmation_rate"] = _rate(totals["confirmed"], totals["households"])
    totals["reach_rate"] = _rate(totals["reached"], totals["households"])
    return {"rows": rows, "totals": totals, "timeline": _cumulative(stats)}


def _as_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _cumulative(stats: DeliveryStats) -> list[dict[str, Any]]:
    """Households reached and confirmed per hour, added up — the chart over time."""
    hours = sorted(set(stats.sent_hours) | set(stats.confirmed_hours))
    points, reached, confirmed = [], 0, 0
    for hour in hours:
        reached += stats.sent_hours.get(hour, 0)
        confirmed += stats.confirmed_hours.get(hour, 0)
        points.append({"time": hour, "reached": reached, "confirmed": confirmed})
    return points


def _bucket_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(f"{value}:00:00").replace(tzinfo=UTC)


def chart_svg(points: list[dict[str, Any]], width: int = 560, height: int = 260) -> dict[str, Any]:
    """Coordinates for an inline SVG line chart drawn by the template (no JavaScript)."""
    if not points:
        return {"empty": True}
    pad_left, pad_bottom, pad_top, pad_right = 64, 40, 16, 16
    plot_w, plot_h = width - pad_left - pad_right, height - pad_top - pad_bottom
    start, end = points[0]["time"], points[-1]["time"]
    span = max((end - start).total_seconds(), 3600.0)
    top = max(max(max(p["reached"], p["confirmed"]) for p in points), 1)

    def xy(point: dict[str, Any], key: str) -> str:
        x = pad_left + plot_w * (point["time"] - start).total_seconds() / span
        y = pad_top + plot_h * (1 - point[key] / top)
        return f"{x:.1f},{y:.1f}"

    def steps(key: str) -> str:
        # A single point still draws as a short flat line.
        coords = [xy(p, key) for p in points]
        if len(coords) == 1:
            x, y = coords[0].split(",")
            coords.append(f"{pad_left + plot_w:.1f},{y}")
        return " ".join(coords)

    return {
        "empty": False,
        "width": width,
        "height": height,
        "left": pad_left,
        "right": width - pad_right,
        "top": pad_top,
        "bottom": height - pad_bottom,
        "max": top,
        "reached": steps("reached"),
        "confirmed": steps("confirmed"),
        "start": start,
        "end": end,
    }


async def officer_emails(association_ids: Sequence[int]) -> dict[int, list[str]]:
    """E-mail addresses of each association's 会長 and 副会長 (who get the 催促)."""
    if not association_ids:
        return {}
    rows = await RoleGrant.select(RoleGrant.association, RoleGrant.account.email).where(
        RoleGrant.association.is_in(list(association_ids))
        & RoleGrant.role.is_in([str(Role.CHAIR), str(Role.VICE_CHAIR)])
    )
    result: dict[int, list[str]] = {}
    for row in rows:
        result.setdefault(row["association"], []).append(row["account.email"])
    return {key: sorted(set(value)) for key, value in result.items()}


@dataclass(frozen=True)
class RemindResult:
    reminded: list[int]  # association ids
    skipped_recent: int  # asked less than 24 h ago
    sent_now: bool  # False: recorded, to be sent when a mail sender exists


async def remind(circular_id: int, account_id: int | None = None, now: datetime | None = None) -> RemindResult:
    """「未転送の町内会に催促」: at most once per 24 h per association, enforced by one UPDATE, so two
    staff clicking at once cannot remind twice."""
    now = now or datetime.now(UTC)
    cutoff = now - REMIND_INTERVAL
    not_forwarded = (CircularEntry.circular == circular_id) & CircularEntry.state.is_in(["pending", "opened"])
    async with write_transaction():
        claimed = await CircularEntry.update({CircularEntry.last_reminded_at: now}).where(
            not_forwarded & (CircularEntry.last_reminded_at.is_null() | (CircularEntry.last_reminded_at <= cutoff))
        ).returning(CircularEntry.association)
        association_ids = [row["association"] for row in claimed]
        emails = await officer_emails(association_ids)
        if association_ids:
            await CircularReminder.insert(
                *[
                    CircularReminder(
                        association=aid,
                        circular=circular_id,
                        recipients=emails.get(aid, []),
                        status="recorded",
                        requested_by=account_id,
                        created_at=now,
                    )
                    for aid in association_ids
                ]
            )
        waiting = await CircularEntry.count().where(not_forwarded)
    # The e-mails go out after this (send_recorded_reminders, run right after the request and by
    # the worker), so a slow mail server never holds the page; the once-per-24-h rule already holds.
    return RemindResult(reminded=association_ids, skipped_recent=waiting - len(association_ids), sent_now=False)


def reminder_text(city_name: str, association_name: str, title: str, link: str) -> tuple[str, str]:
    subject = f"【{city_name}】市からの回覧「{title}」をご確認ください"
    text = (
        f"{association_name} 会長・副会長さま\n\n"
        f"{city_name}からの回覧「{title}」が、まだ会員の方に届いていません。\n"
        "下のリンクを開いて、内容をご確認のうえ「お知らせとして送る」か「回覧しない」を選んでください。\n"
        f"{link}\n\n"
        f"このメールは、{city_name}の担当者の依頼で電子町内会から送っています。\n"
    )
    return subject, text


async def send_recorded_reminders(limit: int = 500) -> int:
    """E-mail the 催促 that were recorded and not sent yet; returns how many messages went out.

    Each reminder row is claimed (recorded → sending) before sending, so two processes never
    send one twice; a reminder with nobody to write to is closed as "no_address" for the record.
    """
    from chonaikai.mail.compose import InvalidAddress, single_part_message
    from chonaikai.mail.smtp import SMTPSender

    async with write_transaction():
        claimed = await CircularReminder.raw(
            "UPDATE circular_reminder SET status = 'sending' WHERE id IN "
            "(SELECT id FROM circular_reminder WHERE status = 'recorded' ORDER BY id LIMIT {}) "
            "RETURNING id, association, circular, recipients",
            limit,
        )
    if not claimed:
        return 0
    base = get_settings().base_url.rstrip("/")
    circulars: dict[int, dict[str, Any]] = {}
    messages: list[tuple[str, bytes]] = []
    owners: list[int] = []
    for row in claimed:
        circular_id = row["circular"]
        if circular_id not in circulars:
            circular = await Circular.select(Circular.title, Circular.city.name).where(Circular.id == circular_id).first()
            circulars[circular_id] = circular
        circular = circulars[circular_id]
        association = await Association.select(Association.slug, Association.name).where(
            Association.id == row["association"]
        ).first()
        entry = await CircularEntry.select(CircularEntry.id).where(
            (CircularEntry.circular == circular_id) & (CircularEntry.association == row["association"])
        ).first()
        link = f"{base}/a/{association['slug']}/circulars/{entry['id']}"
        subject, text = reminder_text(circular["city.name"], association["name"], circular["title"], link)
        recipients = row["recipients"]
        if isinstance(recipients, str):
            import json

            recipients = json.loads(recipients)
        for address in recipients:
            try:
                data = single_part_message(address, subject, text, from_name=circular["city.name"])
            except InvalidAddress:
                continue
            messages.append((address, data))
            owners.append(row["id"])
    results = []
    if messages:
        async with SMTPSender() as sender:
            results = await sender.send_many(messages)
    outcomes = list(zip(owners, results, strict=True))
    sent_ids = {owner for owner, result in outcomes if result.ok}
    # A mail server that is down (4xx, no connection): back to "recorded", the worker tries again.
    retry_ids = {owner for owner, result in outcomes if result.temporary} - sent_ids
    failed_ids = {owner for owner, result in outcomes if result.permanent and not result.ok} - sent_ids - retry_ids
    now = datetime.now(UTC)
    if retry_ids:
        await CircularReminder.update({CircularReminder.status: "recorded"}).where(
            CircularReminder.id.is_in(sorted(retry_ids))
        )
    for status, ids in (("sent", sent_ids), ("failed", failed_ids)):
        if ids:
            await CircularReminder.update({CircularReminder.status: status, CircularReminder.sent_at: now}).where(
                CircularReminder.id.is_in(sorted(ids))
            )
    nobody = [row["id"] for row in claimed if row["id"] not in sent_ids | failed_ids | retry_ids]
    if nobody:
        await CircularReminder.update({CircularReminder.status: "no_address"}).where(
            CircularReminder.id.is_in(nobody)
        )
    return sum(1 for result in results if result.ok)


async def run_due(now: datetime | None = None) -> None:
    """What the worker does for circulars on each round: scheduled sends, then pending 催促."""
    await send_due_circulars(now)
    await send_recorded_reminders()


STATE_LABELS = {"pending": "未開封", "opened": "開封済み", "forwarded": "転送済み", "declined": "回覧しない"}
CSV_HEADER = [
    "町内会 (association)",
    "slug",
    "地区 (district)",
    "状態 (state)",
    "開封 (opened_at)",
    "転送 (forwarded_at)",
    "回覧しない (declined_at)",
    "理由 (decline_reason)",
    "世帯数 (households)",
    "届いた世帯 (reached)",
    "確認した世帯 (confirmed)",
    "確認率% (confirmation_rate)",
]


def _iso(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds") if value else ""


def dashboard_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for row in rows:
        writer.writerow(
            [
                _csv_safe(row["name"]),
                row["slug"],
                _csv_safe(row["district"]),
                STATE_LABELS.get(row["state"], row["state"]),
                _iso(row["opened_at"]),
                _iso(row["forwarded_at"]),
                _iso(row["declined_at"]),
                _csv_safe(row["decline_reason"] or ""),
                row["households"],
                row["reached"],
                row["confirmed"],
                row["confirmation_rate"],
            ]
        )
    # A BOM so Excel on Japanese Windows opens it as UTF-8.
    return "\ufeff" + out.getvalue()


def _csv_safe(text: str) -> str:
    """Text typed by people must not run as a spreadsheet formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


async def circular_status(circular: dict[str, Any]) -> dict[str, Any]:
    """For the JSON API: per-association state and the counts."""
    board = await dashboard(circular["id"])
    return {
        "id": circular["id"],
        "title": circular["title"],
        "status": circular["status"],
        "sent_at": _iso(_as_datetime(circular["sent_at"])) or None,
        "counts": board["totals"],
        "associations": [
            {
                "slug": row["slug"],
                "name": row["name"],
                "district": row["district"],
                "state": row["state"],
                "opened_at": _iso(row["opened_at"]) or None,
                "forwarded_at": _iso(row["forwarded_at"]) or None,
                "declined_at": _iso(row["declined_at"]) or None,
                "decline_reason": row["decline_reason"] or None,
                "households": row["households"],
                "reached": row["reached"],
                "confirmed": row["confirmed"],
                "confirmation_rate": row["confirmation_rate"],
            }
            for row in board["rows"]
        ],
    }
