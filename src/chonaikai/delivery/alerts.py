"""Alerts: messages to officers' accounts (not households), through an outbox of their own.

A city circular landing in an association's inbox, a city-wide safety check: the officers are
told at once by e-mail and, when their own household has LINE linked, on LINE. The package that
owns the event registers a *source* for its ``kind`` (``register_source``): given the reference
(an inbox entry, a check) and an account, it makes the ``AlertMessage`` at send time, so links
in it are fresh. The transports (e-mail, LINE) are registered at start-up too
(``chonaikai.wiring``), so this module names no channel's code.

Rows are claimed with a lease, sent, and retried with backoff like deliveries; the same
(kind, ref_id, account, channel) is never enqueued twice (unique index, ON CONFLICT DO NOTHING).
An officer without an e-mail address gets a row in status ``no_address``, so the city sees whom
nobody could reach.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from chonaikai.db import in_ids, is_postgres, write_transaction
from chonaikai.delivery.tables import DeliveryAlert
from chonaikai.settings import get_settings

log = logging.getLogger(__name__)

SENT, RETRY, PERMANENT = "sent", "retry", "permanent"
MAX_BACKOFF = timedelta(hours=6)
REASON_NO_TRANSPORT = "送る仕組みが用意されていません。"
REASON_GONE = "お知らせする内容がなくなりました。"


@dataclass(frozen=True)
class AlertMessage:
    """One alert for one officer: the e-mail and, for LINE, a short text and the user ids."""

    subject: str
    text: str
    line_text: str = ""
    line_user_ids: tuple[str, ...] = ()
    from_name: str = ""
    email: str = ""  # the address (the source knows the account)


@dataclass(frozen=True)
class AlertRecipient:
    account_id: int
    email: str
    line: bool = False  # the account has LINE users to push to


@dataclass
class AlertCounts:
    sent: int = 0
    failed: int = 0
    pending: int = 0
    no_address: int = 0
    line_sent: int = 0
    officers: set[int] = field(default_factory=set)

    @property
    def reached(self) -> int:
        return self.sent


Source = Callable[[int, int], Awaitable[AlertMessage | None]]
# transport(association_id, message, retry_key) -> (SENT | RETRY | PERMANENT, reason in plain Japanese)
Transport = Callable[[int, AlertMessage, str], Awaitable[tuple[str, str]]]

_sources: dict[str, Source] = {}
_transports: dict[str, Transport] = {}


def register_source(kind: str, render: Source) -> None:
    _sources[kind] = render


def register_transport(channel: str, send: Transport) -> None:
    _transports[channel] = send


def _has_address(email: str) -> bool:
    local, at, domain = (email or "").partition("@")
    return bool(local and at and domain)


async def enqueue_alerts(
    association_id: int, kind: str, ref_id: int, recipients: Sequence[AlertRecipient], now: datetime | None = None
) -> int:
    """One row per officer and channel (e-mail always — ``no_address`` without one — and LINE
    when the officer has it). Idempotent. Returns how many rows were new."""
    now = now or datetime.now(UTC)
    rows: list[tuple[int, str, str]] = []
    for recipient in recipients:
        rows.append((recipient.account_id, "email", "pending" if _has_address(recipient.email) else "no_address"))
        if recipient.line:
            rows.append((recipient.account_id, "line", "pending"))
    created = 0
    async with write_transaction():
        for account_id, channel, status in rows:
            result = await DeliveryAlert.raw(
                "INSERT INTO delivery_alert (association, kind, ref_id, account, channel, status, attempts, "
                "next_attempt_at, last_error, created_at) VALUES ({}, {}, {}, {}, {}, {}, 0, {}, '', {}) "
                "ON CONFLICT (kind, ref_id, account, channel) DO NOTHING RETURNING id",
                association_id, kind, ref_id, account_id, channel, status,
                now if status == "pending" else None, now,
            ).run()
            created += len(result)
    return created


async def _claim(now: datetime, limit: int, worker_id: str) -> list[dict[str, Any]]:
    lease = now + timedelta(seconds=get_settings().delivery_lease_seconds)
    due = ("(status = 'pending' AND next_attempt_at <= {}) OR (status = 'sending' AND lease_until < {})")
    lock = " FOR UPDATE SKIP LOCKED" if is_postgres() else ""
    async with write_transaction():
        return await DeliveryAlert.raw(
            "UPDATE delivery_alert SET status = 'sending', lease_until = {}, claimed_by = {}, attempts = attempts + 1 "
            f"WHERE id IN (SELECT id FROM delivery_alert WHERE {due} ORDER BY id LIMIT {{}}{lock}) "
            "RETURNING id, association, kind, ref_id, account, channel, attempts",
            lease, worker_id, now, now, limit,
        ).run()


def _backoff(attempt: int) -> timedelta:
    base = get_settings().delivery_retry_seconds * (2 ** max(0, attempt - 1))
    return min(timedelta(seconds=base / 2 + random.uniform(0, base / 2)), MAX_BACKOFF)


async def _record(row: dict[str, Any], kind: str, reason: str, now: datetime) -> None:
    settings = get_settings()
    if kind == SENT:
        values = {DeliveryAlert.status: "sent", DeliveryAlert.sent_at: now, DeliveryAlert.last_error: ""}
    elif kind == RETRY and row["attempts"] < settings.delivery_max_attempts:
        values = {DeliveryAlert.status: "pending", DeliveryAlert.next_attempt_at: now + _backoff(row["attempts"]),
                  DeliveryAlert.last_error: reason}
    else:
        values = {DeliveryAlert.status: "failed", DeliveryAlert.last_error: reason}
    values[DeliveryAlert.lease_until] = None
    await DeliveryAlert.update(values).where((DeliveryAlert.id == row["id"]) & (DeliveryAlert.status == "sending"))


async def send_due_alerts(now: datetime | None = None, limit: int = 200) -> int:
    """Claim the alerts that are due, make each message, send it; returns how many went out."""
    worker_id = f"alerts-{uuid.uuid4().hex[:12]}"
    sent = 0
    while True:
        now_round = now or datetime.now(UTC)
        rows = await _claim(now_round, limit, worker_id)
        if not rows:
            return sent
        for row in rows:
            outcome, reason = await _send_one(row)
            await _record(row, outcome, reason, datetime.now(UTC) if now is None else now)
            sent += outcome == SENT
        if len(rows) < limit:
            return sent


async def _send_one(row: dict[str, Any]) -> tuple[str, str]:
    source = _sources.get(row["kind"])
    transport = _transports.get(row["channel"])
    if source is None or transport is None:
        return PERMANENT, REASON_NO_TRANSPORT
    try:
        message = await source(row["ref_id"], row["account"])
        if message is None:
            return PERMANENT, REASON_GONE
        if row["channel"] == "line" and not message.line_user_ids:
            return PERMANENT, "LINEのつながりがなくなりました。"
        # One key per alert row: a retry of a LINE push that was accepted is not sent twice.
        key = str(uuid.uuid5(uuid.NAMESPACE_URL, f"chonaikai-alert:{row['id']}"))
        return await transport(row["association"], message, key)
    except Exception:  # one officer's failure must not stop the others; tried again later
        log.exception("alert %s (%s) could not be sent", row["id"], row["kind"])
        return RETRY, "送信できませんでした。しばらくしてからもう一度試します。"


async def alert_summary(kind: str, ref_ids: Sequence[int]) -> dict[int, AlertCounts]:
    """Per reference: how many officers' e-mails were sent, failed, are pending, had no address;
    and how many LINE messages went out."""
    result: dict[int, AlertCounts] = {int(ref): AlertCounts() for ref in ref_ids}
    if not ref_ids:
        return result
    ids_sql, value = in_ids(list(ref_ids))
    rows = await DeliveryAlert.raw(
        f"SELECT ref_id, account, channel, status FROM delivery_alert WHERE kind = {{}} AND ref_id {ids_sql}",
        kind, value,
    ).run()
    for row in rows:
        counts = result.setdefault(row["ref_id"], AlertCounts())
        counts.officers.add(row["account"])
        if row["channel"] == "line":
            counts.line_sent += row["status"] == "sent"
            continue
        if row["status"] == "sent":
            counts.sent += 1
        elif row["status"] == "failed":
            counts.failed += 1
        elif row["status"] == "no_address":
            counts.no_address += 1
        else:
            counts.pending += 1
    return result


__all__ = [
    "AlertCounts", "AlertMessage", "AlertRecipient", "alert_summary", "enqueue_alerts", "register_source",
    "register_transport", "send_due_alerts",
]
