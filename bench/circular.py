"""Benchmark (not a test): a city circular to 800 associations × 150 households (120,000 deliveries).

    .venv/bin/python .ci/pgdb.py create bench_circular
    CHONAIKAI_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench_circular .venv/bin/python bench/circular.py
    ASSOCIATIONS=80 HOUSEHOLDS=50 .venv/bin/python bench/circular.py      # SQLite, a smaller size

Prints, each against a reference measured in the same run on the same database:
- sending: ``send_circular`` (800 inbox entries, 800 auto-forwarded notices, every delivery) vs
  writing the same number of delivery rows the plainest fast way (PostgreSQL: COPY into a scratch
  copy of the delivery table; SQLite: executemany in one transaction). Target ≤ 10 s.
- the dashboard: the city's page for that circular (SQL aggregates, 800 table rows, the chart),
  served in-process through the real app with a signed-in city staff session, vs ``/healthz`` on
  the same client. Target ≤ 200 ms.
Rows made here are deleted afterwards.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

url = os.environ.get("CHONAIKAI_BENCH_DATABASE_URL") or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.sqlite3'}"
os.environ["CHONAIKAI_DATABASE_URL"] = url
os.environ.setdefault("CHONAIKAI_ENV", "test")
os.environ.setdefault("CHONAIKAI_BASE_URL", "http://testserver")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from chonaikai.accounts import signin  # noqa: E402
from chonaikai.accounts.roles import Role  # noqa: E402
from chonaikai.accounts.tables import Account, RoleGrant  # noqa: E402
from chonaikai.circulars import logic  # noqa: E402
from chonaikai.circulars.tables import Circular, CircularEntry  # noqa: E402
from chonaikai.cli import migrate  # noqa: E402
from chonaikai.wiring import wire  # noqa: E402

wire()  # the delivery core's content sources and channels, as the app and the worker do
from chonaikai.db import get_engine, is_postgres, postgres_pool, write_transaction  # noqa: E402
from chonaikai.delivery.tables import Delivery  # noqa: E402
from chonaikai.notices.tables import Notice  # noqa: E402
from chonaikai.roster.tables import Han, Household  # noqa: E402
from chonaikai.tenancy.tables import Association, City  # noqa: E402

SLUG = "bench-circular"
STAFF = "bench-staff@example.jp"
PAGE_RUNS = 20


async def bulk(table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    engine = get_engine()
    if is_postgres():
        async with engine.pool.acquire() as connection:
            await connection.copy_records_to_table(table, records=rows, columns=columns)
        return
    rows = [tuple(v.isoformat() if isinstance(v, datetime) else v for v in row) for row in rows]
    connection = await engine.get_connection()
    try:
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
        await connection.execute("BEGIN IMMEDIATE")
        await connection.executemany(sql, rows)
        await connection.execute("COMMIT")
    finally:
        await connection.close()


async def setup(associations: int, households: int) -> int:
    await cleanup()
    now = datetime.now(UTC)
    city = City(slug=SLUG, name="ベンチ市", municipality_code="999992", updated_at=now)
    await city.save()
    await bulk(
        "association",
        ("slug", "name", "kana", "city", "district", "contact", "introduction", "public_officers", "hosts",
         "line_channel", "auto_forward_circulars", "updated_at"),
        [(f"{SLUG}-{i}", f"ベンチ町内会{i}", f"べんち{i:04d}", city.id, f"第{i % 12}地区", "", "", "[]", "[]", "{}",
          True, now) for i in range(associations)],
    )
    ids = [row["id"] for row in await Association.select(Association.id).where(Association.city == city.id)]
    await bulk("han", ("association", "name", "position"), [(aid, "1班", 0) for aid in ids])
    channels = ("email", "paper", "line", "email")
    await bulk(
        "household",
        ("association", "name", "channel", "email", "moved_out", "created_at", "updated_at"),
        [(aid, f"世帯{i}", channels[i % 4], f"h{aid}-{i}@example.jp", False, now, now)
         for aid in ids for i in range(households)],
    )
    return city.id


async def reference(rows_wanted: int) -> float:
    """The same number of delivery rows, written the plainest fast way into a scratch copy."""
    await Delivery.raw("DROP TABLE IF EXISTS bench_delivery").run()
    if is_postgres():
        await Delivery.raw("CREATE TABLE bench_delivery (LIKE delivery INCLUDING ALL)").run()
    else:
        await Delivery.raw("CREATE TABLE bench_delivery AS SELECT * FROM delivery WHERE 0").run()
        await Delivery.raw("CREATE UNIQUE INDEX bench_nh ON bench_delivery (notice, household)").run()
        await Delivery.raw("CREATE UNIQUE INDEX bench_tok ON bench_delivery (token)").run()
    households = await Household.raw(
        "SELECT h.id, h.association FROM household h JOIN association a ON a.id = h.association "
        "JOIN city c ON c.id = a.city WHERE c.slug = {}", SLUG
    ).run()
    now = datetime.now(UTC)
    started = time.perf_counter()
    rows = [
        (h["association"], 1, h["id"], "email", "pending", 0, now, "", secrets.token_urlsafe(18), "", now)
        for h in households[:rows_wanted]
    ]
    await bulk(
        "bench_delivery",
        ("association", "notice", "household", "channel", "status", "attempts", "next_attempt_at",
         "last_error", "token", "confirmed_via", "created_at"),
        rows,
    )
    elapsed = time.perf_counter() - started
    await Delivery.raw("DROP TABLE bench_delivery").run()
    return elapsed


async def simulate_progress(circular_id: int) -> None:
    """Most sent over a few hours, a third confirmed: what a dashboard looks at mid-week."""
    sent = datetime.now(UTC) - timedelta(hours=6)
    notice_ids = [row["notice"] for row in await CircularEntry.select(CircularEntry.notice).where(
        CircularEntry.circular == circular_id)]
    random.seed(1)
    async with write_transaction():
        for index, notice_id in enumerate(notice_ids):
            hour = timedelta(hours=index % 6)
            await Delivery.update({Delivery.status: "sent", Delivery.sent_at: sent + hour}).where(
                Delivery.notice == notice_id)
            await Delivery.raw(
                "UPDATE delivery SET confirmed_at = {}, confirmed_via = 'web' WHERE notice = {} AND id % 3 = 0",
                sent + hour + timedelta(minutes=30), notice_id,
            ).run()
    if is_postgres():
        await Delivery.raw("ANALYZE delivery").run()


async def page_times(client: httpx.AsyncClient, path: str, runs: int = PAGE_RUNS) -> float:
    await client.get(path)  # warm: templates compiled, connections open
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = await client.get(path)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, (path, response.status_code)
    return statistics.median(times)


async def dashboard_timing(city_id: int, circular_id: int, account_exists: bool = False) -> tuple[float, float, float]:
    from chonaikai.app import CSRF_COOKIE, CSRF_HEADER, create_app, create_asgi_app

    account_id = await signin.get_or_create_account(STAFF)
    if not account_exists:
        await RoleGrant.insert(RoleGrant(account=account_id, role=str(Role.CITY_STAFF), city=city_id,
                                         created_at=datetime.now(UTC)))
    secret = await signin.create_email_link_secret(account_id)
    app = create_asgi_app(app=create_app())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        await client.get("/signin")
        headers = {CSRF_HEADER: client.cookies.get(CSRF_COOKIE, "")}
        signed = await client.post(f"/signin/{secret}", headers=headers)
        assert signed.status_code == 303, signed.text
        hello = await page_times(client, "/healthz")
        page = await page_times(client, f"/c/{SLUG}/circulars/{circular_id}")
    started = time.perf_counter()
    for _ in range(PAGE_RUNS):
        await logic.dashboard(circular_id)
    queries = (time.perf_counter() - started) / PAGE_RUNS
    return hello, page, queries


async def cleanup() -> None:
    city = await City.select(City.id).where(City.slug == SLUG).first()
    if city:
        ids = [row["id"] for row in await Association.select(Association.id).where(Association.city == city["id"])]
        async with write_transaction():
            await Circular.delete().where(Circular.city == city["id"])
            for table in (Delivery, Notice, Household, Han):
                for start in range(0, len(ids), 500):
                    await table.delete().where(table.association.is_in(ids[start:start + 500]))
            await Association.delete().where(Association.city == city["id"])
            await City.delete().where(City.id == city["id"])
    await Account.delete().where(Account.email == STAFF)


async def main() -> None:
    postgres = url.startswith("postgres")
    associations = int(os.environ.get("ASSOCIATIONS", 800 if postgres else 80))
    households = int(os.environ.get("HOUSEHOLDS", 150))
    total = associations * households
    async with postgres_pool(get_engine()):
        await migrate()
        city_id = await setup(associations, households)
        try:
            ref = await reference(total)
            deliver, spent = logic.deliver, []

            async def timed_deliver(notice_ids):  # how much of sending is the outbox's part
                started = time.perf_counter()
                try:
                    return await deliver(notice_ids)
                finally:
                    spent.append(time.perf_counter() - started)

            logic.deliver = timed_deliver
            started = time.perf_counter()
            circular_id = await logic.create_circular(
                city_id, logic.CircularInput(title="ベンチの回覧", summary="大量送信の計測です。", needs_confirmation=True)
            )
            sending = time.perf_counter() - started
            created = await Delivery.count().where(Delivery.notice.is_in(
                CircularEntry.select(CircularEntry.notice).where(CircularEntry.circular == circular_id)))
            entries = await CircularEntry.count().where(CircularEntry.circular == circular_id)
            await simulate_progress(circular_id)
            hello, page, queries = await dashboard_timing(city_id, circular_id)
            vacuumed = None
            if postgres:
                # What autovacuum does on its own soon after a bulk write: sets the visibility map,
                # so the covering index answers without reading the table.
                await Delivery.raw("VACUUM ANALYZE delivery").run()
                vacuumed = await dashboard_timing(city_id, circular_id, account_exists=True)
        finally:
            if not os.environ.get("KEEP"):  # KEEP=1 leaves the rows for EXPLAIN
                await cleanup()
    database = "PostgreSQL" if postgres else "SQLite"
    print(f"{database}: {associations} associations × {households} households")
    print(f"  reference (plain bulk write of {total} delivery rows): {ref:.2f} s")
    print(f"  send_circular: {entries} entries, {created} deliveries in {sending:.2f} s"
          f"  -> {sending / ref:.2f}x the reference (target ≤ 10 s: {'met' if sending <= 10 else 'MISSED'})")
    print(f"    of which entries + notices {sending - sum(spent):.2f} s, deliveries (outbox) {sum(spent):.2f} s")
    print(f"  dashboard page (median of {PAGE_RUNS}): {page * 1000:.0f} ms; its SQL alone {queries * 1000:.0f} ms;"
          f" /healthz on the same client {hello * 1000:.1f} ms -> {page / hello:.0f}x"
          f" (target ≤ 200 ms: {'met' if page <= 0.2 else 'MISSED'}) — right after the bulk write")
    if vacuumed:
        hello, page, queries = vacuumed
        print(f"  dashboard page after autovacuum's pass: {page * 1000:.0f} ms; its SQL alone {queries * 1000:.0f} ms;"
              f" /healthz {hello * 1000:.1f} ms -> {page / hello:.0f}x"
              f" (target ≤ 200 ms: {'met' if page <= 0.2 else 'MISSED'})")
    close = getattr(get_engine(), "close_shared_connections", None)
    if close:
        await close()


if __name__ == "__main__":
    asyncio.run(main())
