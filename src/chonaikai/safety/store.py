"""The answers of a check, kept in the one answers ledger of notices (``notices/answers.py``):
the check's notice is the content, one current answer per household (the newest), history kept.

Stored as the answer: the choice's text (「無事です」…, or 「応答なし」 from a 班長's visit), the note
(けが・建物・薬・その他) as its comment, who keyed it in as ``entered_by`` with their role label in
``detail``. Here they are read back as the keys the rest of ``safety`` uses (safe, need_help …).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from chonaikai.notices import answers
from chonaikai.notices.questions import AnswerInput
from chonaikai.safety.question import TEXT_OF, VALUE_OF
from chonaikai.tenancy.scope import Tenant


async def record(
    tenant: Tenant,
    notice_id: int,
    household_id: int,
    value: str,
    *,
    note: str,
    via: str,
    entered_by: int | None,
    entered_by_label: str,
    at: datetime,
) -> None:
    detail = {"entered_by_label": entered_by_label} if entered_by_label else {}
    await answers.record_answer(
        tenant, notice_id, household_id, AnswerInput(value=TEXT_OF[value], comment=note, detail=detail),
        via=via, entered_by=entered_by, now=at,
    )


def _row(answer: answers.StoredAnswer) -> dict[str, Any]:
    return {
        "household": answer.household_id,
        "value": VALUE_OF.get(answer.value, "unknown"),
        "note": answer.comment,
        "via": answer.via,
        "entered_by": answer.entered_by,
        "entered_by_label": answer.detail.get("entered_by_label", ""),
        "answered_at": answer.answered_at,
    }


async def current(tenant: Tenant, notice_id: int) -> dict[int, dict[str, Any]]:
    """household id → its answer that counts (the newest)."""
    return {hid: _row(answer) for hid, answer in (await answers.current_answers(tenant, notice_id)).items()}


async def history(tenant: Tenant, notice_id: int, household_id: int) -> list[dict[str, Any]]:
    """Every answer for one household, oldest first."""
    return [_row(answer) for answer in await answers.answer_history(tenant, notice_id, household_id)]


async def counts(checks: Sequence[tuple[Tenant, int]]) -> dict[int, dict[str, int]]:
    """notice id → {value: households} over the current answers, for the city's counts."""
    result: dict[int, dict[str, int]] = {}
    for tenant, notice_id in checks:
        per_value: dict[str, int] = {}
        for answer in (await answers.current_answers(tenant, notice_id)).values():
            value = VALUE_OF.get(answer.value, "unknown")
            per_value[value] = per_value.get(value, 0) + 1
        result[notice_id] = per_value
    return result
