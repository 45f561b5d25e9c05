"""A LINE text reply 「無事」 (or 「無事です」, 「ぶじ」 …) from a linked household counts as 無事 for
the association's open 安否確認 — the quickest answer an old phone can give."""

from __future__ import annotations

import re
import unicodedata

from chonaikai.line.webhook import register_text_answer
from chonaikai.safety import logic, wording
from chonaikai.safety.tables import SafetyCheck
from chonaikai.tenancy.scope import Tenant

SAFE_WORDS = frozenset({"無事", "無事です", "ぶじ", "ぶじです", "ブジ", "ブジです", "無事でした", "全員無事", "家族全員無事"})
_NOISE = re.compile(r"[\s。、．，.,!！?？~〜ー－\-☺️🙂😊👍]+")


def is_safe_text(text: str) -> bool:
    folded = _NOISE.sub("", unicodedata.normalize("NFKC", text or ""))
    return folded in SAFE_WORDS


@register_text_answer
async def answer_text(tenant: Tenant, household_id: int, text: str) -> str | None:
    """Record 無事 for the household when the text says so and a check is open; the reply to send,
    or None (not an answer: the webhook replies as usual)."""
    if not is_safe_text(text):
        return None
    check = await (
        tenant.select(SafetyCheck, SafetyCheck.id)
        .where(SafetyCheck.closed_at.is_null())
        .order_by(SafetyCheck.drill)  # a real check before a drill when both are open
        .order_by(SafetyCheck.id, ascending=False)
        .first()
    )
    if check is None:
        return None
    try:
        await logic.record_answer(tenant, check["id"], household_id, logic.SAFE, via="line")
    except logic.SafetyError as refused:
        return str(refused)
    return wording.reply("thanks_safe")
