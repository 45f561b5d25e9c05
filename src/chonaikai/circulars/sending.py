"""City circulars: creating one, sending it to every target association (automatic forwarding
publishes through the notices' publishing service), scheduled sends."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from chonaikai.circulars.rules import (
    CASE_CHUNK,
    NOTICE_CATEGORY,
    NOTICE_CHUNK,
    CircularError,
    CircularInput,
    UploadedFile,
    _clean_filename,
    validate,
)
from chonaikai.circulars.tables import (
    Circular,
    CircularAttachment,
    CircularEntry,
)
from chonaikai.db import write_transaction
from chonaikai.notices import publishing, search
from chonaikai.notices.tables import Notice
from chonaikai.settings import get_settings
from chonaikai.tenancy.tables import City

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
        # Published through the notices' publishing service (its rules; delivered at once).
        try:
            rows = await publishing.publish_new_notices(
                [_notice_row(circular, city_name, aid, body, now) for aid in association_ids], chunk=NOTICE_CHUNK
            )
        except publishing.PublishRefused as refused:  # nothing is sent: the claim rolls back
            raise CircularError([(message, "the notice cannot be published") for message in refused.errors.values()]) from None
        notice_by_association.update({row["association"]: row["id"] for row in rows})
        await _mark_forwarded(circular_id, notice_by_association, now)
        entries = await CircularEntry.count().where(CircularEntry.circular == circular_id)
    notice_ids = list(notice_by_association.values())
    # The officers of every association are told at once (e-mail, LINE) through the alert outbox.
    from chonaikai.circulars import alerts

    rows = await CircularEntry.select(CircularEntry.association, CircularEntry.id).where(
        CircularEntry.circular == circular_id
    )
    await alerts.announce([(row["association"], row["id"]) for row in rows])
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
