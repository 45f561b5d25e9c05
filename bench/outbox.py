"""Benchmark (not a test): creating the deliveries of one notice for N households.

    .venv/bin/python bench/outbox.py                     # SQLite, 20,000 households
    CHONAIKAI_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench .venv/bin/python bench/outbox.py
                                                         # PostgreSQL, 120,000 households
    N=50000 .venv/bin/python bench/outbox.py             # another size

Prints the time of ``create_deliveries`` as a ratio against a reference measured in the same
run on the same database: writing the same number of rows of the same shape the plainest fast
way (PostgreSQL: COPY into a scratch table; SQLite: executemany in one transaction).
The PostgreSQL database is used as given: rows made here are deleted afterwards.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

url = os.environ.get("CHONAIKAI_BENCH_DATABASE_URL") or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.sqlite3'}"
os.environ["CHONAIKAI_DATABASE_URL"] = url
os.environ.setdefault("CHONAIKAI_ENV", "test")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chonaikai.cli import migrate  # noqa: E402
from chonaikai.wiring import wire  # noqa: E402

wire()  # the delivery core's content sources and channels, as the app and the worker do
from chonaikai.db import get_engine, is_postgres, postgres_pool, write_transaction  # noqa: E402
from chonaikai.delivery.outbox import create_deliveries  # noqa: E402
from chonaikai.delivery.tables import Delivery  # noqa: E402
from chonaikai.notices.tables import Notice  # noqa: E402
from chonaikai.roster.tables import Han, Household  # noqa: E402
from chonaikai.tenancy.tables import Association, City  # noqa: E402

SLUG = "bench-outbox"


async def setup(n: int, channels: tuple[str, ...] = ("email", "paper", "line", "email")) -> tuple[int, int]:
    now = datetime.now(UTC)
    await cleanup()
    city = City(slug=SLUG, name="ベンチ市", municipality_code="999991", updated_at=now)
    await city.save()
    association = Association(slug=SLUG, name="ベンチ町内会", city=city.id, updated_at=now)
    await association.save()
    han = Han(association=association.id, name="1班")
    await han.save()
    rows = [
        (association.id, han.id, f"世帯{i}", channels[i % len(channels)], f"h{i}@example.jp", False, now, now)
        for i in range(n)
    ]
    await bulk(
        "household",
        ("association", "han", "name", "channel", "email", "moved_out", "created_at", "updated_at"),
        rows,
    )
    notice = Notice(association=association.id, title="ベンチ", status="published", created_at=now, updated_at=now)
    await notice.save()
    return association.id, notice.id


async def bulk(table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    engine = get_engine()
    if is_postgres():
        async with engine.pool.acquire() as connection:
            await connection.copy_records_to_table(table, records=rows, columns=columns)
        return
    connection = await engine.get_connection()
    try:
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
        await connection.execute("BEGIN IMMEDIATE")
        await connection.executemany(sql, rows)
        await connection.execute("COMMIT")
    finally:
        await connection.close()


async def reference(association_id: int, notice_id: int, n: int) -> float:
    """Same rows, same shape, plainest fast way, into a scratch copy of the delivery table."""
    await Delivery.raw("DROP TABLE IF EXISTS bench_delivery").run()
    if is_postgres():
        await Delivery.raw("CREATE TABLE bench_delivery (LIKE delivery INCLUDING ALL)").run()
    else:
        await Delivery.raw("CREATE TABLE bench_delivery AS SELECT * FROM delivery WHERE 0").run()
        await Delivery.raw("CREATE UNIQUE INDEX bench_nh ON bench_delivery (notice, household)").run()
        await Delivery.raw("CREATE UNIQUE INDEX bench_tok ON bench_delivery (token)").run()
    households = await Household.select(Household.id).where(Household.association == association_id)
    now = datetime.now(UTC)
    started = time.perf_counter()
    rows = [
        (association_id, notice_id, h["id"], "email", "pending", 0, now, "", secrets.token_urlsafe(18), "", now)
        for h in households
    ]
    if not is_postgres():
        rows = [tuple(str(v) if isinstance(v, datetime) else v for v in row) for row in rows]
    await bulk(
        "bench_delivery",
        ("association", "notice", "household", "channel", "status", "attempts", "next_attempt_at",
         "last_error", "token", "confirmed_via", "created_at"),
        rows,
    )
    elapsed = time.perf_counter() - started
    await Delivery.raw("DROP TABLE bench_delivery").run()
    return elapsed


async def seed_read_links(n: int) -> tuple[int, list[str]]:
    """One notice delivered by e-mail to ``n`` households: its id and the read links' tokens
    (bench/read.py, bench/confirm.py)."""
    async with postgres_pool(get_engine()):
        await migrate()
        _, notice_id = await setup(n, channels=("email",))
        await create_deliveries(notice_id)
        if is_postgres():
            # As autovacuum would after this many rows (the bench server here runs with it off):
            # without statistics the visits' lookup was planned for empty tables.
            await Delivery.raw("VACUUM ANALYZE")
        rows = await Delivery.select(Delivery.token).where(Delivery.notice == notice_id)
    return notice_id, [row["token"] for row in rows]


async def cleanup() -> None:
    association = await Association.select(Association.id).where(Association.slug == SLUG).first()
    if association:
        async with write_transaction():
            for table in (Delivery, Notice, Household, Han):
                await table.delete().where(table.association == association["id"])
            await Association.delete().where(Association.id == association["id"])
    await City.delete().where(City.slug == SLUG)


async def main() -> None:
    n = int(os.environ.get("N", 120_000 if url.startswith("postgres") else 20_000))
    async with postgres_pool(get_engine()):
        await migrate()
        association_id, notice_id = await setup(n)
        try:
            ref = await reference(association_id, notice_id, n)
            started = time.perf_counter()
            created = await create_deliveries(notice_id)
            ours = time.perf_counter() - started
            again_started = time.perf_counter()
            again = await create_deliveries(notice_id)
            again_time = time.perf_counter() - again_started
        finally:
            await cleanup()
    database = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    print(f"{database}: {n} households")
    print(f"  reference (plain bulk write of the same rows): {ref:.2f} s")
    print(f"  create_deliveries: {created} rows in {ours:.2f} s  -> ratio {ours / ref:.2f}x the reference")
    print(f"  publishing again: {again} new rows in {again_time:.2f} s")
    close = getattr(get_engine(), "close_shared_connections", None)
    if close:
        await close()


if __name__ == "__main__":
    asyncio.run(main())
