"""Priority: a 安否確認 (and an urgent notice) is claimed before every due row of a lower priority,
even rows queued long before it; expired leases still come first; retries keep the priority."""

from __future__ import annotations

from datetime import timedelta

from chonaikai.delivery import api
from chonaikai.delivery.channels import Outcome
from chonaikai.delivery.outbox import enqueue
from chonaikai.delivery.tables import Delivery
from chonaikai.delivery.worker import Worker
from tests.delivery.helpers import Clock, RecordingChannel, make_households, make_notice


async def test_higher_priority_rows_are_claimed_first_whatever_their_age(tenant):
    await make_households(tenant, 5)
    clock = Clock()
    old = await make_notice(tenant, title="一斉清掃のお知らせ")
    await enqueue([old], now=clock.now - timedelta(hours=1))
    urgent = await make_notice(tenant, title="断水のお知らせ")
    await enqueue([urgent], now=clock.now, priority=api.PRIORITY_URGENT)
    safety = await make_notice(tenant, title="地震の安否確認")
    await enqueue([safety], now=clock.now, priority=api.PRIORITY_SAFETY)
    rows = await Delivery.select(Delivery.notice, Delivery.priority)
    assert {(r["notice"], r["priority"]) for r in rows} == {(old, 0), (urgent, 1), (safety, 2)}

    worker = Worker([RecordingChannel()], clock=clock, lease_seconds=60, worker_id="w")
    first = await worker.claim("email", 5)
    assert {job.notice_id for job in first} == {safety}
    second = await worker.claim("email", 7)
    assert [job.notice_id for job in second].count(urgent) == 5 and [job.notice_id for job in second].count(old) == 2
    third = await worker.claim("email", 10)
    assert {job.notice_id for job in third} == {old} and len(third) == 3


async def test_abandoned_rows_still_come_first_and_a_retry_keeps_its_priority(tenant):
    await make_households(tenant, 3)
    clock = Clock()
    old = await make_notice(tenant)
    await enqueue([old], now=clock.now - timedelta(hours=1))
    dead = Worker([RecordingChannel()], clock=clock, lease_seconds=60, worker_id="dead")
    abandoned = {job.delivery_id for job in await dead.claim("email", 2)}
    safety = await make_notice(tenant, title="地震の安否確認")
    await enqueue([safety], now=clock.now, priority=api.PRIORITY_SAFETY)
    clock.advance(61)
    other = Worker([RecordingChannel()], clock=clock, lease_seconds=60, worker_id="other")
    claimed = await other.claim("email", 5)
    by_notice = {job.delivery_id: job.notice_id for job in claimed}
    assert abandoned <= set(by_notice)  # a dead worker's rows first …
    assert sorted(by_notice.values()) == sorted([old, old, safety, safety, safety])  # … then the check, not the old row
    # A failed try goes back to pending with its priority: retried ahead of the old notice.
    for job in claimed:
        outcome = Outcome.retry(job.delivery_id, "一時的な失敗") if job.notice_id == safety else Outcome.sent(job.delivery_id)
        await other.record([job], [outcome])
    clock.advance(3600)
    retry = await other.claim("email", 3)
    assert {job.notice_id for job in retry} == {safety}
    rows = await Delivery.select(Delivery.priority).where(Delivery.notice == safety)
    assert {row["priority"] for row in rows} == {api.PRIORITY_SAFETY}


async def test_publishing_an_urgent_notice_gives_its_deliveries_priority(tenant):
    from chonaikai.notices import logic

    await make_households(tenant, 2)
    normal = await logic.create_notice(tenant, logic.NoticeInput(title="回覧", body="本文"))
    urgent = await logic.create_notice(tenant, logic.NoticeInput(title="断水", body="本文", urgent=True))
    await logic.publish_notice(tenant, normal)
    await logic.publish_notice(tenant, urgent)
    rows = await Delivery.select(Delivery.notice, Delivery.priority)
    assert {(r["notice"], r["priority"]) for r in rows} == {(normal, 0), (urgent, 1)}
