"""Enqueueing: one delivery row per household in some content's audience, in bulk.

Called when a notice is published (and by the city's circulars for many notices at once).
Every household in the audience gets exactly one row, through its own channel if that
channel can reach it, otherwise on paper — nobody is silently skipped. Enqueueing twice
creates nothing twice: rows that exist are left alone (unique (notice, household) + ON
CONFLICT DO NOTHING, so even two publishers racing cannot double a row).

Who the audience is comes from the content's owner through the port
(``chonaikai.delivery.content``); which channel reaches a household from the channels
registered with the core (``chonaikai.delivery.channels``); the rows are written by
``chonaikai.delivery.store``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from chonaikai.db import write_transaction
from chonaikai.delivery import channels, content, store
from chonaikai.delivery.tables import Delivery

IDS_PER_QUERY = 500  # bounded IN lists: a city circular may name hundreds of notices


def _targets_sql(kind: str, count: int) -> str:
    audience = content.source(kind).audience_sql(count)
    return (
        f"SELECT t.association AS association, t.content AS notice, h.id AS household, "
        f"{channels.choose_channel_sql()} AS channel "
        f"FROM ({audience}) t JOIN household h ON h.id = t.household AND h.association = t.association "
        "WHERE h.moved_out = {} "
        "AND NOT EXISTS (SELECT 1 FROM delivery d WHERE d.notice = t.content AND d.household = h.id) "
        "ORDER BY t.content, h.id"
    )


async def audience_rows(notice_ids: Sequence[int], kind: str = content.NOTICE) -> list[dict[str, Any]]:
    """(association, notice, household, channel) for every household still without a delivery."""
    if not notice_ids:
        return []
    return await Delivery.raw(_targets_sql(kind, len(notice_ids)), *notice_ids, False).run()


async def enqueue(
    content_ids: Iterable[int], kind: str = content.NOTICE, *, now: datetime | None = None, priority: int = 0
) -> int:
    """Create the deliveries of many pieces of content in one transaction; returns how many rows
    were new. Idempotent; safe inside the caller's transaction (publishing): it joins it.
    ``priority``: the worker claims due rows of a higher priority first (tables.PRIORITY_*)."""
    ids = sorted({int(content_id) for content_id in content_ids})
    if not ids:
        return 0
    now = now or datetime.now(UTC)
    queued = channels.queued_channels()
    async with write_transaction():
        targets: list[dict[str, Any]] = []
        for start in range(0, len(ids), IDS_PER_QUERY):
            targets.extend(await audience_rows(ids[start : start + IDS_PER_QUERY], kind))
        return await store.insert_targets(targets, now, queued, priority)


async def create_deliveries(notice_id: int) -> int:
    """Create the deliveries of one notice; returns how many rows were new."""
    return await enqueue([notice_id])


async def create_deliveries_for_notices(notice_ids: Iterable[int]) -> int:
    """Create the deliveries of many notices in one transaction; returns how many rows were new."""
    return await enqueue(notice_ids)
