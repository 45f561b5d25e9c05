"""Benchmark (not a test): one notice to N LINE households through the fake LINE server.

    .venv/bin/python bench/line_fanout.py            # SQLite, 120,000 households
    N=10000 .venv/bin/python bench/line_fanout.py    # another size
    CHONAIKAI_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench .venv/bin/python bench/line_fanout.py

The fake LINE server runs in its own process on loopback (LINE's terms forbid load tests on
their platform). Prints:

- calls made ÷ ⌈N/500⌉ — multicast batching (target exactly 1.0);
- our send rate ÷ a bare aiohttp loop posting the same multicast requests (same bodies, same
  parallelism) to the same fake — for the LINE channel alone (``LineChannelSender.send`` on
  batches of 500 claimed jobs: link lookup, message, retry keys stored before each call) and
  for the whole outbox worker (claiming and recording rows too). Target ≥ 0.8.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

url = os.environ.get("CHONAIKAI_BENCH_DATABASE_URL") or f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.sqlite3'}"
os.environ["CHONAIKAI_DATABASE_URL"] = url
os.environ.setdefault("CHONAIKAI_ENV", "test")
PORT = int(os.environ.get("FAKE_PORT", "8099"))
TOKEN, SECRET, CHANNEL_ID = "bench-token", "bench-secret", "1650009999"
os.environ["CHONAIKAI_LINE_API_BASE"] = f"http://127.0.0.1:{PORT}"
os.environ["BENCH_LINE_TOKEN"], os.environ["BENCH_LINE_SECRET"] = TOKEN, SECRET
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402

from chonaikai.cli import migrate  # noqa: E402
from chonaikai.db import get_engine, insert_many, postgres_pool, write_transaction  # noqa: E402
from chonaikai.delivery.channels import DeliveryJob  # noqa: E402
from chonaikai.delivery.outbox import create_deliveries  # noqa: E402
from chonaikai.delivery.tables import Delivery  # noqa: E402
from chonaikai.delivery.worker import Worker  # noqa: E402
from chonaikai.line.channel import MAX_PARALLEL_CALLS, LineChannelSender  # noqa: E402
from chonaikai.line.messages import notice_message  # noqa: E402
from chonaikai.line.tables import LineLink  # noqa: E402
from chonaikai.notices.tables import Notice  # noqa: E402
from chonaikai.roster.tables import Household  # noqa: E402
from chonaikai.tenancy.scope import Tenant  # noqa: E402
from chonaikai.tenancy.tables import Association, City  # noqa: E402

N = int(os.environ.get("N", "120000"))
SLUG = "bench-line"


def fake(path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{PORT}{path}", method="POST" if body is not None else "GET",
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


async def setup() -> tuple[Tenant, list[str]]:
    now = datetime.now(UTC)
    city = await City.select(City.id).where(City.slug == "bench-city").first()
    if city is None:
        city = (await City.insert(City(slug="bench-city", name="計測市", municipality_code="079995", updated_at=now)).returning(City.id))[0]
    spec = {"channel_id": CHANNEL_ID, "access_token_env": "BENCH_LINE_TOKEN", "channel_secret_env": "BENCH_LINE_SECRET"}
    row = (await Association.insert(Association(slug=SLUG, name="計測町内会", city=city["id"], line_channel=spec, updated_at=now)).returning(*Association.all_columns()))[0]
    tenant = Tenant.from_row(row)
    async with write_transaction():
        await insert_many(Household, [tenant.new(Household, name=f"世帯{i}", channel="line", created_at=now, updated_at=now) for i in range(N)])
    ids = [r["id"] for r in await tenant.select(Household, Household.id).order_by(Household.id)]
    users = ["U" + uuid.uuid4().hex for _ in ids]
    async with write_transaction():
        await insert_many(LineLink, [tenant.new(LineLink, household=h, channel_id=CHANNEL_ID, line_user_id=u, active=True, linked_at=now)
                                     for h, u in zip(ids, users, strict=True)])
    return tenant, users


async def new_notice(tenant: Tenant, title: str) -> int:
    now = datetime.now(UTC)
    notice = tenant.new(Notice, title=title, body="日曜日の朝8時から公園の清掃をします。", status="published",
                        published_at=now, created_at=now, updated_at=now)
    await notice.save()
    await create_deliveries(notice.id)
    return notice.id


async def channel_only(tenant: Tenant, notice_id: int) -> float:
    rows = await tenant.select(Delivery, Delivery.id, Delivery.household, Delivery.token).where(Delivery.notice == notice_id).order_by(Delivery.id)
    jobs = [DeliveryJob(r["id"], tenant.id, notice_id, r["household"], "line", r["token"], 1) for r in rows]
    sender = LineChannelSender()
    started = time.perf_counter()
    # The worker hands batches of 500 from 2 lanes; here: all batches, 2 at a time.
    batches = [jobs[i : i + 500] for i in range(0, len(jobs), 500)]
    semaphore = asyncio.Semaphore(2)

    async def one(batch):
        async with semaphore:
            return await sender.send(batch)

    results = await asyncio.gather(*(one(b) for b in batches))
    elapsed = time.perf_counter() - started
    await sender.close()
    assert all(o.kind == "sent" for r in results for o in r), "not every delivery was sent"
    return elapsed


async def whole_worker(tenant: Tenant, notice_id: int) -> float:
    sender = LineChannelSender()
    started = time.perf_counter()
    handled = await Worker([sender], lanes=2, publish_due=False).run(once=True)
    elapsed = time.perf_counter() - started
    await sender.close()
    assert handled == N, handled
    return elapsed


async def bare_loop(users: list[str], notice_id: int) -> float:
    message = notice_message("計測町内会", notice_id, "参照", "日曜日の朝8時から公園の清掃をします。")
    bodies = [json.dumps({"to": users[i : i + 500], "messages": [message]}).encode() for i in range(0, len(users), 500)]
    semaphore = asyncio.Semaphore(2 * MAX_PARALLEL_CALLS)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}) as session:
        started = time.perf_counter()

        async def post(body: bytes) -> None:
            async with semaphore, session.post(f"http://127.0.0.1:{PORT}/v2/bot/message/multicast", data=body,
                                               headers={"X-Line-Retry-Key": str(uuid.uuid4())}) as response:
                assert response.status == 200, response.status
                await response.read()

        await asyncio.gather(*(post(b) for b in bodies))
        return time.perf_counter() - started


async def main() -> None:
    server = subprocess.Popen(  # noqa: ASYNC220 (a benchmark's set-up)
        [sys.executable, "-m", "chonaikai.line.fake_server", "--port", str(PORT),
         "--channel-id", CHANNEL_ID, "--token", TOKEN, "--secret", SECRET],
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                fake("/_fake/messages?user=none")
                break
            except OSError:
                await asyncio.sleep(0.1)
        async with postgres_pool(get_engine()):
            await migrate()
            old = await Association.select(Association.id).where(Association.slug == SLUG).first()
            if old:
                sys.exit(f"association {SLUG!r} exists in this database: use an empty one")
            t0 = time.perf_counter()
            tenant, users = await setup()
            await asyncio.to_thread(fake, "/_fake/reset", {})
            print(f"{N:,} LINE households on {get_engine().engine_type}; set-up {time.perf_counter() - t0:.1f} s")

            # The fake drops messages to non-friends; the rates are the same either way, and
            # befriending 120,000 users would only measure the fake's bookkeeping.
            reference = await bare_loop(users, 0)
            fake("/_fake/reset", {})
            notice_a = await new_notice(tenant, "チャネルだけ")
            ours = await channel_only(tenant, notice_a)
            calls = fake("/_fake/messages?user=none")["calls"].get("multicast", 0)
            await tenant.update(Delivery, {Delivery.status: "sent"}).where(Delivery.notice == notice_a)
            fake("/_fake/reset", {})
            notice_b = await new_notice(tenant, "ワーカー全体")
            worker = await whole_worker(tenant, notice_b)
            worker_calls = fake("/_fake/messages?user=none")["calls"].get("multicast", 0)

            expected = math.ceil(N / 500)
            print(f"multicast calls ÷ ⌈N/500⌉: channel {calls / expected:.3f}, worker {worker_calls / expected:.3f} (target 1.0)")
            print(f"bare aiohttp loop: {reference:.2f} s ({N / reference:,.0f} recipients/s)")
            print(f"LINE channel:      {ours:.2f} s ({N / ours:,.0f} recipients/s) → rate ratio {reference / ours:.2f} (target ≥ 0.8)")
            print(f"whole worker:      {worker:.2f} s ({N / worker:,.0f} recipients/s) → rate ratio {reference / worker:.2f}")
            async with write_transaction():
                await Delivery.delete().where(Delivery.association == tenant.id)
                await Notice.delete().where(Notice.association == tenant.id)
                await LineLink.delete().where(LineLink.association == tenant.id)
                await Household.delete().where(Household.association == tenant.id)
                await Association.delete().where(Association.id == tenant.id)
    finally:
        server.terminate()
        close = getattr(get_engine(), "close_shared_connections", None)
        if close:
            await close()


if __name__ == "__main__":
    asyncio.run(main())
