"""The morning-of-deadline reminder: at 09:00 local on a notice's answer-by date, the households
that have not confirmed yet are reminded through their own channel (``delivery.api.remind``),
once — officers choose it per notice (「その日の朝9時に…」). Run by the worker (``jobs.run_due``)."""

from __future__ import annotations

from datetime import UTC, datetime, time

from chonaikai.accounts.principal import Access
from chonaikai.accounts.roles import Permission
from chonaikai.delivery import api as delivery
from chonaikai.notices.logic import LOCAL_TZ
from chonaikai.notices.tables import Notice
from chonaikai.tenancy.scope import Tenant
from chonaikai.tenancy.tables import Association

REMIND_AT = time(9, 0)  # local


async def remind_due_deadlines(now: datetime | None = None) -> list[int]:
    """Remind the notices whose answer-by date is today (local) once it is 09:00; each at most
    once, even with several workers (claimed by one UPDATE). Returns the notice ids reminded."""
    now = now or datetime.now(UTC)
    local = now.astimezone(LOCAL_TZ)
    if local.time() < REMIND_AT:
        return []
    claimed = await Notice.update({Notice.deadline_reminded_at: now}).where(
        (Notice.status == "published")
        & (Notice.remind_on_deadline == True)  # noqa: E712
        & (Notice.answer_by == local.date())
        & Notice.deadline_reminded_at.is_null()
    ).returning(Notice.id, Notice.association)
    whole = Access(Permission.RECEIPTS_TICK, han_ids=None)
    for row in claimed:
        association = await Association.select().where(Association.id == row["association"]).output(
            load_json=True).first()
        await delivery.remind(Tenant.from_row(association), whole, row["id"], now=now)
    return [row["id"] for row in claimed]
