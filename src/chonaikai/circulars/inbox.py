"""In the association: the 「市からの回覧」 inbox — open, forward (published through the notices'
publishing service), decline."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from chonaikai.circulars.rules import NOTE_MAX
from chonaikai.circulars.sending import _city_name, _notice_row, notice_body
from chonaikai.circulars.tables import (
    Circular,
    CircularAttachment,
    CircularEntry,
)
from chonaikai.db import write_transaction
from chonaikai.notices import publishing
from chonaikai.roster.tables import Han
from chonaikai.tenancy.scope import Tenant

# ---------------------------------------------------------------------------------------------
# In the association: the 「市からの回覧」 inbox


class EntryError(ValueError):
    def __init__(self, japanese: str) -> None:
        super().__init__(japanese)
        self.japanese = japanese


async def inbox(tenant: Tenant) -> list[dict[str, Any]]:
    entries = await tenant.select(
        CircularEntry,
        CircularEntry.id,
        CircularEntry.state,
        CircularEntry.opened_at,
        CircularEntry.forwarded_at,
        CircularEntry.declined_at,
        CircularEntry.notice,
        CircularEntry.created_at,
        CircularEntry.circular.title,
        CircularEntry.circular.category,
        CircularEntry.circular.answer_by,
        CircularEntry.circular.needs_confirmation,
    ).order_by(CircularEntry.created_at, ascending=False)
    return [_flatten(entry) for entry in entries]


def _flatten(row: dict[str, Any]) -> dict[str, Any]:
    return {key.replace("circular.", "circular_"): value for key, value in row.items()}


async def entry_detail(tenant: Tenant, entry_id: int) -> dict[str, Any] | None:
    entry = await tenant.select(CircularEntry).where(CircularEntry.id == entry_id).first()
    if entry is None:
        return None
    circular = await Circular.select().where(Circular.id == entry["circular"]).first().output(load_json=True)
    attachments = await CircularAttachment.select().where(CircularAttachment.circular == entry["circular"]).order_by(
        CircularAttachment.position
    )
    city_name = await _city_name(circular["city"])
    return {"entry": entry, "circular": circular, "attachments": attachments, "city_name": city_name}


async def open_entry(tenant: Tenant, entry_id: int, now: datetime | None = None) -> None:
    """An officer looked at it: the city sees 「開封」 with the time (first look only)."""
    now = now or datetime.now(UTC)
    await tenant.update(CircularEntry, {CircularEntry.state: "opened", CircularEntry.opened_at: now}).where(
        (CircularEntry.id == entry_id) & (CircularEntry.state == "pending")
    )


async def forward_entry(
    tenant: Tenant,
    entry_id: int,
    *,
    cover_note: str = "",
    audience: str = "all",
    han_ids: Sequence[int] = (),
    account_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """Post the circular on the association's board and deliver it. Returns the notice id."""
    now = now or datetime.now(UTC)
    cover_note = (cover_note or "").strip()
    if len(cover_note) > NOTE_MAX:
        raise EntryError(f"ひとことは{NOTE_MAX}文字までです。")
    if audience not in ("all", "han", "officers"):
        raise EntryError("届ける相手を選んでください。")
    han_ids = sorted(set(han_ids))
    if audience == "han":
        if not han_ids:
            raise EntryError("届ける班を一つ以上選んでください。")
        known = {row["id"] for row in await tenant.select(Han, Han.id).where(Han.id.is_in(han_ids))}
        if set(han_ids) - known:
            raise EntryError("この町内会にない班が選ばれています。")
    detail = await entry_detail(tenant, entry_id)
    if detail is None:
        raise LookupError(entry_id)
    entry, circular = detail["entry"], detail["circular"]
    if entry["state"] in ("forwarded", "declined"):
        raise EntryError("この回覧はもう処理済みです。")
    body = await notice_body(circular, cover_note)
    async with write_transaction():
        await _claim_undecided(tenant, entry, account_id, now, {
            CircularEntry.state: "forwarded", CircularEntry.forwarded_at: now, CircularEntry.cover_note: cover_note,
        })
        try:
            [row] = await publishing.publish_new_notices(
                [_notice_row(circular, detail["city_name"], tenant.id, body, now, audience=audience, author=account_id)],
                {0: han_ids} if audience == "han" else None,
            )
        except publishing.PublishRefused as refused:  # nothing is forwarded: the claim rolls back
            raise EntryError(str(refused)) from None
        notice_id = row["id"]
        await tenant.update(CircularEntry, {CircularEntry.notice: notice_id}).where(CircularEntry.id == entry_id)
    return notice_id


async def _claim_undecided(
    tenant: Tenant, entry: dict[str, Any], account_id: int | None, now: datetime, outcome: dict[Any, Any]
) -> None:
    """Moves an entry still waiting (pending or opened) to its outcome, once: a second officer
    acting at the same moment finds it handled and changes nothing."""
    claimed = await tenant.update(
        CircularEntry,
        {**outcome, CircularEntry.opened_at: entry["opened_at"] or now, CircularEntry.handled_by: account_id},
    ).where((CircularEntry.id == entry["id"]) & CircularEntry.state.is_in(["pending", "opened"])).returning(
        CircularEntry.id
    )
    if not claimed:  # someone else handled it a moment ago
        raise EntryError("この回覧はもう処理済みです。")


async def decline_entry(
    tenant: Tenant, entry_id: int, reason: str, account_id: int | None = None, now: datetime | None = None
) -> None:
    """「この地区には関係ない」: recorded with the reason, which the city sees."""
    now = now or datetime.now(UTC)
    reason = (reason or "").strip()
    if not reason:
        raise EntryError("回覧しない理由を書いてください。市の担当者に伝わります。")
    if len(reason) > NOTE_MAX:
        raise EntryError(f"理由は{NOTE_MAX}文字までです。")
    entry = await tenant.select(CircularEntry, CircularEntry.id, CircularEntry.opened_at).where(
        CircularEntry.id == entry_id
    ).first()
    if entry is None:
        raise LookupError(entry_id)
    await _claim_undecided(tenant, entry, account_id, now, {
        CircularEntry.state: "declined", CircularEntry.declined_at: now, CircularEntry.decline_reason: reason,
    })
