"""What the paper 回覧板 changes in the deliveries: 「印刷しました」 and the 確認 ticks written by hand.

Both only touch the delivery rows of the households named, for the one notice; the checks on who
may name which households happen before (in the routes, through ``authorize``).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from chonaikai.accounts.tables import AuditEntry
from chonaikai.clock import zone
from chonaikai.db import write_transaction
from chonaikai.delivery import api as delivery
from chonaikai.printing.sheets import SheetRequestError
from chonaikai.tenancy.scope import Tenant

# Statuses a paper delivery can leave for "printed": not one a worker holds, not one already done.
PRINTABLE_STATUSES = ("pending", "failed")


NOT_PUBLISHED_MESSAGE = "まだ公開されていないお知らせなので、記録できません。公開してからもう一度どうぞ。"


async def ensure_deliveries(notice: dict[str, Any]) -> None:
    """Households that joined after publishing have no delivery yet: the outbox makes theirs
    (exactly as publishing does, idempotent) before the paper sheet records anything for them."""
    if notice["status"] != "published":
        raise SheetRequestError(NOT_PUBLISHED_MESSAGE)
    await delivery.enqueue([notice["id"]])


async def mark_printed(
    tenant: Tenant, notice_id: int, household_ids: Collection[int], account_id: int | None = None
) -> int:
    """Mark this notice's paper deliveries to these households as printed; returns how many."""
    if not household_ids:
        return 0
    async with write_transaction():
        changed = await delivery.mark_printed(tenant.id, notice_id, household_ids, PRINTABLE_STATUSES)
        if changed:
            await _audit(tenant, account_id, "print.printed", f"notice={notice_id} deliveries={changed}")
    return changed


def confirmation_time(day: date | None, now: datetime | None = None, tz: Any = None) -> datetime:
    """When a hand-written 確認 counts as made: now for today, noon (local time) of an earlier day.

    A day in the future or more than a year back is a typing mistake: refused.
    """
    now = now or datetime.now(UTC)
    tz = tz or zone()
    today = now.astimezone(tz).date()
    if day is None or day == today:
        return now
    if day > today:
        raise SheetRequestError("確認した日が、今日より後になっています。日付を直してください。")
    if day < today - timedelta(days=366):
        raise SheetRequestError("確認した日が一年以上前になっています。日付を直してください。")
    return datetime.combine(day, time(12, 0), tzinfo=tz).astimezone(UTC)


async def apply_paper_ticks(
    tenant: Tenant,
    notice_id: int,
    sheet_household_ids: Collection[int],
    ticked_ids: Collection[int],
    confirmed_at: datetime,
    account_id: int | None = None,
) -> tuple[int, int]:
    """Record the ticks of one 班's sheet: ticked households confirmed on paper, and a paper tick
    taken back when its box is now empty (confirmations made on the web or LINE stay).

    Returns (newly confirmed, taken back). A tick for a household not on the sheet changes nothing.
    """
    sheet = set(sheet_household_ids)
    ticked = set(ticked_ids)
    if not ticked <= sheet:
        raise SheetRequestError("この班の回覧板にない世帯が選ばれています。ページを開き直してください。")
    unticked = sheet - ticked
    async with write_transaction():
        confirmed, cleared = await delivery.record_paper_ticks(tenant.id, notice_id, ticked, unticked, confirmed_at)
        if confirmed or cleared:
            await _audit(
                tenant,
                account_id,
                "print.ticks",
                f"notice={notice_id} confirmed={confirmed} cleared={cleared}",
            )
    return confirmed, cleared


async def _audit(tenant: Tenant, account_id: int | None, action: str, detail: str) -> None:
    await AuditEntry.insert(
        tenant.new(AuditEntry, account=account_id, action=action, detail=detail, created_at=datetime.now(UTC))
    )
