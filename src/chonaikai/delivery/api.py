"""The delivery core's public API: the one door other packages use.

Nothing outside ``chonaikai.delivery`` writes the ``delivery`` table or mints read-link
tokens; they call these functions (the statements are in ``store.py``). See
docs/architecture.md for the reference with examples.

Enqueue      ``enqueue(content_ids, kind="notice")`` — bulk, idempotent, joins the caller's
             transaction.
Claim/record ``Worker`` (worker.py): claims due rows per registered channel, hands them to the
             channel's sender, records each ``Outcome``.
Paper        ``mark_printed(...)``, ``record_paper_ticks(...)``.
Answers      ``confirm_by_token`` (read link), ``confirm_by_household`` (LINE postback, the
             board), ``officer_tick`` (who-has-read page), ``record_paper_ticks`` (paper sheet).
Reminders    ``remind(tenant, access, notice_id)`` — each unconfirmed household through its own
             channel (e-mail, LINE again; paper: the reprint list), at most once per
             ``CHONAIKAI_REMINDER_MIN_HOURS``; ``RemindResult`` says what went and, if nothing, why.
Alerts       ``enqueue_alerts`` / ``send_due_alerts`` / ``alert_summary``: messages to officers'
             accounts (a city circular arrived), sources registered per kind
             (``register_alert_source``), transports by ``chonaikai.wiring``.
Channels     ``set_retry_key(...)`` (a channel's idempotency key stored before its call),
             ``channels.register(ChannelSpec(...))`` at start-up.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from chonaikai.db import fetch_rows, is_postgres, write_transaction
from chonaikai.delivery import store
from chonaikai.delivery.alerts import (
    AlertMessage,
    AlertRecipient,
    alert_summary,
    enqueue_alerts,
    send_due_alerts,
)
from chonaikai.delivery.alerts import register_source as register_alert_source
from chonaikai.delivery.channels import FALLBACK, ChannelSpec, queued_channels, register
from chonaikai.delivery.content import NOTICE, SHARED_UNTIL, ContentSource, MailParts, ReadContent
from chonaikai.delivery.content import register as register_content
from chonaikai.delivery.outbox import enqueue
from chonaikai.delivery.readlink import confirm_by_token, open_by_token
from chonaikai.delivery.reminders import RemindResult
from chonaikai.delivery.reminders import remind as remind
from chonaikai.delivery.summary import tick
from chonaikai.delivery.tables import PRIORITY_NORMAL, PRIORITY_SAFETY, PRIORITY_URGENT, Delivery
from chonaikai.delivery.worker import Worker

__all__ = [
    "SHARED_UNTIL",
    "FALLBACK",
    "NOTICE",
    "PRIORITY_NORMAL",
    "PRIORITY_SAFETY",
    "PRIORITY_URGENT",
    "ChannelSpec",
    "ContentSource",
    "MailParts",
    "ReadContent",
    "AlertMessage",
    "AlertRecipient",
    "RemindResult",
    "alert_summary",
    "enqueue_alerts",
    "register_alert_source",
    "send_due_alerts",
    "Worker",
    "confirm_by_household",
    "confirm_by_token",
    "confirmation_of",
    "delivery_of",
    "enqueue",
    "mark_printed",
    "officer_tick",
    "open_by_household",
    "open_by_token",
    "record_paper_ticks",
    "register",
    "register_content",
    "remind",
    "requeue_unconfirmed",
    "reroute_pending",
    "set_retry_key",
]

officer_tick = tick


async def delivery_of(association_id: int, content_id: int, household_id: int) -> dict[str, Any] | None:
    """The row of one household for one piece of content (id, token, channel, status, times)."""
    return await Delivery.select(
        Delivery.id, Delivery.token, Delivery.channel, Delivery.status, Delivery.sent_at,
        Delivery.opened_at, Delivery.confirmed_at, Delivery.confirmed_via,
    ).where(
        (Delivery.association == association_id)
        & (Delivery.notice == content_id)
        & (Delivery.household == household_id)
    ).first()


async def confirmation_of(association_id: int, content_id: int, household_id: int | None) -> datetime | None:
    """When the household confirmed it (None: not yet, or no row)."""
    if household_id is None:
        return None
    key = (association_id, content_id, household_id)
    return (await confirmations_of([key])).get(key)


async def confirmations_of(keys: list[tuple[int, int, int]]) -> dict[tuple[int, int, int], datetime]:
    """When each (association, content, household) was confirmed, for many households at once
    (one statement, the unique (notice, household) index); those not confirmed or with no row
    are left out. Signed-in notice pages ask it together (notices.logic.kept_confirmation_of)."""
    if not keys:
        return {}
    if is_postgres():
        rows = await fetch_rows(
            "SELECT d.association, d.notice, d.household, d.confirmed_at FROM delivery d "
            "JOIN unnest({}::int[], {}::int[], {}::int[]) AS k(a, n, h) "
            "ON d.notice = k.n AND d.household = k.h AND d.association = k.a "
            "WHERE d.confirmed_at IS NOT NULL",
            [key[0] for key in keys], [key[1] for key in keys], [key[2] for key in keys],
        )
    else:
        rows = await fetch_rows(
            "SELECT d.association, d.notice, d.household, d.confirmed_at FROM json_each({}) AS k "
            "JOIN delivery d ON d.notice = json_extract(k.value, '$[1]') AND d.household = json_extract(k.value, '$[2]') "
            "AND d.association = json_extract(k.value, '$[0]') WHERE d.confirmed_at IS NOT NULL",
            json.dumps([list(key) for key in keys]),
        )
    return {(row["association"], row["notice"], row["household"]): row["confirmed_at"] for row in rows}


async def confirm_by_household(
    association_id: int,
    content_id: int,
    household_id: int,
    via: str,
    *,
    channel: str | None = None,
    opened: bool = False,
    now: datetime | None = None,
) -> datetime | None:
    """「読みました」 from a known household (LINE postback ``via="line"``, the board
    ``via="web"``). With ``channel`` a row is made first if the household has none (it joined
    after publishing; nothing is left to send); ``opened`` records the first visit too. The
    first confirmation counts; returns it (None: no row and none made)."""
    now = now or datetime.now(UTC)
    async with write_transaction():
        if channel is not None:
            await store.insert_confirmed(association_id, content_id, household_id, channel, now)
        await store.confirm_households(association_id, content_id, [household_id], via, now, opened=opened)
        return await confirmation_of(association_id, content_id, household_id)


async def open_by_household(association_id: int, delivery_id: int, now: datetime | None = None) -> None:
    """The first visit (a LINE 「開く」 button)."""
    await store.open_ids(association_id, [delivery_id], now or datetime.now(UTC))


async def mark_printed(
    association_id: int, content_id: int, household_ids: Collection[int], from_statuses: Sequence[str]
) -> int:
    """Paper deliveries to these households printed; returns how many changed."""
    if not household_ids:
        return 0
    return len(await store.mark_printed(association_id, content_id, household_ids, FALLBACK, from_statuses))


async def record_paper_ticks(
    association_id: int,
    content_id: int,
    ticked: Collection[int],
    unticked: Collection[int],
    confirmed_at: datetime,
) -> tuple[int, int]:
    """One paper sheet's boxes: ticked households confirmed on paper; a paper tick taken back
    when its box is empty (confirmations by link or LINE stay). Returns (confirmed, cleared)."""
    confirmed = await store.confirm_households(association_id, content_id, ticked, FALLBACK, confirmed_at)
    cleared = await store.clear_confirmations(association_id, content_id, unticked, FALLBACK)
    return len(confirmed), len(cleared)


async def reroute_pending(
    to_channel: str,
    *,
    association_id: int | None = None,
    household_id: int | None = None,
    from_channel: str | None = None,
    ids: Sequence[int] = (),
    clear_error: bool = False,
    now: datetime | None = None,
) -> None:
    """Deliveries not yet handed to their channel go by ``to_channel`` instead (a household
    unsubscribed, unlinked LINE, or LINE's monthly quota ran out); due now if the worker sends
    that channel, else they wait for the printer."""
    due = (now or datetime.now(UTC)) if to_channel in queued_channels() else None
    await store.reroute_pending(
        to_channel, due, association_id=association_id, household_id=household_id,
        from_channel=from_channel, ids=ids, clear_error=clear_error,
    )


async def requeue_unconfirmed(association_id: int, delivery_ids: Sequence[int], now: datetime | None = None) -> None:
    """Send these sent, unconfirmed deliveries again now as reminders (the deadline-morning
    reminder of a question: the caller picks the households that have not answered)."""
    async with write_transaction():
        await store.requeue_unconfirmed(association_id, delivery_ids, now or datetime.now(UTC))


async def set_retry_key(association_id: int, key: str, delivery_ids: Sequence[int]) -> None:
    await store.set_retry_key(association_id, key, delivery_ids)


async def enqueue_notices(notice_ids: Iterable[int]) -> int:
    return await enqueue(notice_ids, NOTICE)
