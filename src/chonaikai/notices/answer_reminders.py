"""The deadline-morning reminder: at 09:00 local time on the day a question closes, households
that have not answered get the notice again through their own channel (e-mail: 【再送】; LINE:
the message with its answer buttons). Once per notice, whichever worker comes first: the notice
is claimed by one conditional UPDATE before anything is queued. Paper households are reached by
their 班長 (the results page lists them with phone numbers).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from chonaikai.delivery import api as delivery
from chonaikai.delivery.tables import Delivery
from chonaikai.notices import answers as store
from chonaikai.notices.questions import LOCAL_TZ
from chonaikai.notices.tables import Notice
from chonaikai.tenancy.logic import find_tenant
from chonaikai.tenancy.tables import Association

REMIND_AT = time(9, 0)  # local time on the deadline's day
SENDABLE = ("email", "line")


def reminder_time(deadline: datetime) -> datetime:
    """09:00 local on the deadline's local day (UTC); a deadline before 09:00 is reminded at midnight."""
    local = deadline.astimezone(LOCAL_TZ)
    at = datetime.combine(local.date(), REMIND_AT, LOCAL_TZ)
    if at >= local:
        at = datetime.combine(local.date(), time(0, 0), LOCAL_TZ)
    return at.astimezone(UTC)


async def remind_unanswered(now: datetime | None = None) -> int:
    """Queue the reminders that are due; returns how many deliveries were queued again."""
    now = now or datetime.now(UTC)
    candidates = await Notice.select(Notice.id, Notice.association, Notice.answer_deadline).where(
        (Notice.status == "published") & Notice.answer_reminded_at.is_null()
        & (Notice.answer_deadline > now) & (Notice.answer_deadline <= now + timedelta(days=1))
    )
    queued = 0
    for notice in candidates:
        if reminder_time(notice["answer_deadline"]) > now:
            continue
        claimed = await Notice.update({Notice.answer_reminded_at: now}).where(
            (Notice.id == notice["id"]) & Notice.answer_reminded_at.is_null()
        ).returning(Notice.id)
        if not claimed:
            continue  # another worker took it
        association = await Association.select(Association.slug).where(Association.id == notice["association"]).first()
        tenant = await find_tenant(association["slug"]) if association else None
        if tenant is None:
            continue
        rows = await tenant.select(Delivery, Delivery.id, Delivery.household).where(
            (Delivery.notice == notice["id"]) & Delivery.channel.is_in(list(SENDABLE)) & (Delivery.status == "sent")
            & Delivery.confirmed_at.is_null()
        )
        answered = await store.current_answers(tenant, notice["id"], [row["household"] for row in rows])
        due = [row["id"] for row in rows if row["household"] not in answered]
        await delivery.requeue_unconfirmed(tenant.id, due, now)
        queued += len(due)
    return queued
