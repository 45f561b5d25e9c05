"""Scheduled work (chonaikai.jobs), run by the worker between delivery rounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chonaikai import jobs
from chonaikai.accounts.tables import WebSession
from chonaikai.channels.email import EmailChannel
from chonaikai.delivery.worker import Worker
from tests.delivery.helpers import Clock, make_households, make_notice


async def test_worker_publishes_scheduled_notices_that_came_due(tenant, mail_sink):
    from chonaikai.notices.tables import Notice

    await make_households(tenant, 2)
    clock = Clock()
    notice = await make_notice(tenant, status="scheduled", publish_at=clock.now + timedelta(minutes=5))
    await Worker([EmailChannel()], clock=clock, due_jobs=jobs.run_due).run(once=True)
    assert mail_sink.messages == []
    clock.advance(301)
    await Worker([EmailChannel()], clock=clock, due_jobs=jobs.run_due).run(once=True)
    assert (await Notice.select(Notice.status).where(Notice.id == notice).first())["status"] == "published"
    assert len(mail_sink.messages) == 2


async def test_the_workers_jobs_purge_expired_sessions_once_an_hour():
    now = datetime.now(UTC)
    await WebSession.insert(
        WebSession(key="old", value=b"x", expires_at=now - timedelta(minutes=1)),
        WebSession(key="live", value=b"x", expires_at=now + timedelta(hours=1)),
    )
    jobs._last_purge.clear()
    await jobs.run_due(now)
    assert [row["key"] for row in await WebSession.select(WebSession.key)] == ["live"]
    # Within the hour nothing is purged again; after it, what expired meanwhile goes.
    await WebSession.insert(WebSession(key="later", value=b"x", expires_at=now - timedelta(seconds=1)))
    await jobs.run_due(now + timedelta(minutes=30))
    assert await WebSession.count() == 2
    await jobs.run_due(now + timedelta(minutes=61))
    assert [row["key"] for row in await WebSession.select(WebSession.key)] == ["live"]


async def test_the_worker_command_wires_every_registered_channel():
    worker = jobs.make_worker()
    assert set(worker.channels) == {"email", "line"}  # paper is printed, never sent
    assert worker.due_jobs is jobs.run_due
