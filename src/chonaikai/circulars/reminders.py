"""The city's 催促: remind associations that have not forwarded a circular (at most once a day),
and the worker's job that sends the recorded reminder e-mails."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chonaikai.accounts.roles import Role
from chonaikai.accounts.tables import RoleGrant
from chonaikai.circulars.rules import REMIND_INTERVAL
from chonaikai.circulars.sending import send_due_circulars
from chonaikai.circulars.tables import (
    Circular,
    CircularEntry,
    CircularReminder,
)
from chonaikai.db import write_transaction
from chonaikai.settings import get_settings
from chonaikai.tenancy.tables import Association


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
