"""Creating deliveries: one row per household in a notice's audience, in bulk.

Called when a notice is published (and by the city's circulars for many notices at once).
Every household in the audience gets exactly one row, through its own channel if that
channel works, otherwise on paper — nobody is silently skipped. Publishing twice creates
nothing twice: rows that exist are left alone (unique (notice, household) + ON CONFLICT DO
NOTHING, so even two publishers racing cannot double a row).

Audience:
- ``all``: every household of the association that has not moved out;
- ``han``: the households of the 班 chosen for the notice (``NoticeHan``);
- ``officers``: no household deliveries (officers read it on the board).

Read-link tokens come from ``secrets`` (128 random bits and more), made in Python because
neither database has a portable cryptographic random function.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from chonaikai.db import is_postgres, write_transaction
from chonaikai.delivery import channels
from chonaikai.delivery.tables import Delivery

TOKEN_BYTES = 18  # 144 bits, 24 characters
# SQLite: rows per INSERT statement (7 parameters each, well under SQLite's 32,766).
SQLITE_ROWS_PER_STATEMENT = 500
# PostgreSQL: rows per INSERT … SELECT FROM unnest(arrays): 4 parameters whatever the size.
POSTGRES_ROWS_PER_STATEMENT = 50_000


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def channel_sql() -> str:
    """The channel a household is reached by: its own if it works, else paper."""
    line_linked = channels.LINE_LINKED_SQL or "1 = 0"
    return (
        "CASE WHEN h.channel = 'email' AND h.email LIKE '%_@_%' THEN 'email' "
        f"WHEN h.channel = 'line' AND ({line_linked}) THEN 'line' "
        "ELSE 'paper' END"
    )


def _targets_sql(notice_count: int) -> str:
    placeholders = ", ".join("{}" for _ in range(notice_count))
    return (
        f"SELECT n.association AS association, n.id AS notice, h.id AS household, {channel_sql()} AS channel "
        "FROM notice n JOIN household h ON h.association = n.association "
        f"WHERE n.id IN ({placeholders}) AND h.moved_out = {{}} "
        "AND (n.audience = 'all' OR (n.audience = 'han' AND EXISTS ("
        "SELECT 1 FROM notice_han nh WHERE nh.notice = n.id AND nh.association = n.association "
        "AND nh.han = h.han))) "
        "AND NOT EXISTS (SELECT 1 FROM delivery d WHERE d.notice = n.id AND d.household = h.id) "
        "ORDER BY n.id, h.id"
    )


ANALYZE_AFTER_ROWS = 1000  # PostgreSQL: refresh the planner's statistics after this many new rows


async def audience_rows(notice_ids: Sequence[int]) -> list[dict[str, Any]]:
    """(association, notice, household, channel) for every household still without a delivery."""
    if not notice_ids:
        return []
    return await Delivery.raw(_targets_sql(len(notice_ids)), *notice_ids, False).run()


async def create_deliveries(notice_id: int) -> int:
    """Create the deliveries of one notice; returns how many rows were new."""
    return await create_deliveries_for_notices([notice_id])


async def create_deliveries_for_notices(notice_ids: Iterable[int]) -> int:
    """Create the deliveries of many notices in one transaction; returns how many rows were new.

    Safe to call inside the caller's transaction (publishing): it joins it.
    """
    ids = sorted({int(notice_id) for notice_id in notice_ids})
    if not ids:
        return 0
    now = datetime.now(UTC)
    async with write_transaction():
        targets: list[dict[str, Any]] = []
        # Bounded IN lists: a city circular may name hundreds of notices.
        for start in range(0, len(ids), 500):
            targets.extend(await audience_rows(ids[start : start + 500]))
        if not targets:
            return 0
        if is_postgres():
            return await _insert_postgres(targets, now)
        return await _insert_sqlite(targets, now)


async def _insert_postgres(targets: list[dict[str, Any]], now: datetime) -> int:
    created = 0
    for start in range(0, len(targets), POSTGRES_ROWS_PER_STATEMENT):
        chunk = targets[start : start + POSTGRES_ROWS_PER_STATEMENT]
        rows = await Delivery.raw(
            "WITH ins AS (INSERT INTO delivery (association, notice, household, channel, status, attempts, "
            "next_attempt_at, last_error, token, confirmed_via, created_at) "
            "SELECT u.a, u.n, u.h, u.c, 'pending', 0, CASE WHEN u.c = 'paper' THEN NULL ELSE {}::timestamptz END, '', u.t, '', {}::timestamptz "
            "FROM unnest({}::int[], {}::int[], {}::int[], {}::text[], {}::text[]) AS u(a, n, h, c, t) "
            "ON CONFLICT (notice, household) DO NOTHING RETURNING 1) SELECT count(*) AS created FROM ins",
            now,
            now,
            [row["association"] for row in chunk],
            [row["notice"] for row in chunk],
            [row["household"] for row in chunk],
            [row["channel"] for row in chunk],
            [new_token() for _ in chunk],
        ).run()
        created += int(rows[0]["created"])
    if created >= ANALYZE_AFTER_ROWS:
        # A big publish can be most of the table. Until autovacuum analyses it (a minute or more
        # later) the planner keeps the old counts and, for the worker's and LINE's by-id updates
        # "association = … AND id = ANY(…)", walks every row of the association instead of the
        # primary key: 1 s per 4,000-row LINE claim of a 10,000-household notice on a fresh
        # database. What matters is the association's count, not the table's, so always; ANALYZE
        # samples at most 30,000 rows whatever the size, and inside this transaction it counts
        # its own new rows.
        await Delivery.raw("ANALYZE delivery").run()
    return created


async def _insert_sqlite(targets: list[dict[str, Any]], now: datetime) -> int:
    created = 0
    for start in range(0, len(targets), SQLITE_ROWS_PER_STATEMENT):
        chunk = targets[start : start + SQLITE_ROWS_PER_STATEMENT]
        values = ", ".join("({}, {}, {}, {}, 'pending', 0, {}, '', {}, '', {})" for _ in chunk)
        args: list[Any] = []
        for row in chunk:
            due = None if row["channel"] == "paper" else now
            args += [row["association"], row["notice"], row["household"], row["channel"], due, new_token(), now]
        await Delivery.raw(
            "INSERT INTO delivery (association, notice, household, channel, status, attempts, "
            "next_attempt_at, last_error, token, confirmed_via, created_at) "
            f"VALUES {values} ON CONFLICT (notice, household) DO NOTHING",
            *args,
        ).run()
        changed = await Delivery.raw("SELECT changes() AS n").run()
        created += int(changed[0]["n"])
    return created
