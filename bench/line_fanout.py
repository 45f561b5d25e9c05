"""Benchmark (not a test): one notice to N LINE households through the fake LINE server.

    .venv/bin/python bench/line_fanout.py            # SQLite, 120,000 households
    N=10000 .venv/bin/python bench/line_fanout.py    # another size
    CHONAIKAI_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench .venv/bin/python bench/line_fanout.py

The fake LINE server runs in its own process on loopback (LINE's terms forbid load tests on
their platform). Prints:

- calls made ÷ ⌈N/500⌉ — multicast batching (target exactly 1.0);
- the whole worker's recipients per second ÷ LINE's own multicast ceiling for one channel
  (200 calls/s × 500 recipients = 100,000/s; target ≥ 0.25, issue 20);
- a round with injected failures (500s, 429s, a 503 after accepting, and timeouts after
  accepting): every sampled recipient gets the notice exactly once (0 duplicates, 0 missing);
- our send rate ÷ a bare loop posting the same multicast requests (the same JSON bodies, the
  same number in flight as our sender: ``MAX_PARALLEL_CALLS``) to the same fake — for the LINE
  channel alone (``LineChannelSender.send`` on claims of ``batch_size`` jobs handed over one at
  a time, as the worker's one LINE lane does: link lookup, retry keys stored, then the calls)
  and for the whole outbox worker (claiming and recording rows too). Target ≥ 0.8.

  Two bare loops: httpx (what issue 6 names) and aiohttp (what line-bot-sdk itself uses, and
  on this machine about twice as fast as httpx — the harder reference). Both are printed.

Each measurement is repeated ``REPEAT`` times (default 3) with the references run next to ours
in every round (the machine may be shared); every run and the medians are printed.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import statistics
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
import httpx  # noqa: E402

from chonaikai.cli import migrate  # noqa: E402
from chonaikai.wiring import wire  # noqa: E402

wire()  # the delivery core's content sources and channels, as the app and the worker do
from chonaikai.db import get_engine, insert_many, postgres_pool, write_transaction  # noqa: E402
from chonaikai.delivery.channels import DeliveryJob  # noqa: E402
from chonaikai.delivery.outbox import create_deliveries  # noqa: E402
from chonaikai.delivery.tables import Delivery  # noqa: E402
from chonaikai.delivery.worker import Worker  # noqa: E402
from chonaikai.kept import freeze_start_up  # noqa: E402
from chonaikai.line.api import PreparedMessages  # noqa: E402
from chonaikai.line.channel import MAX_PARALLEL_CALLS, LineChannelSender  # noqa: E402
from chonaikai.line.messages import notice_message  # noqa: E402
from chonaikai.line.tables import LineLink  # noqa: E402
from chonaikai.notices.tables import Notice  # noqa: E402
from chonaikai.roster.tables import Household  # noqa: E402
from chonaikai.tenancy.scope import Tenant  # noqa: E402
from chonaikai.tenancy.tables import Association, City  # noqa: E402

N = int(os.environ.get("N", "120000"))
REPEAT = int(os.environ.get("REPEAT", "3"))
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
    # As the worker's one LINE lane hands them over: one claim of batch_size at a time.
    results = []
    for i in range(0, len(jobs), sender.batch_size):
        results.append(await sender.send(jobs[i : i + sender.batch_size]))
    elapsed = time.perf_counter() - started
    await sender.close()
    assert all(o.kind == "sent" for r in results for o in r), "not every delivery was sent"
    return elapsed


LINE_CEILING = 200 * 500  # multicast calls a second per channel × recipients a call


async def faults_round(tenant: Tenant, users: list[str]) -> tuple[float, int, int, int, int]:
    """The whole worker while the fake fails calls; returns (seconds, sampled users, duplicates,
    missing, calls). The fake keeps messages only for friends: a sample spread over every call."""
    notice_id = await new_notice(tenant, "障害の中で")
    fake("/_fake/reset", {})
    sample = users[:: max(1, len(users) // 1000)]
    for user in sample:
        fake("/_fake/friend", {"user_id": user})
    for status, times, delay, accept in ((500, 3, 0.0, False), (429, 3, 0.0, False), (503, 2, 0.0, True),
                                         (200, 2, 1.5, True)):  # 1.5 s > the sender's 1 s timeout
        fake("/_fake/fault", {"path": "multicast", "status": status, "times": times, "delay": delay, "accept": accept})
    sender = LineChannelSender(timeout=1.0)
    worker = Worker([sender], lanes=2, publish_due=False, retry_seconds=0.05)
    started = time.perf_counter()
    while time.perf_counter() - started < 300:
        await worker.run(once=True)
        left = await tenant.count(Delivery).where((Delivery.notice == notice_id) & (Delivery.status != "sent"))
        if not left:
            break
        await asyncio.sleep(0.2)  # retries are due after their backoff
    elapsed = time.perf_counter() - started
    await sender.close()
    inbox = fake("/_fake/messages")
    got = {user: len(inbox["messages"].get(user, [])) for user in sample}
    duplicates = sum(1 for count in got.values() if count > 1)
    missing = sum(1 for count in got.values() if count == 0)
    return elapsed, len(sample), duplicates, missing, inbox["calls"].get("multicast", 0)


async def whole_worker(tenant: Tenant, notice_id: int) -> float:
    sender = LineChannelSender()
    started = time.perf_counter()
    handled = await Worker([sender], lanes=2, publish_due=False).run(once=True)
    elapsed = time.perf_counter() - started
    await sender.close()
    assert handled == N, handled
    return elapsed


def same_bodies(users: list[str], title: str, notice_id: int) -> list[bytes]:
    """The JSON our sender posts for that notice (the SDK's json.dumps of the same dict)."""
    message = PreparedMessages([notice_message("計測町内会", notice_id, title, "日曜日の朝8時から公園の清掃をします。")]).dicts
    return [json.dumps({"messages": message, "to": users[i : i + 500], "notificationDisabled": False}).encode()
            for i in range(0, len(users), 500)]


async def bare_aiohttp(bodies: list[bytes]) -> float:
    # The same number of requests in flight as our sender (MAX_PARALLEL_CALLS), each with a retry key.
    semaphore = asyncio.Semaphore(MAX_PARALLEL_CALLS)
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}) as session:
        started = time.perf_counter()

        async def post(body: bytes) -> None:
            async with semaphore, session.post(f"http://127.0.0.1:{PORT}/v2/bot/message/multicast", data=body,
                                               headers={"X-Line-Retry-Key": str(uuid.uuid4())}) as response:
                assert response.status == 200, response.status
                await response.read()

        await asyncio.gather(*(post(b) for b in bodies))
        return time.perf_counter() - started


async def bare_httpx(bodies: list[bytes]) -> float:
    semaphore = asyncio.Semaphore(MAX_PARALLEL_CALLS)
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
                                 limits=httpx.Limits(max_connections=MAX_PARALLEL_CALLS)) as client:
        started = time.perf_counter()

        async def post(body: bytes) -> None:
            async with semaphore:
                response = await client.post(f"http://127.0.0.1:{PORT}/v2/bot/message/multicast", content=body,
                                             headers={"X-Line-Retry-Key": str(uuid.uuid4())})
                assert response.status_code == 200, response.status_code

        await asyncio.gather(*(post(b) for b in bodies))
        return time.perf_counter() - started


async def main() -> None:
    server = subprocess.Popen(  # noqa: ASYNC220 (a benchmark's set-up)
        [sys.executable, "-m", "chonaikai.devtools.fake_line_server", "--port", str(PORT),
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
            # As the `chonaikai worker` process does at start-up (jobs.run_worker_process);
            # CHONAIKAI_GC_FREEZE=0 measures without.
            if os.environ.get("CHONAIKAI_GC_FREEZE", "1") != "0":
                freeze_start_up()
            else:
                print("without gc.freeze()")

            # The fake drops messages to non-friends; the rates are the same either way, and
            # befriending 120,000 users would only measure the fake's bookkeeping.
            print(f"{MAX_PARALLEL_CALLS} requests in flight (ours and both bare loops); LINE claims of "
                  f"{LineChannelSender.batch_size} rows; median of {REPEAT} rounds")
            expected = math.ceil(N / 500)
            runs: dict[str, list[float]] = {"httpx": [], "aiohttp": [], "channel": [], "worker": []}
            for round_ in range(1, REPEAT + 1):
                notice_a = await new_notice(tenant, f"チャネルだけ{round_}")
                bodies = same_bodies(users, f"チャネルだけ{round_}", notice_a)
                runs["httpx"].append(await bare_httpx(bodies))
                runs["aiohttp"].append(await bare_aiohttp(bodies))
                fake("/_fake/reset", {})
                runs["channel"].append(await channel_only(tenant, notice_a))
                calls = fake("/_fake/messages?user=none")["calls"].get("multicast", 0)
                await tenant.update(Delivery, {Delivery.status: "sent"}).where(Delivery.notice == notice_a)
                fake("/_fake/reset", {})
                notice_b = await new_notice(tenant, f"ワーカー全体{round_}")
                runs["worker"].append(await whole_worker(tenant, notice_b))
                worker_calls = fake("/_fake/messages?user=none")["calls"].get("multicast", 0)
                fake("/_fake/reset", {})
                h, a, c, w = (runs[k][-1] for k in ("httpx", "aiohttp", "channel", "worker"))
                print(f"round {round_}: calls ÷ ⌈N/500⌉ channel {calls / expected:.3f} worker {worker_calls / expected:.3f}; "
                      f"httpx {h:.3f} s, aiohttp {a:.3f} s, channel {c:.3f} s, worker {w:.3f} s; "
                      f"ratios channel {h / c:.2f}/{a / c:.2f}, worker {h / w:.2f}/{a / w:.2f} (httpx/aiohttp)")

            h, a, c, w = (statistics.median(runs[k]) for k in ("httpx", "aiohttp", "channel", "worker"))
            print(f"bare httpx loop:   {h:.3f} s ({N / h:,.0f} recipients/s)")
            print(f"bare aiohttp loop: {a:.3f} s ({N / a:,.0f} recipients/s)")
            print(f"LINE channel:      {c:.3f} s ({N / c:,.0f} recipients/s) → rate ratio {h / c:.2f} vs httpx, "
                  f"{a / c:.2f} vs aiohttp (target ≥ 0.8)")
            print(f"whole worker:      {w:.3f} s ({N / w:,.0f} recipients/s) → rate ratio {h / w:.2f} vs httpx, "
                  f"{a / w:.2f} vs aiohttp")
            print(f"whole worker ÷ LINE's ceiling (200 calls/s × 500): {N / w:,.0f} ÷ {LINE_CEILING:,} = "
                  f"{N / w / LINE_CEILING:.2f} (target ≥ 0.25)")
            seconds, sampled, duplicates, missing, calls = await faults_round(tenant, users)
            print(f"with injected 500 ×3, 429 ×3, 503-after-accepting ×2, timeout-after-accepting ×2: all "
                  f"{N:,} sent in {seconds:.1f} s, {calls} calls for {expected} groups; of {sampled} sampled "
                  f"recipients {duplicates} got it twice, {missing} not at all (target 0 and 0)")
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
