"""Reminders: 「まだ確認していない世帯に、もう一度」 through each household's own channel.

- e-mail and LINE: the household's delivery goes out again (LINE with the same 「読みました」
  button and a fresh retry key, so LINE does not drop it as a repeat);
- paper: the household is put on the reprint list of its 班 (the print page with
  ``?paper=1&unconfirmed=1``).

A household may be reminded as soon as its first delivery is done (sent, or printed for paper),
and then at most once per ``CHONAIKAI_REMINDER_MIN_HOURS`` after its last reminder. Each reminder is recorded on the household's delivery row (``reminders`` +1,
``reminded_at``), so receipts show it per household as a second attempt.

``plan`` is the rule alone (no database), so it can be read and tested on its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from litestar.exceptions import ValidationException

from chonaikai.accounts.principal import Access
from chonaikai.db import write_transaction
from chonaikai.delivery import store
from chonaikai.delivery.summary import _han_clause, _where
from chonaikai.delivery.tables import Delivery
from chonaikai.params import ascii_int, optional_int
from chonaikai.settings import get_settings
from chonaikai.tenancy.scope import Tenant

DONE = {"sent", "printed"}  # a first delivery that is done
QUEUED = ("email", "line")  # channels the worker sends again; paper is reprinted by people


@dataclass
class ReminderPlan:
    due: dict[str, list[int]] = field(default_factory=dict)  # channel -> delivery ids to remind now
    too_soon: int = 0  # unconfirmed, but contacted less than min_hours ago
    not_yet_delivered: int = 0  # unconfirmed, first delivery not done yet (pending, sending)
    failed: int = 0  # unconfirmed, the delivery failed (fix the address first)
    next_allowed_at: datetime | None = None  # when the first of the too-soon ones may be reminded

    @property
    def count(self) -> int:
        return sum(len(ids) for ids in self.due.values())


def plan(rows: Iterable[dict[str, Any]], now: datetime, min_hours: int) -> ReminderPlan:
    """Which unconfirmed deliveries to remind now. ``rows``: id, channel, status, sent_at,
    reminded_at, confirmed_at (a printed paper row has status "printed")."""
    interval = timedelta(hours=min_hours)
    result = ReminderPlan()
    for row in rows:
        if row.get("confirmed_at") is not None:
            continue
        last = row.get("reminded_at")  # the first delivery does not count: remind right after it
        if last is not None and now - last < interval:  # reminded lately (perhaps still on its way)
            result.too_soon += 1
            allowed = last + interval
            if result.next_allowed_at is None or allowed < result.next_allowed_at:
                result.next_allowed_at = allowed
            continue
        if row["status"] == "failed":
            result.failed += 1
            continue
        if row["status"] not in DONE:  # first delivery (or an old reminder) not done yet
            result.not_yet_delivered += 1
            continue
        result.due.setdefault(row["channel"], []).append(row["id"])
    return result


@dataclass(frozen=True)
class RemindResult:
    email: int = 0
    line: int = 0
    paper: int = 0  # households put on the reprint list (print them: ?paper=1&unconfirmed=1)
    too_soon: int = 0
    not_yet_delivered: int = 0
    failed: int = 0
    next_allowed_at: datetime | None = None
    min_hours: int = 12

    @property
    def count(self) -> int:
        return self.email + self.line + self.paper


async def remind(tenant: Tenant, access: Access, notice_id: int, *, now: datetime | None = None,
                 min_hours: int | None = None) -> RemindResult:
    """Remind every unconfirmed household of this notice (within ``access``: a 班長 their 班)
    through its own channel, as far as the rule allows; says what it did and, for the rest, why not."""
    now = now or datetime.now(UTC)
    min_hours = get_settings().reminder_min_hours if min_hours is None else min_hours
    rows = await _where(
        tenant.select(Delivery, Delivery.id, Delivery.channel, Delivery.status, Delivery.sent_at,
                      Delivery.reminded_at, Delivery.confirmed_at),
        Delivery.notice == notice_id,
        Delivery.confirmed_at.is_null(),
        _han_clause(access),
    )
    result = plan(rows, now, min_hours)
    queued = [i for channel in QUEUED for i in result.due.get(channel, [])]
    paper = result.due.get("paper", [])
    if queued or paper:
        async with write_transaction():
            await store.remind(tenant.id, queued, paper, now)
    return RemindResult(
        email=len(result.due.get("email", [])), line=len(result.due.get("line", [])), paper=len(paper),
        too_soon=result.too_soon, not_yet_delivered=result.not_yet_delivered, failed=result.failed,
        next_allowed_at=result.next_allowed_at, min_hours=min_hours,
    )


LOCAL_TZ = ZoneInfo("Asia/Tokyo")


def local_text(moment: datetime | None) -> str:
    """「12月5日 21:00」: when the next reminder is allowed, in local time."""
    if moment is None:
        return ""
    local = moment.astimezone(LOCAL_TZ)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def to_query(result: RemindResult) -> dict[str, str]:
    """The result in the address the page is sent back to (no JavaScript: POST, then redirect)."""
    query = {"reminded": f"{result.email}.{result.line}.{result.paper}", "too_soon": str(result.too_soon),
             "not_yet": str(result.not_yet_delivered), "failed": str(result.failed)}
    if result.next_allowed_at is not None:
        query["next"] = str(int(result.next_allowed_at.timestamp()))
    return query


def from_query(reminded: str, too_soon: str = "", not_yet: str = "", failed: str = "", next: str = "") -> RemindResult | None:
    """Back from ``to_query``; None without a result; a value that is not ASCII digits is a 400."""
    counts = [optional_int(value) or 0 for value in (too_soon, not_yet, failed)]
    when = optional_int(next, "日時")
    if not reminded:
        return None
    parts = [ascii_int(part, 10**8) for part in reminded.split(".")]
    if len(parts) != 3 or any(part is None for part in parts):
        raise ValidationException("再送の結果の指定が正しくありません")
    return RemindResult(
        email=parts[0], line=parts[1], paper=parts[2],  # type: ignore[arg-type]
        too_soon=counts[0], not_yet_delivered=counts[1], failed=counts[2],
        next_allowed_at=datetime.fromtimestamp(when, UTC) if when else None,
        min_hours=get_settings().reminder_min_hours,
    )
