"""Who has read a notice, for officers: the summary (aggregated in SQL), the household list,
an officer's tick, and 「未確認の世帯に再送」."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from piccolo.query.functions.aggregate import Count

from chonaikai.accounts.principal import Access
from chonaikai.db import write_transaction
from chonaikai.delivery import store
from chonaikai.delivery.readlink import CHANNEL_LABELS
from chonaikai.delivery.tables import Delivery
from chonaikai.roster.tables import Han
from chonaikai.tenancy.scope import Tenant

RESEND_INTERVAL = timedelta(hours=24)
STATUS_LABELS = {
    "pending": "送信待ち",
    "sending": "送信中",
    "sent": "送りました",
    "failed": "届きませんでした",
    "printed": "印刷しました",
}
PAPER_PENDING_LABEL = "印刷待ち"
CONFIRMED_VIA_LABELS = {"web": "リンクから", "line": "LINEから", "paper": "回覧板", "officer": "役員が記入"}
NO_HAN = "班なし"
# The receipts page's 「状態」 filter: name -> label.
STATES = {"unconfirmed": "まだ確認していない", "confirmed": "確認済み", "failed": "届かなかった"}
SHORT_ADDRESS = 12


def short_address(address: str | None) -> str:
    """Enough of an address to tell two same-name households apart on a phone: the end of it
    (the 番地・号), at most SHORT_ADDRESS characters."""
    address = (address or "").strip()
    return address if len(address) <= SHORT_ADDRESS else "…" + address[-(SHORT_ADDRESS - 1):]


def status_label(channel: str, status: str) -> str:
    if channel == "paper" and status == "pending":
        return PAPER_PENDING_LABEL
    return STATUS_LABELS.get(status, status)


# -- officers ------------------------------------------------------------------------------


def _han_clause(access: Access):
    """Narrows deliveries to the 班 a 班長 leads (None: the whole association)."""
    if access.han_ids is None:
        return None
    if not access.han_ids:
        return Delivery.id == -1
    return Delivery.household.han.is_in(sorted(access.han_ids))


def _where(query, *clauses):
    for clause in clauses:
        if clause is not None:
            query = query.where(clause)
    return query


@dataclass
class Summary:
    total: int = 0
    confirmed: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    by_channel: dict[str, dict[str, int]] = field(default_factory=dict)  # channel -> total/confirmed
    by_han: list[dict[str, Any]] = field(default_factory=list)  # han_id, name, total, confirmed

    @property
    def percent(self) -> int:
        return round(100 * self.confirmed / self.total) if self.total else 0


async def summarize(tenant: Tenant, access: Access, notice_id: int) -> Summary:
    """Counts per status, per channel and per 班: three GROUP BY queries."""
    han_clause = _han_clause(access)
    base = Delivery.notice == notice_id
    summary = Summary()
    statuses = await _where(
        tenant.select(Delivery, Delivery.status, Count(alias="n")), base, han_clause
    ).group_by(Delivery.status)
    summary.by_status = {row["status"]: row["n"] for row in statuses}
    by_channel = await _where(
        tenant.select(Delivery, Delivery.channel, Count(alias="n"), Count(Delivery.confirmed_at, alias="confirmed")),
        base,
        han_clause,
    ).group_by(Delivery.channel)
    summary.by_channel = {row["channel"]: {"total": row["n"], "confirmed": row["confirmed"]} for row in by_channel}
    summary.total = sum(row["n"] for row in by_channel)
    summary.confirmed = sum(row["confirmed"] for row in by_channel)
    by_han = await _where(
        tenant.select(
            Delivery, Delivery.household.han.as_alias("han_id"), Count(alias="n"),
            Count(Delivery.confirmed_at, alias="confirmed"),
        ),
        base,
        han_clause,
    ).group_by(Delivery.household.han)
    names = {row["id"]: (row["position"], row["name"]) for row in await tenant.select(Han, Han.id, Han.name, Han.position)}
    rows = [
        {
            "han_id": row["han_id"],
            "name": names.get(row["han_id"], (0, NO_HAN))[1] if row["han_id"] else NO_HAN,
            "position": names.get(row["han_id"], (1 << 30, ""))[0] if row["han_id"] else 1 << 31,
            "total": row["n"],
            "confirmed": row["confirmed"],
            "percent": round(100 * row["confirmed"] / row["n"]) if row["n"] else 0,
        }
        for row in by_han
    ]
    summary.by_han = sorted(rows, key=lambda r: (r["position"], r["name"]))
    return summary


async def households(
    tenant: Tenant,
    access: Access,
    notice_id: int,
    *,
    unconfirmed_only: bool = False,
    han_id: int | None = None,
    channel: str | None = None,
    delivery_ids: list[int] | None = None,
    limit: int = 2000,
    state: str | None = None,
) -> list[dict[str, Any]]:
    if unconfirmed_only:
        state = "unconfirmed"
    query = tenant.select(
        Delivery,
        Delivery.id,
        Delivery.household,
        Delivery.household.name.as_alias("name"),
        Delivery.household.address.as_alias("address"),
        Delivery.household.han.as_alias("han_id"),
        Delivery.household.han.name.as_alias("han"),
        Delivery.channel,
        Delivery.status,
        Delivery.attempts,
        Delivery.last_error,
        Delivery.sent_at,
        Delivery.opened_at,
        Delivery.confirmed_at,
        Delivery.confirmed_via,
        Delivery.reminded_at,
        Delivery.next_attempt_at,
    )
    query = _where(
        query,
        Delivery.notice == notice_id,
        _han_clause(access),
        Delivery.confirmed_at.is_null() if state == "unconfirmed" else None,
        Delivery.confirmed_at.is_not_null() if state == "confirmed" else None,
        (Delivery.status == "failed") if state == "failed" else None,
        (Delivery.household.han == han_id) if han_id else None,
        (Delivery.channel == channel) if channel else None,
        Delivery.id.is_in(delivery_ids) if delivery_ids else None,
    )
    rows = await query.order_by(Delivery.household.han.position, Delivery.household.kana, Delivery.household.id).limit(limit)
    for row in rows:
        row["han"] = row["han"] or NO_HAN
        row["channel_label"] = CHANNEL_LABELS.get(row["channel"], row["channel"])
        row["status_label"] = status_label(row["channel"], row["status"])
        row["confirmed_via_label"] = CONFIRMED_VIA_LABELS.get(row["confirmed_via"], "")
        row["short_address"] = short_address(row["address"])
    return rows


async def tick(
    tenant: Tenant, access: Access, notice_id: int, household_id: int, now: datetime | None = None
) -> dict[str, Any] | None:
    """An officer records a confirmation by hand (told in person, paper 回覧板 returned).
    Returns the updated row, or None when the household is not theirs to tick."""
    now = now or datetime.now(UTC)
    row = await _where(
        tenant.select(Delivery, Delivery.id),
        Delivery.notice == notice_id,
        Delivery.household == household_id,
        _han_clause(access),
    ).first()
    if row is None:
        return None
    async with write_transaction():
        await store.confirm_ids(tenant.id, [row["id"]], "officer", now)
    [updated] = await households_by_ids(tenant, access, notice_id, [row["id"]])
    return updated


async def households_by_ids(tenant: Tenant, access: Access, notice_id: int, ids: list[int]) -> list[dict[str, Any]]:
    return await households(tenant, access, notice_id, delivery_ids=ids)


@dataclass(frozen=True)
class ResendResult:
    queued: int  # e-mails queued again
    too_soon: int  # unconfirmed e-mail households that got one in the last 24 hours


async def resend_unconfirmed(
    tenant: Tenant, access: Access, notice_id: int, now: datetime | None = None
) -> ResendResult:
    """「未確認の世帯に再送」: e-mail again to households that have not confirmed, at most once in
    24 hours per household (counting the first send)."""
    now = now or datetime.now(UTC)
    cutoff = now - RESEND_INTERVAL
    unconfirmed = _where(
        tenant.select(Delivery, Delivery.id, Delivery.sent_at, Delivery.reminded_at),
        Delivery.notice == notice_id,
        Delivery.channel == "email",
        Delivery.status == "sent",
        Delivery.confirmed_at.is_null(),
        _han_clause(access),
    )
    rows = await unconfirmed
    due = [
        row["id"]
        for row in rows
        if max(t for t in (row["sent_at"], row["reminded_at"], cutoff - timedelta(days=1)) if t is not None) <= cutoff
    ]
    if due:
        async with write_transaction():
            await store.requeue_unconfirmed(tenant.id, due, now)
    return ResendResult(queued=len(due), too_soon=len(rows) - len(due))
