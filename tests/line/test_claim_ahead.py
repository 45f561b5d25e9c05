"""The LINE lane of the worker (issue 20): retry keys given in the claim's own write, the next
batch claimed while the current one is sent, the previous one recorded meanwhile; and what a
crash or a stop in the middle of that leaves behind (nothing lost, nothing sent twice)."""

from __future__ import annotations

import re
from collections import Counter

from chonaikai.delivery.channels import DeliveryJob, Outcome
from chonaikai.delivery.outbox import create_deliveries
from chonaikai.delivery.tables import Delivery
from chonaikai.delivery.worker import Worker
from chonaikai.line.channel import LineChannelSender
from tests.delivery.helpers import Clock, make_notice
from tests.line.helpers import linked_households

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


async def test_a_keyed_claim_gives_each_500_rows_of_a_notice_one_key_in_the_same_write(line_tenant, fake_line):
    await linked_households(line_tenant, fake_line, 700)
    first, second = await make_notice(line_tenant, title="一つ目"), await make_notice(line_tenant, title="二つ目")
    await create_deliveries(first)
    await create_deliveries(second)
    jobs = await Worker([LineChannelSender()], publish_due=False).claim("line", 1200, key_group=500, households=False)
    assert len(jobs) == 1200
    keys: dict[int, dict[str, int]] = {first: {}, second: {}}
    for job in jobs:
        assert job.retry_key and UUID.match(job.retry_key), job.retry_key
        keys[job.notice_id][job.retry_key] = keys[job.notice_id].get(job.retry_key, 0) + 1
    # Never one key for two notices (two different messages); at most 500 rows a key.
    assert not set(keys[first]) & set(keys[second])
    assert sorted(keys[first].values()) + sorted(keys[second].values()) == [200, 500, 500]
    rows = await line_tenant.select(Delivery, Delivery.id, Delivery.retry_key, Delivery.status).where(Delivery.status == "sending")
    assert {row["id"]: row["retry_key"] for row in rows} == {job.delivery_id: job.retry_key for job in jobs}


async def test_a_dead_workers_expired_group_is_claimed_whole_even_past_the_limit(line_tenant, fake_line):
    await linked_households(line_tenant, fake_line, 6)
    await create_deliveries(await make_notice(line_tenant))
    clock = Clock()
    dead = await Worker([LineChannelSender()], clock=clock, publish_due=False).claim("line", 10, key_group=500, households=False)
    assert len({job.retry_key for job in dead}) == 1
    clock.advance(3600)  # its lease has ended
    again = await Worker([LineChannelSender()], clock=clock, publish_due=False).claim("line", 4, key_group=500, households=False)
    assert sorted(job.delivery_id for job in again) == sorted(job.delivery_id for job in dead)
    assert {job.retry_key for job in again} == {dead[0].retry_key}


async def crash_while_recording(line_tenant, fake_line, monkeypatch) -> tuple[list, int, Clock, bool]:
    """1,200 LINE households, one notice, and a worker whose recording fails (the database goes
    away after the first calls). Returns the households, the notice, the clock and whether the
    run ended with that error."""
    households = await linked_households(line_tenant, fake_line, 1200)
    notice_id = await make_notice(line_tenant)
    await create_deliveries(notice_id)
    clock = Clock()
    sender = LineChannelSender()
    sender.batch_size = 500  # three batches: 500, 500, 200
    worker = Worker([sender], clock=clock, publish_due=False)
    original = Worker.record

    async def record_fails(self, jobs, outcomes):
        raise ConnectionError("database gone")

    monkeypatch.setattr(Worker, "record", record_fails)
    raised = False
    try:
        await worker.run(once=True)
    except ConnectionError:
        raised = True
    finally:
        await sender.close()
    monkeypatch.setattr(Worker, "record", original)
    return households, notice_id, clock, raised


async def another_worker_sends_each_once(line_tenant, fake_line, households, notice_id: int, clock: Clock) -> None:
    """The leases end, another worker takes over: everyone has the notice, nobody twice."""
    clock.advance(3600)
    sender = LineChannelSender()
    try:
        await Worker([sender], clock=clock, publish_due=False).run(once=True)
    finally:
        await sender.close()
    rows = await line_tenant.select(Delivery, Delivery.status).where(Delivery.notice == notice_id)
    assert {row["status"] for row in rows} == {"sent"}
    assert all(len(fake_line.messages_for(users[0])) == 1 for _, users in households)


async def test_crash_with_two_batches_sent_and_not_recorded_sends_nobody_twice(line_tenant, fake_line, monkeypatch):
    households, notice_id, clock, _ = await crash_while_recording(line_tenant, fake_line, monkeypatch)
    rows = await line_tenant.select(Delivery, Delivery.status).where(Delivery.notice == notice_id)
    assert {row["status"] for row in rows} <= {"sending", "pending"}
    sent_first = fake_line.state.calls["multicast"]
    assert sent_first >= 2  # the batch in flight and the one before it were both sent, neither recorded
    await another_worker_sends_each_once(line_tenant, fake_line, households, notice_id, clock)


async def test_when_recording_fails_the_batch_claimed_meanwhile_is_given_back_at_once(line_tenant, fake_line, monkeypatch):
    households, notice_id, clock, raised = await crash_while_recording(line_tenant, fake_line, monkeypatch)
    assert raised
    # The two batches sent stay leased: their keys, stored with the lease, make sending them
    # again a 409. The third was claimed while the first was being recorded (PostgreSQL: side by
    # side; SQLite: not claimed at all, the recording came first) and never sent: pending again
    # now, its try not counted, rather than waiting for its lease to end.
    rows = await line_tenant.select(Delivery, Delivery.status, Delivery.attempts).where(Delivery.notice == notice_id)
    assert Counter(row["status"] for row in rows) == {"sending": 1000, "pending": 200}
    assert {row["attempts"] for row in rows if row["status"] == "pending"} == {0}
    assert fake_line.state.calls["multicast"] == 2
    await another_worker_sends_each_once(line_tenant, fake_line, households, notice_id, clock)


class StopsAfterFirstBatch:
    """A LINE stand-in: asks the worker to stop while its first batch is in flight."""

    name = "line"
    batch_size = 3
    max_lanes = 1
    claim_ahead = True
    key_group = 500
    needs_households = False

    def __init__(self) -> None:
        self.worker: Worker | None = None
        self.batches: list[list[int]] = []

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def send(self, batch: list[DeliveryJob]) -> list[Outcome]:
        self.batches.append([job.delivery_id for job in batch])
        assert self.worker is not None
        self.worker.stop()
        return [Outcome.sent(job.delivery_id, retry_key=job.retry_key) for job in batch]


async def test_stopping_records_the_batch_sent_and_releases_the_one_claimed_ahead(line_tenant, fake_line):
    await linked_households(line_tenant, fake_line, 8)
    notice_id = await make_notice(line_tenant)
    await create_deliveries(notice_id)
    channel = StopsAfterFirstBatch()
    worker = channel.worker = Worker([channel], publish_due=False)  # type: ignore[list-item]
    await worker.run()
    assert len(channel.batches) == 1
    rows = await line_tenant.select(Delivery, Delivery.id, Delivery.status, Delivery.attempts).where(Delivery.notice == notice_id)
    sent = {row["id"] for row in rows if row["status"] == "sent"}
    assert sent == set(channel.batches[0])
    assert {(row["status"], row["attempts"]) for row in rows if row["id"] not in sent} == {("pending", 0)}
    assert worker.held == set()
