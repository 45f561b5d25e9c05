"""The delivery store: every statement that writes the ``delivery`` table, for both databases.

Nothing outside this module inserts, updates or deletes delivery rows, and read-link tokens
are minted only here (``new_token``). The rest of the package (the outbox, the worker, the
read receipts, reminders) decides *what* to write and calls these functions; other packages
call the public API in ``chonaikai.delivery.api``.

The statements are raw SQL where speed matters (ids or tokens passed as one parameter:
Piccolo cleans every value of ``is_in()`` at more cost than the query itself) and Piccolo
queries elsewhere. ``grep -rn "UPDATE delivery\\|INSERT INTO delivery\\|update(Delivery"``
outside this file finds nothing.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

from chonaikai.db import in_ids, in_values, is_postgres
from chonaikai.delivery.tables import Delivery

TOKEN_BYTES = 18  # 144 bits, 24 characters
# SQLite: rows per INSERT statement (7 parameters each, well under SQLite's 32,766).
SQLITE_ROWS_PER_STATEMENT = 500
# PostgreSQL: rows per INSERT … SELECT FROM unnest(arrays): 4 parameters whatever the size.
POSTGRES_ROWS_PER_STATEMENT = 50_000
ANALYZE_AFTER_ROWS = 1000  # PostgreSQL: refresh the planner's statistics after this many new rows

# What a claim returns of each row (the first claim and the rest of its retry groups alike): a
# list in this order. The rows come back as JSON text (one array per row on SQLite, one array of
# them on PostgreSQL): thousands of rows each made a dict (and on SQLite, each integer went
# through Piccolo's converter) at more cost than the claim's own SQL.
CLAIMED_COLUMNS = "id, association, notice, household, channel, token, attempts, retry_key, reminded_at"
ClaimedRow = list  # [id, association, notice, household, channel, token, attempts, retry_key, reminded_at]


async def _claimed(template: str, *args: Any, alias: str = "") -> list[ClaimedRow]:
    """Run a claiming UPDATE whose ``RETURNING`` is left to this function; the rows as lists."""
    if is_postgres():
        columns = ", ".join(f"{alias}{c.strip()}" for c in CLAIMED_COLUMNS.split(","))
        rows = await Delivery.raw(
            f"WITH claimed AS ({template} RETURNING {columns}) "
            f"SELECT json_agg(json_build_array({CLAIMED_COLUMNS})) AS rows FROM claimed",
            *args,
        ).run()
        return json.loads(rows[0]["rows"] or "[]") if rows else []
    rows = await Delivery.raw(f"{template} RETURNING json_array({CLAIMED_COLUMNS}) AS row", *args).run()
    return [json.loads(row["row"]) for row in rows]


def new_token() -> str:
    """A read-link token: ≥128 random bits from ``secrets`` (neither database has a portable
    cryptographic random function)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


# -- enqueue --------------------------------------------------------------------------------


async def insert_targets(
    targets: list[dict[str, Any]], now: datetime, queued_channels: Collection[str], priority: int = 0
) -> int:
    """Insert one pending row per target (association, notice, household, channel); rows that
    exist are left alone (unique (notice, household), ON CONFLICT DO NOTHING). Rows of a channel
    in ``queued_channels`` are due now for the worker; the others (paper) wait to be printed.
    ``priority``: higher is claimed first. Returns how many rows were new. Run inside the
    caller's write transaction."""
    if not targets:
        return 0
    if is_postgres():
        return await _insert_postgres(targets, now, queued_channels, priority)
    return await _insert_sqlite(targets, now, queued_channels, priority)


async def _insert_postgres(targets: list[dict[str, Any]], now: datetime, queued: Collection[str], priority: int) -> int:
    created = 0
    for start in range(0, len(targets), POSTGRES_ROWS_PER_STATEMENT):
        chunk = targets[start : start + POSTGRES_ROWS_PER_STATEMENT]
        rows = await Delivery.raw(
            "WITH ins AS (INSERT INTO delivery (association, notice, household, channel, status, attempts, "
            "next_attempt_at, last_error, token, confirmed_via, created_at, priority) "
            "SELECT u.a, u.n, u.h, u.c, 'pending', 0, CASE WHEN u.c = ANY({}::text[]) THEN {}::timestamptz END, '', u.t, '', {}::timestamptz, {}::int "
            "FROM unnest({}::int[], {}::int[], {}::int[], {}::text[], {}::text[]) AS u(a, n, h, c, t) "
            "ON CONFLICT (notice, household) DO NOTHING RETURNING 1) SELECT count(*) AS created FROM ins",
            sorted(queued),
            now,
            now,
            priority,
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


async def _insert_sqlite(targets: list[dict[str, Any]], now: datetime, queued: Collection[str], priority: int) -> int:
    created = 0
    for start in range(0, len(targets), SQLITE_ROWS_PER_STATEMENT):
        chunk = targets[start : start + SQLITE_ROWS_PER_STATEMENT]
        values = ", ".join("({}, {}, {}, {}, 'pending', 0, {}, '', {}, '', {}, {})" for _ in chunk)
        args: list[Any] = []
        for row in chunk:
            due = now if row["channel"] in queued else None
            args += [row["association"], row["notice"], row["household"], row["channel"], due, new_token(), now, priority]
        await Delivery.raw(
            "INSERT INTO delivery (association, notice, household, channel, status, attempts, "
            "next_attempt_at, last_error, token, confirmed_via, created_at, priority) "
            f"VALUES {values} ON CONFLICT (notice, household) DO NOTHING",
            *args,
        ).run()
        changed = await Delivery.raw("SELECT changes() AS n").run()
        created += int(changed[0]["n"])
    return created


async def insert_confirmed(
    association_id: int, notice_id: int, household_id: int, channel: str, now: datetime
) -> None:
    """A row for a household that confirms without one (joined after publishing): nothing is
    left to send (status ``sent``). Does nothing when the row exists."""
    row = Delivery(
        association=association_id,
        notice=notice_id,
        household=household_id,
        channel=channel,
        status="sent",
        token=new_token(),
        created_at=now,
    )
    await Delivery.insert(row).on_conflict(action="DO NOTHING")


# -- the worker -----------------------------------------------------------------------------

_EXPIRED = (
    f"SELECT {CLAIMED_COLUMNS} FROM delivery "
    "WHERE status = 'sending' AND lease_until < {} AND channel = {} "
    "ORDER BY lease_until LIMIT {}"
)
# Each search walks a partial index of just the rows it looks for (delivery_leased, delivery_urgent_due,
# delivery_due): the other states write no entry into them (see the migration of 2026-12-04T20:30).
# Urgent rows (安否確認, urgent notices) walk their own small one.
_URGENT = (
    f"SELECT {CLAIMED_COLUMNS} FROM delivery "
    "WHERE status = 'pending' AND priority > 0 AND next_attempt_at <= {} "
    "AND channel = {} ORDER BY priority DESC, next_attempt_at LIMIT {}"
)
_PENDING = (
    f"SELECT {CLAIMED_COLUMNS} FROM delivery "
    "WHERE status = 'pending' AND next_attempt_at <= {} AND channel = {} "
    "AND priority <= 0 ORDER BY next_attempt_at LIMIT {}"
)
# Groups of at most ``key_group`` claimed rows of one (association, notice) share a fresh retry
# key: row_number within the content, then one number per group. The key is a random UUID's
# first 28 characters (new for every claim) and the group number in 8 hex digits.
_KEY_GROUPS = (
    "SELECT gid, dense_rank() OVER (ORDER BY gassoc, gnotice, (gn - 1) / {}) AS grp FROM ("
    "SELECT id AS gid, association AS gassoc, notice AS gnotice, "
    "row_number() OVER (PARTITION BY association, notice ORDER BY id) AS gn FROM picked) AS numbered"
)


def new_key_prefix() -> str:
    """The first 28 characters of a random UUID (version 4): with an 8-hex-digit group number
    appended, a valid ``X-Line-Retry-Key`` new for every claim."""
    return str(uuid.uuid4())[:28]


async def claim(
    channel_name: str,
    limit: int,
    now: datetime,
    lease_until: datetime,
    worker_id: str,
    key_group: int = 0,
    key_prefix: str = "",
) -> list[ClaimedRow]:
    """Lease up to ``limit`` due rows of one channel (run in a write transaction).

    Three searches, each walking an index in order and stopping at ``limit``: one condition with
    OR made both databases collect and sort every due row for every claim. Rows whose lease ran
    out (a worker died) come first, then urgent pending rows (higher ``priority`` first: a
    安否確認 goes out before anything queued earlier), then the other pending rows by due time.
    PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: one worker at a time, immediate transaction.

    ``key_group`` > 0 (LINE): a claimed row without a retry key gets one in the same write,
    ``key_prefix`` (``new_key_prefix()``) and a group number, shared by at most ``key_group``
    rows of one association and notice; so the key is stored (committed with the lease) before
    the channel's first call, without a second write of every row."""
    keyed = key_group > 0
    if keyed and len(key_prefix) != 28:
        raise ValueError("a keyed claim needs a key prefix from new_key_prefix()")
    searches = [now, channel_name, limit, now, channel_name, limit, now, channel_name, limit, limit]
    if is_postgres():
        picked = (
            f"WITH expired AS ({_EXPIRED} FOR UPDATE SKIP LOCKED), urgent AS ({_URGENT} FOR UPDATE SKIP LOCKED), "
            f"pending AS ({_PENDING} FOR UPDATE SKIP LOCKED), "
            "picked AS (SELECT * FROM expired UNION ALL SELECT * FROM urgent UNION ALL SELECT * FROM pending LIMIT {}) "
        )
        if keyed:
            return await _claimed(
                f"{picked}, groups AS ({_KEY_GROUPS}) "
                "UPDATE delivery d SET status = 'sending', lease_until = {}, claimed_by = {}, attempts = d.attempts + 1, "
                "retry_key = COALESCE(d.retry_key, {} || lpad(to_hex(groups.grp), 8, '0')) "
                "FROM groups WHERE d.id = groups.gid",
                *searches, key_group, lease_until, worker_id, key_prefix, alias="d.",
            )
        return await _claimed(
            f"{picked}UPDATE delivery d SET status = 'sending', lease_until = {{}}, claimed_by = {{}}, "
            "attempts = d.attempts + 1 FROM picked WHERE d.id = picked.id",
            *searches, lease_until, worker_id, alias="d.",
        )
    # SQLite (one writer at a time: nothing can change between the two statements): the due rows
    # as one JSON text, then one UPDATE of them all, without RETURNING. An UPDATE … RETURNING of
    # 4,000 rows is 4,000 steps of the driver, each taking the GIL back from the event loop's
    # thread (up to 5 ms each while it is busy).
    picked_rows = await Delivery.raw(
        f"SELECT json_group_array(json_array({CLAIMED_COLUMNS})) AS rows FROM ("
        f"SELECT * FROM ({_EXPIRED}) UNION ALL SELECT * FROM ({_URGENT}) UNION ALL SELECT * FROM ({_PENDING}) "
        "LIMIT {})",
        *searches,
    ).run()
    rows: list[ClaimedRow] = json.loads(picked_rows[0]["rows"]) if picked_rows else []
    if not rows:
        return []
    for row in rows:
        row[6] += 1  # attempts, as the UPDATE below leaves it
    if not keyed:
        ids_sql, ids_value = in_ids([row[0] for row in rows])
        await Delivery.raw(
            "UPDATE delivery SET status = 'sending', lease_until = {}, claimed_by = {}, attempts = attempts + 1 "
            f"WHERE id {ids_sql}",
            lease_until, worker_id, ids_value,
        ).run()
        return rows
    _give_keys(rows, key_group, key_prefix)
    await Delivery.raw(
        "UPDATE delivery SET status = 'sending', lease_until = {}, claimed_by = {}, attempts = attempts + 1, "
        "retry_key = COALESCE(delivery.retry_key, claimed.rkey) FROM (SELECT json_extract(value, '$[0]') AS rid, "
        "json_extract(value, '$[1]') AS rkey FROM json_each({})) AS claimed WHERE delivery.id = claimed.rid",
        lease_until, worker_id, json.dumps([[row[0], row[7]] for row in rows]),
    ).run()
    return rows


def _give_keys(rows: list[ClaimedRow], key_group: int, key_prefix: str) -> None:
    """Rows without a retry key get one: groups of at most ``key_group`` rows of one association
    and notice, in id order (as the PostgreSQL statement does)."""
    fresh = sorted((row for row in rows if not row[7]), key=itemgetter(1, 2, 0))
    group, size, last = 0, 0, None
    for row in fresh:
        content = (row[1], row[2])
        if content != last or size == key_group:
            group, size, last = group + 1, 0, content
        row[7] = f"{key_prefix}{group:08x}"
        size += 1


async def claim_retry_groups(
    keys: Sequence[str], now: datetime, lease_until: datetime, worker_id: str
) -> list[ClaimedRow]:
    """The rows sharing these retry keys that are waiting, leased too (a LINE multicast goes out
    whole): pending ones, and ones whose lease ran out (a claim's LIMIT may have cut a dead
    worker's group in two)."""
    keys_sql, keys_value = in_values(sorted(keys))
    return await _claimed(
        "UPDATE delivery SET status = 'sending', lease_until = {}, claimed_by = {}, attempts = attempts + 1 "
        f"WHERE {retry_group_rows(keys_sql)}",
        lease_until, worker_id, keys_value, now, keys_value,
    )


def retry_group_rows(keys_sql: str) -> str:
    """The condition of ``claim_retry_groups`` (parameters: the keys, now, the keys again): each
    half walks a partial index (delivery_retry_group: rows waiting with a key; delivery_leased),
    so each names the keys itself."""
    return (
        f"(status = 'pending' AND retry_key IS NOT NULL AND retry_key {keys_sql}) "
        f"OR (status = 'sending' AND lease_until < {{}} AND retry_key {keys_sql})"
    )


async def record_sent(ids: Sequence[int], now: datetime, retry_key: str | None) -> None:
    """Sent is the truth even if the lease ran out meanwhile: always recorded."""
    ids_sql, ids_value = in_ids(ids)
    await Delivery.raw(
        "UPDATE delivery SET status = 'sent', sent_at = COALESCE(sent_at, {}), lease_until = NULL, "
        "claimed_by = NULL, last_error = '', retry_key = COALESCE({}, retry_key) "
        f"WHERE id {ids_sql}",
        now, retry_key, ids_value,
    ).run()


async def record_failed_many(ids: Sequence[int], reason: str, worker_id: str) -> None:
    ids_sql, ids_value = in_ids(ids)
    await Delivery.raw(
        "UPDATE delivery SET status = 'failed', lease_until = NULL, claimed_by = NULL, last_error = {} "
        f"WHERE claimed_by = {{}} AND status = 'sending' AND id {ids_sql}",
        reason, worker_id, ids_value,
    ).run()


async def record_failed(delivery_id: int, reason: str, retry_key: str | None, worker_id: str) -> None:
    await Delivery.raw(
        "UPDATE delivery SET status = 'failed', lease_until = NULL, claimed_by = NULL, "
        "last_error = {}, retry_key = COALESCE({}, retry_key) "
        "WHERE id = {} AND claimed_by = {} AND status = 'sending'",
        reason, retry_key, delivery_id, worker_id,
    ).run()


async def record_retry(delivery_id: int, later: datetime, reason: str, retry_key: str | None, worker_id: str) -> None:
    await Delivery.raw(
        "UPDATE delivery SET status = 'pending', lease_until = NULL, claimed_by = NULL, "
        "next_attempt_at = {}, last_error = {}, retry_key = COALESCE({}, retry_key) "
        "WHERE id = {} AND claimed_by = {} AND status = 'sending'",
        later, reason, retry_key, delivery_id, worker_id,
    ).run()


async def release(ids: Sequence[int], worker_id: str, now: datetime) -> None:
    """Give back rows claimed but not recorded (a worker stopping mid-batch)."""
    ids_sql, ids_value = in_ids(ids)
    await Delivery.raw(
        "UPDATE delivery SET status = 'pending', lease_until = NULL, claimed_by = NULL, "
        "attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, next_attempt_at = {} "
        f"WHERE claimed_by = {{}} AND status = 'sending' AND id {ids_sql}",
        now, worker_id, ids_value,
    ).run()


async def set_retry_key(association_id: int, key: str, ids: Sequence[int]) -> None:
    """Remember a channel's idempotency key on its rows before the call that uses it (LINE)."""
    ids_sql, ids_value = in_ids(ids)
    await Delivery.raw(
        f"UPDATE delivery SET retry_key = {{}} WHERE association = {{}} AND id {ids_sql}",
        key, association_id, ids_value,
    ).run()


# -- receipts -------------------------------------------------------------------------------


async def confirm_tokens(tokens: Sequence[str], via: str, now: datetime) -> set[str]:
    """First confirmation of the rows behind these read-link tokens; the tokens changed."""
    tokens_sql, values = in_values(sorted(tokens))
    rows = await Delivery.raw(
        "UPDATE delivery SET confirmed_at = {}, confirmed_via = {}, opened_at = COALESCE(opened_at, {}) "
        f"WHERE token {tokens_sql} AND confirmed_at IS NULL RETURNING token",
        now, via, now, values,
    )
    return {row["token"] for row in rows}


async def open_tokens(tokens: Sequence[str], now: datetime) -> set[str]:
    """First visit of the rows behind these tokens; the tokens changed."""
    tokens_sql, values = in_values(sorted(tokens))
    rows = await Delivery.raw(
        f"UPDATE delivery SET opened_at = {{}} WHERE token {tokens_sql} AND opened_at IS NULL RETURNING token",
        now, values,
    )
    return {row["token"] for row in rows}


async def existing_tokens(tokens: Sequence[str]) -> set[str]:
    tokens_sql, values = in_values(sorted(tokens))
    rows = await Delivery.raw(f"SELECT token FROM delivery WHERE token {tokens_sql}", values)
    return {row["token"] for row in rows}


async def confirm_ids(association_id: int, ids: Sequence[int], via: str, now: datetime) -> list[int]:
    """First confirmation of these rows (LINE postback, an officer's tick); the ids changed."""
    if not ids:
        return []
    rows = await Delivery.update({Delivery.confirmed_at: now, Delivery.confirmed_via: via}).where(
        (Delivery.association == association_id) & Delivery.id.is_in(list(ids)) & Delivery.confirmed_at.is_null()
    ).returning(Delivery.id)
    return [row["id"] for row in rows]


async def open_ids(association_id: int, ids: Sequence[int], now: datetime) -> None:
    if ids:
        await Delivery.update({Delivery.opened_at: now}).where(
            (Delivery.association == association_id) & Delivery.id.is_in(list(ids)) & Delivery.opened_at.is_null()
        )


async def confirm_households(
    association_id: int, notice_id: int, household_ids: Collection[int], via: str, at: datetime, *, opened: bool = False
) -> list[int]:
    """First confirmation of one notice's rows for these households; the row ids changed.
    ``opened`` also records the first visit (a confirmation on the board is a visit)."""
    if not household_ids:
        return []
    where = (
        (Delivery.association == association_id)
        & (Delivery.notice == notice_id)
        & Delivery.household.is_in(list(household_ids))
    )
    rows = await Delivery.update({Delivery.confirmed_at: at, Delivery.confirmed_via: via}).where(
        where & Delivery.confirmed_at.is_null()
    ).returning(Delivery.id)
    if opened:
        await Delivery.update({Delivery.opened_at: at}).where(where & Delivery.opened_at.is_null())
    return [row["id"] for row in rows]


async def clear_confirmations(
    association_id: int, notice_id: int, household_ids: Collection[int], via: str
) -> list[int]:
    """Take back confirmations made ``via`` this way (an empty paper box); the row ids changed."""
    if not household_ids:
        return []
    rows = await Delivery.update({Delivery.confirmed_at: None, Delivery.confirmed_via: ""}).where(
        (Delivery.association == association_id)
        & (Delivery.notice == notice_id)
        & Delivery.household.is_in(list(household_ids))
        & (Delivery.confirmed_via == via)
    ).returning(Delivery.id)
    return [row["id"] for row in rows]


# -- paper, reminders, unsubscribe ----------------------------------------------------------


async def mark_printed(
    association_id: int, notice_id: int, household_ids: Collection[int], channel: str, from_statuses: Sequence[str]
) -> list[int]:
    rows = await Delivery.update({Delivery.status: "printed"}).where(
        (Delivery.association == association_id)
        & (Delivery.notice == notice_id)
        & Delivery.household.is_in(list(household_ids))
        & (Delivery.channel == channel)
        & Delivery.status.is_in(list(from_statuses))
    ).returning(Delivery.id)
    return [row["id"] for row in rows]


async def remind(association_id: int, queued_ids: Sequence[int], paper_ids: Sequence[int], now: datetime) -> None:
    """A reminder to these unconfirmed households: e-mail and LINE rows go out again now (as
    ``requeue_unconfirmed``); paper rows stay printed and go on the reprint list. Every one is
    counted (``reminders`` + 1, ``reminded_at``)."""
    await requeue_unconfirmed(association_id, queued_ids, now, count=True)
    for start in range(0, len(paper_ids), 500):
        await Delivery.update(
            {Delivery.reminded_at: now, Delivery.reminders: Delivery.reminders + 1},
        ).where(
            (Delivery.association == association_id)
            & Delivery.id.is_in(list(paper_ids[start : start + 500]))
            & Delivery.confirmed_at.is_null()
        )


async def requeue_unconfirmed(association_id: int, ids: Sequence[int], now: datetime, count: bool = False) -> None:
    """Send these sent-but-unconfirmed rows again now, as a reminder."""
    for start in range(0, len(ids), 500):
        await Delivery.update(
            {
                Delivery.status: "pending",
                Delivery.next_attempt_at: now,
                Delivery.reminded_at: now,
                Delivery.attempts: 0,
                Delivery.last_error: "",
                # A reminder is a new message: a LINE retry key of the first send would make
                # LINE answer 409 and send nothing.
                Delivery.retry_key: None,
                **({Delivery.reminders: Delivery.reminders + 1} if count else {}),
            },
        ).where(
            (Delivery.association == association_id)
            & Delivery.id.is_in(list(ids[start : start + 500]))
            & (Delivery.status == "sent")
            & Delivery.confirmed_at.is_null()
        )


async def reroute_pending(
    to_channel: str,
    due: datetime | None,
    *,
    association_id: int | None = None,
    household_id: int | None = None,
    from_channel: str | None = None,
    ids: Sequence[int] = (),
    clear_error: bool = False,
) -> None:
    """Rows still waiting (``pending``) go by another channel, due at ``due`` (None: by hand).
    Chosen by household (and the channel they were on) or by ids; rows a worker is sending are
    left alone. A channel's retry key does not travel to another channel."""
    changes: dict[Any, Any] = {Delivery.channel: to_channel, Delivery.next_attempt_at: due, Delivery.retry_key: None}
    if clear_error:
        changes[Delivery.last_error] = ""
    where = Delivery.status == "pending"
    if association_id is not None:
        where &= Delivery.association == association_id
    if household_id is not None:
        where &= Delivery.household == household_id
    if from_channel is not None:
        where &= Delivery.channel == from_channel
    if household_id is None:
        for start in range(0, len(ids), 900):
            await Delivery.update(changes).where(where & Delivery.id.is_in(list(ids[start : start + 900])))
        return
    await Delivery.update(changes).where(where)
