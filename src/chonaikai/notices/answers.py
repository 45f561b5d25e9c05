"""Where answers are kept: the only module that reads or writes them.

One current answer per household per notice (the last one counts); every earlier answer stays
as history. Each answer says how it came (``via``: web | email | line | paper | officer | visit |
phone | cloth) and who keyed it in (``entered_by``, an account id, for paper and phone answers).

This is an interim store (table ``notice_answer``) with the same shape as the delivery core's
answers ledger; when that lands, these functions call it instead and nothing else changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chonaikai.db import write_transaction
from chonaikai.notices.questions import AnswerInput
from chonaikai.notices.tables import NoticeAnswer
from chonaikai.tenancy.scope import Tenant

VIAS = ("web", "email", "line", "paper", "officer", "visit", "phone", "cloth")
VIA_LABELS = {
    "web": "リンクから",
    "email": "メールから",
    "line": "LINEから",
    "paper": "紙（返信票・回覧板）",
    "officer": "役員が記入",
    "visit": "訪問で",
    "phone": "電話で",
    "cloth": "布・旗の目印",
}


@dataclass(frozen=True)
class StoredAnswer:
    household_id: int
    value: str
    people: int | None
    comment: str
    detail: dict[str, Any] = field(default_factory=dict)
    via: str = "web"
    entered_by: int | None = None
    answered_at: datetime | None = None


def _stored(row: dict[str, Any]) -> StoredAnswer:
    return StoredAnswer(
        household_id=row["household"], value=row["value"], people=row["people"], comment=row["comment"],
        detail=json.loads(row["detail"]) if row["detail"] else {}, via=row["via"], entered_by=row["entered_by"],
        answered_at=row["answered_at"],
    )


_COLUMNS = (
    NoticeAnswer.household, NoticeAnswer.value, NoticeAnswer.people, NoticeAnswer.comment, NoticeAnswer.detail,
    NoticeAnswer.via, NoticeAnswer.entered_by, NoticeAnswer.answered_at,
)


async def record_answer(
    tenant: Tenant,
    notice_id: int,
    household_id: int,
    answer: AnswerInput,
    *,
    via: str,
    entered_by: int | None = None,
    now: datetime | None = None,
) -> tuple[StoredAnswer, bool]:
    """Make ``answer`` the household's current answer. Returns it and whether anything changed:
    the same answer given again (a double tap, a retried post) records nothing new."""
    if via not in VIAS:
        raise ValueError(f"unknown via: {via}")
    now = now or datetime.now(UTC)
    detail = json.dumps(answer.detail, ensure_ascii=False, sort_keys=True) if answer.detail else ""
    for attempt in range(RECORD_ATTEMPTS):
        try:
            return await _record(tenant, notice_id, household_id, answer, detail, via, entered_by, now)
        except Exception as error:
            # Answers of one household at the same moment (PostgreSQL): the unique index on the
            # current answer let one in; the others are recorded after it (the last counts).
            if not _is_unique_violation(error) or attempt == RECORD_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


RECORD_ATTEMPTS = 8


def _is_unique_violation(error: Exception) -> bool:
    name = type(error).__name__
    return name in ("UniqueViolationError", "IntegrityError") or "UNIQUE constraint" in str(error)


async def _record(
    tenant: Tenant, notice_id: int, household_id: int, answer: AnswerInput, detail: str, via: str,
    entered_by: int | None, now: datetime,
) -> tuple[StoredAnswer, bool]:
    async with write_transaction():
        current = await tenant.select(NoticeAnswer, *_COLUMNS).where(
            (NoticeAnswer.notice == notice_id) & (NoticeAnswer.household == household_id)
            & (NoticeAnswer.current == True)  # noqa: E712
        ).first()
        if current and (current["value"], current["people"], current["comment"], current["detail"]) == (
            answer.value, answer.people, answer.comment, detail
        ):
            return _stored(current), False
        if current:
            await tenant.update(NoticeAnswer, {NoticeAnswer.current: False}).where(
                (NoticeAnswer.notice == notice_id) & (NoticeAnswer.household == household_id)
                & (NoticeAnswer.current == True)  # noqa: E712
            )
        row = tenant.new(
            NoticeAnswer, notice=notice_id, household=household_id, value=answer.value, people=answer.people,
            comment=answer.comment, detail=detail, via=via, entered_by=entered_by, current=True, answered_at=now,
        )
        await row.save()
    return StoredAnswer(household_id, answer.value, answer.people, answer.comment, dict(answer.detail), via,
                        entered_by, now), True


async def current_answers(
    tenant: Tenant, notice_id: int, household_ids: Iterable[int] | None = None
) -> dict[int, StoredAnswer]:
    """Each household's current answer to a notice (households without one are absent)."""
    query = tenant.select(NoticeAnswer, *_COLUMNS).where(
        (NoticeAnswer.notice == notice_id) & (NoticeAnswer.current == True)  # noqa: E712
    )
    if household_ids is not None:
        ids = list(household_ids)
        if not ids:
            return {}
        query = query.where(NoticeAnswer.household.is_in(ids))
    return {row["household"]: _stored(row) for row in await query}


async def answer_history(tenant: Tenant, notice_id: int, household_id: int) -> list[StoredAnswer]:
    """Every answer the household gave to the notice, oldest first."""
    rows = await tenant.select(NoticeAnswer, *_COLUMNS).where(
        (NoticeAnswer.notice == notice_id) & (NoticeAnswer.household == household_id)
    ).order_by(NoticeAnswer.id)
    return [_stored(row) for row in rows]
