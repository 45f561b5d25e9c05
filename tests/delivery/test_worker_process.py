"""The worker as operators run it: a real `chonaikai worker` process, killed or stopped."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest

from chonaikai.channels.email import EmailChannel
from chonaikai.db import is_postgres
from chonaikai.delivery.outbox import create_deliveries
from chonaikai.delivery.tables import Delivery, WorkerLock
from chonaikai.delivery.worker import Worker
from tests.delivery.helpers import Clock, make_households, make_notice
from tests.mailsink import MailSink


class SlowSink(MailSink):
    """Takes a while per message, so a test can act while a batch is being sent."""

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        await asyncio.sleep(0.05)
        return await super().handle_DATA(server, session, envelope)


def start_worker(*args: str, smtp_port: int | None = None) -> subprocess.Popen:
    env = dict(os.environ, CHONAIKAI_DELIVERY_LEASE_SECONDS="5", CHONAIKAI_SMTP_CONNECTIONS="2")
    if smtp_port:
        env["CHONAIKAI_SMTP_PORT"] = str(smtp_port)
    return subprocess.Popen(
        [sys.executable, "-m", "chonaikai", "worker", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def wait_for_messages(sink: MailSink, count: int, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while len(sink.messages) < count:
        assert time.monotonic() < deadline, f"only {len(sink.messages)} messages arrived"
        await asyncio.sleep(0.02)


@pytest.fixture
def slow_sink():
    sink = SlowSink().start()
    yield sink
    sink.stop()


async def test_sigkill_mid_batch_then_restart_loses_nobody(tenant, slow_sink, mail_sink):
    households = await make_households(tenant, 40)
    notice = await make_notice(tenant)
    await create_deliveries(notice)

    process = start_worker(smtp_port=slow_sink.port)
    try:
        await wait_for_messages(slow_sink, 4)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    rows = await Delivery.select().where(Delivery.notice == notice)
    in_flight = sum(row["status"] == "sending" for row in rows)
    assert in_flight, "the kill should land mid-batch"

    # Restarted after the dead worker's lease (5 s) has ended.
    clock = Clock()
    clock.advance(6)
    await Worker([EmailChannel()], clock=clock).run(once=True)

    rows = await Delivery.select().where(Delivery.notice == notice)
    assert sorted(row["household"] for row in rows) == sorted(households)  # one row each
    assert {row["status"] for row in rows} == {"sent"}
    received = {m["To"].addresses[0].addr_spec for m in slow_sink.messages + mail_sink.messages}
    assert received == {f"h{i}-email@example.jp" for i in range(40)}  # none lost
    # Duplicates only from the batch in flight when it died (the documented window).
    duplicates = len(slow_sink.messages) + len(mail_sink.messages) - 40
    assert duplicates <= in_flight


async def test_sigterm_finishes_the_batch_and_exits_cleanly(tenant, slow_sink):
    await make_households(tenant, 12)
    notice = await make_notice(tenant)
    await create_deliveries(notice)

    process = start_worker(smtp_port=slow_sink.port)
    await wait_for_messages(slow_sink, 1)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "stopped after 12 deliveries" in out
    rows = await Delivery.select().where(Delivery.notice == notice)
    assert {row["status"] for row in rows} == {"sent"}
    assert len(slow_sink.messages) == 12
    assert await WorkerLock.count() == 0  # let go of the SQLite lock


@pytest.mark.skipif("__import__('chonaikai.db', fromlist=['x']).is_postgres()")
async def test_second_worker_on_sqlite_is_refused_with_a_clear_message(tenant):
    assert not is_postgres()
    holder = Worker([], worker_id="first-worker")
    await holder.acquire_lock()
    process = start_worker("--once")
    out, err = process.communicate(timeout=120)
    assert process.returncode == 3
    assert "すでに動いています" in err and "only one worker" in err and "first-worker" in err
    await holder.release_lock()
    process = start_worker("--once")
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
