"""The worker: e-mail through a real SMTP server, retries with backoff, permanent failures,
leases, one worker on SQLite, many on PostgreSQL, graceful stop."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from chonaikai.channels.email import REASON_SERVER_DOWN, EmailChannel
from chonaikai.delivery.channels import Outcome
from chonaikai.delivery.outbox import create_deliveries
from chonaikai.delivery.tables import Delivery
from chonaikai.delivery.worker import Worker, WorkerBusy, backoff_seconds
from tests.delivery.helpers import Clock, RecordingChannel, make_households, make_notice
from tests.factories import make_household
from tests.mailsink import text_of


async def _rows(notice_id):
    return {row["household"]: row for row in await Delivery.select().where(Delivery.notice == notice_id)}


async def test_email_households_get_one_message_each_with_their_read_link(tenant, mail_sink):
    emails = await make_households(tenant, 5, channel="email")
    paper = await make_household(tenant, "紙の家", han="2班", channel="paper")
    notice = await make_notice(tenant, title="夏祭りのお知らせ")
    await create_deliveries(notice)

    handled = await Worker([EmailChannel()], lanes=2).run(once=True)

    assert handled == 5
    assert len(mail_sink.messages) == 5
    rows = await _rows(notice)
    for household in emails:
        row = rows[household]
        assert row["status"] == "sent" and row["sent_at"] is not None and row["attempts"] == 1
        assert row["claimed_by"] is None and row["lease_until"] is None
        [message] = mail_sink.to(f"h{emails.index(household)}-email@example.jp")
        assert "夏祭りのお知らせ" in message["subject"]
        assert f"http://testserver/r/{row['token']}" in text_of(message)
        assert message["List-Unsubscribe"] == f"<http://testserver/u/{row['token']}>"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # Paper is for the print sheet, never the worker.
    assert rows[paper["id"]]["status"] == "pending"
    # Nothing left: a second run sends nothing.
    assert await Worker([EmailChannel()]).run(once=True) == 0
    assert len(mail_sink.messages) == 5


async def test_server_down_is_retried_with_backoff_and_delivered_when_it_returns(tenant, mail_sink):
    [household] = await make_households(tenant, 1)
    notice = await make_notice(tenant)
    await create_deliveries(notice)
    clock = Clock()
    mail_sink.stop()
    worker = lambda: Worker([EmailChannel()], clock=clock, retry_seconds=60, max_attempts=5)  # noqa: E731

    await worker().run(once=True)
    row = (await _rows(notice))[household]
    assert row["status"] == "pending" and row["attempts"] == 1
    assert row["last_error"] == REASON_SERVER_DOWN
    wait = (row["next_attempt_at"] - clock.now).total_seconds()
    assert 30 <= wait <= 60  # 60 s with jitter in its upper half

    clock.advance(wait + 1)
    await worker().run(once=True)
    row = (await _rows(notice))[household]
    assert row["attempts"] == 2
    second_wait = (row["next_attempt_at"] - clock.now).total_seconds()
    assert 60 <= second_wait <= 120  # doubled

    mail_sink.start()
    await worker().run(once=True)  # not due yet: nothing sent
    assert mail_sink.messages == []
    clock.advance(second_wait + 1)
    await worker().run(once=True)
    row = (await _rows(notice))[household]
    assert row["status"] == "sent" and row["attempts"] == 3 and row["last_error"] == ""
    assert len(mail_sink.messages) == 1


def test_backoff_grows_and_jitters():
    import random

    rng = random.Random(1)
    waits = [backoff_seconds(attempt, 60, rng) for attempt in (1, 2, 3, 4)]
    for attempt, wait in zip((1, 2, 3, 4), waits, strict=True):
        full = 60 * 2 ** (attempt - 1)
        assert full / 2 <= wait <= full
    assert len({round(backoff_seconds(3, 60, rng), 3) for _ in range(20)}) > 10  # jittered
    assert backoff_seconds(50, 60, rng) <= 6 * 3600  # capped


async def test_permanent_refusal_fails_at_once_in_plain_words(tenant, mail_sink):
    good, gone = await make_households(tenant, 2)
    mail_sink.refuse("h1-email@example.jp", 550)
    notice = await make_notice(tenant)
    await create_deliveries(notice)
    clock = Clock()
    await Worker([EmailChannel()], clock=clock).run(once=True)
    rows = await _rows(notice)
    assert rows[good]["status"] == "sent"
    assert rows[gone]["status"] == "failed" and rows[gone]["attempts"] == 1
    assert "見つかりませんでした" in rows[gone]["last_error"]
    clock.advance(7 * 24 * 3600)
    await Worker([EmailChannel()], clock=clock).run(once=True)
    assert (await _rows(notice))[gone]["attempts"] == 1  # never tried again
    assert len(mail_sink.to("h1-email@example.jp")) == 0


async def test_fails_after_max_attempts_with_last_error(tenant, mail_sink):
    [household] = await make_households(tenant, 1)
    mail_sink.refuse("h0-email@example.jp", 451)
    notice = await make_notice(tenant)
    await create_deliveries(notice)
    clock = Clock()
    for _ in range(3):
        await Worker([EmailChannel()], clock=clock, max_attempts=3, retry_seconds=1).run(once=True)
        clock.advance(10)
    row = (await _rows(notice))[household]
    assert row["status"] == "failed" and row["attempts"] == 3
    assert "一時的に受け取れませんでした" in row["last_error"] and "3回" in row["last_error"]


async def test_channel_that_raises_or_forgets_a_job_loses_nothing(tenant):
    households = await make_households(tenant, 3, channel="email")
    notice = await make_notice(tenant)
    await create_deliveries(notice)

    class Forgetful(RecordingChannel):
        async def send(self, batch):
            return [Outcome.sent(batch[0].delivery_id)]  # says nothing about the others

    # One lane, so all three rows are one batch (two lanes may split them on PostgreSQL).
    await Worker([Forgetful()], clock=Clock(), lanes=1).run(once=True)
    rows = await _rows(notice)
    assert sorted(row["status"] for row in rows.values()) == ["pending", "pending", "sent"]

    class Broken(RecordingChannel):
        async def send(self, batch):
            raise RuntimeError("boom")

    clock = Clock()
    clock.advance(3600)
    await Worker([Broken()], clock=clock).run(once=True)
    rows = await _rows(notice)
    assert sorted(row["status"] for row in rows.values()) == ["pending", "pending", "sent"]
    assert all(rows[h]["last_error"] for h in households if rows[h]["status"] == "pending")


async def test_rows_of_a_worker_that_died_are_claimed_again_after_the_lease(tenant):
    await make_households(tenant, 4)
    notice = await make_notice(tenant)
    await create_deliveries(notice)
    clock = Clock()
    dead = Worker([RecordingChannel()], clock=clock, lease_seconds=60, worker_id="dead")
    claimed = await dead.claim("email", 10)  # claims, then "dies" before sending
    assert len(claimed) == 4
    rows = await _rows(notice)
    assert {row["status"] for row in rows.values()} == {"sending"}
    assert {row["claimed_by"] for row in rows.values()} == {"dead"}

    other = RecordingChannel()
    await Worker([other], clock=clock, lease_seconds=60, worker_id="other").run(once=True)
    assert other.jobs == []  # still leased
    clock.advance(61)
    await Worker([other], clock=clock, lease_seconds=60, worker_id="other").run(once=True)
    assert sorted(job.delivery_id for job in other.jobs) == sorted(job.delivery_id for job in claimed)
    assert all(job.attempt == 2 for job in other.jobs)
    rows = await _rows(notice)
    assert {row["status"] for row in rows.values()} == {"sent"}

    # The dead worker's late answer changes nothing now that others hold the rows.
    await dead.record(claimed, [Outcome.permanent(job.delivery_id, "x") for job in claimed])
    assert {row["status"] for row in (await _rows(notice)).values()} == {"sent"}


@pytest.mark.skipif("not __import__('chonaikai.db', fromlist=['x']).is_postgres()")
async def test_two_workers_on_postgresql_never_send_one_delivery_twice(tenant):
    await make_households_fast(tenant, 400)
    notice = await make_notice(tenant)
    assert await create_deliveries(notice) == 400
    one, two = RecordingChannel(batch_size=20, delay=0.01), RecordingChannel(batch_size=20, delay=0.01)
    await asyncio.gather(
        Worker([one], worker_id="one", lanes=3).run(once=True),
        Worker([two], worker_id="two", lanes=3).run(once=True),
    )
    ids = [job.delivery_id for job in one.jobs + two.jobs]
    assert len(ids) == 400 and len(set(ids)) == 400
    assert one.jobs and two.jobs  # both really worked
    assert {row["status"] for row in (await _rows(notice)).values()} == {"sent"}


async def make_households_fast(tenant, count):
    from datetime import UTC, datetime

    from chonaikai.db import insert_many
    from chonaikai.roster.tables import Household

    now = datetime.now(UTC)
    rows = [
        tenant.new(Household, name=f"世帯{i}", channel="email", email=f"p{i}@example.jp", created_at=now, updated_at=now)
        for i in range(count)
    ]
    await insert_many(Household, rows)


@pytest.mark.skipif("__import__('chonaikai.db', fromlist=['x']).is_postgres()")
async def test_sqlite_refuses_a_second_worker_until_the_first_lease_ends(tenant):
    clock = Clock()
    first = Worker([RecordingChannel()], clock=clock, lease_seconds=30, worker_id="first")
    await first.acquire_lock()
    second = Worker([RecordingChannel()], clock=clock, lease_seconds=30, worker_id="second")
    with pytest.raises(WorkerBusy, match="only one worker"):
        await second.run(once=True)
    clock.advance(31)  # the first died without letting go: its lease ends
    await second.run(once=True)
    # ...and the first, coming back, notices it lost the lock and stops.
    with pytest.raises(WorkerBusy):
        await first.renew_lock()
    assert first.stopping.is_set()


async def test_stop_finishes_the_batch_in_hand(tenant):
    await make_households(tenant, 3)
    notice = await make_notice(tenant)
    await create_deliveries(notice)
    channel = RecordingChannel(delay=0.3)
    worker = Worker([channel], clock=Clock())
    task = asyncio.create_task(worker.run())
    await asyncio.sleep(0.15)  # mid-send
    worker.stop()
    await asyncio.wait_for(task, 5)
    assert len(channel.jobs) == 3 and channel.closed
    assert {row["status"] for row in (await _rows(notice)).values()} == {"sent"}


async def test_stop_releases_what_cannot_finish_in_time(tenant):
    await make_households(tenant, 3)
    notice = await make_notice(tenant)
    await create_deliveries(notice)
    channel = RecordingChannel(delay=30)
    worker = Worker([channel], clock=Clock(), grace_seconds=0.2)
    task = asyncio.create_task(worker.run())
    await asyncio.sleep(0.2)
    worker.stop()
    await asyncio.wait_for(task, 5)
    rows = (await _rows(notice)).values()
    assert {(row["status"], row["attempts"], row["claimed_by"]) for row in rows} == {("pending", 0, None)}


async def test_claimed_rows_are_marked_sending_before_the_channel_is_called(tenant):
    [household] = await make_households(tenant, 1)
    notice = await make_notice(tenant)
    await create_deliveries(notice)
    seen = []

    class Peek(RecordingChannel):
        async def send(self, batch):
            seen.append((await _rows(notice))[household]["status"])
            return await super().send(batch)

    await Worker([Peek()], clock=Clock()).run(once=True)
    assert seen == ["sending"]
    row = (await _rows(notice))[household]
    assert row["status"] == "sent"
    assert row["lease_until"] is None


async def test_lease_length_comes_from_the_setting(tenant, settings):
    await make_households(tenant, 1)
    notice = await make_notice(tenant)
    await create_deliveries(notice)
    clock = Clock()
    [job] = await Worker([RecordingChannel()], clock=clock).claim("email", 5)
    row = await Delivery.select().where(Delivery.id == job.delivery_id).first()
    assert row["lease_until"] - clock.now == timedelta(seconds=settings.delivery_lease_seconds)


@pytest.mark.skipif("__import__('chonaikai.db', fromlist=['x']).is_postgres()")
async def test_sqlite_lock_is_renewed_during_a_long_round(tenant):
    from chonaikai.delivery.tables import WorkerLock

    await make_households(tenant, 6)
    notice = await make_notice(tenant)
    await create_deliveries(notice)
    clock = Clock()
    start = clock.now
    seen = []

    class Slow(RecordingChannel):
        async def send(self, batch):
            clock.advance(20)  # each batch takes 20 s of a 30 s lease
            seen.append((await WorkerLock.select().first())["lease_until"])
            return await super().send(batch)

    await Worker([Slow(batch_size=1)], clock=clock, lease_seconds=30, lanes=1).run(once=True)
    assert len(seen) == 6
    assert max(seen) > start + timedelta(seconds=30 + 60)  # moved on with the work


async def test_rows_sharing_a_retry_key_are_claimed_together(tenant):
    # Backoff jitter spreads one multicast's rows over time; sending only some of them again under
    # the same key would make LINE answer 409 for the rest even if the first call never arrived.
    households = await make_households(tenant, 4, channel="email")
    notice = await make_notice(tenant)
    await create_deliveries(notice)
    clock = Clock()
    now = clock()
    ids = [row["id"] for row in await Delivery.select(Delivery.id).where(Delivery.notice == notice).order_by(Delivery.id)]
    await Delivery.update({Delivery.retry_key: "group-a", Delivery.next_attempt_at: now + timedelta(hours=1)}).where(
        Delivery.id.is_in(ids[:3])
    )
    await Delivery.update({Delivery.next_attempt_at: now - timedelta(minutes=1)}).where(Delivery.id == ids[0])
    await Delivery.update({Delivery.retry_key: "group-b", Delivery.next_attempt_at: now + timedelta(hours=1)}).where(
        Delivery.id == ids[3]
    )
    jobs = await Worker([RecordingChannel()], clock=clock).claim("email", 1)
    assert sorted(job.delivery_id for job in jobs) == ids[:3]  # the whole of group-a, nothing of group-b
    assert len(households) == 4


async def test_a_claim_takes_expired_leases_first_then_due_rows_and_never_more_than_asked(tenant):
    await make_households(tenant, 6)
    notice = await make_notice(tenant)
    await create_deliveries(notice)
    clock = Clock()
    dead = Worker([RecordingChannel()], clock=clock, lease_seconds=60, worker_id="dead")
    abandoned = {job.delivery_id for job in await dead.claim("email", 3)}
    assert len(abandoned) == 3
    clock.advance(61)
    # Due later than every other row, yet a claim takes it after the abandoned rows and before it.
    late = (await Delivery.select(Delivery.id).where((Delivery.notice == notice) & (Delivery.status == "pending")).order_by(Delivery.id).first())["id"]
    await Delivery.update({Delivery.next_attempt_at: clock() - timedelta(seconds=1)}).where(Delivery.id == late)
    other = Worker([RecordingChannel()], clock=clock, lease_seconds=60, worker_id="other")
    first = await other.claim("email", 4)
    assert len(first) == 4
    assert abandoned < {job.delivery_id for job in first}
    assert late not in {job.delivery_id for job in first}
    rest = await other.claim("email", 4)
    assert len(rest) == 2 and late in {job.delivery_id for job in rest}
    assert await other.claim("email", 4) == []
