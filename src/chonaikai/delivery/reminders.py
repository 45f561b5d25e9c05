"""Reminders: 「まだ確認していない世帯に、もう一度」 through each household's own channel.

- e-mail and LINE: the household's delivery goes out again (LINE with the same 「読みました」
  button and a fresh retry key, so LINE does not drop it as a repeat);
- paper: the household is put on the reprint list of its 班 (the print page with
  ``?paper=1&unconfirmed=1``).

A household may be reminded as soon as its first delivery is done (sent, or printed for paper),
and at most once per ``CHONAIKAI_REMINDER_MIN_HOURS`` (the first delivery counts as the last
contact). Each reminder is recorded on the household's delivery row (``reminders`` +1,
``reminded_at``), so receipts show it per household as a second attempt.

``plan`` is the rule alone (no database), so it can be read and tested on its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

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
        if row["status"] == "failed":
            result.failed += 1
            continue
        if row["status"] not in DONE and not (row["status"] == "pending" and row.get("reminded_at")):
            result.not_yet_delivered += 1
            continue
        last = max((t for t in (row.get("sent_at"), row.get("reminded_at")) if t is not None), default=None)
        if last is not None and now - last < interval:
            result.too_soon += 1
            allowed = last + interval
            if result.next_allowed_at is None or allowed < result.next_allowed_at:
                result.next_allowed_at = allowed
            continue
        if row["status"] == "pending":  # already queued again and not sent yet
            result.not_yet_delivered += 1
            continue
        result.due.setdefault(row["channel"], []).append(row["id"])
    return result
