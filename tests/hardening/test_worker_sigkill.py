"""Each e-mail's result is recorded as soon as the server accepts it (issue 14, Low): a worker
killed with SIGKILL in the middle of sending to ~300 households re-sends, after a restart, at
most the messages in flight on its open SMTP connections — and loses nobody."""

from __future__ import annotations

import signal
from collections import Counter

from chonaikai.delivery.outbox import create_deliveries
from chonaikai.delivery.tables import Delivery
from tests.delivery.helpers import make_households, make_notice
from tests.delivery.test_worker_process import SlowSink, start_worker, wait_for_messages

HOUSEHOLDS = 300
# Open SMTP connections: the worker's 2 lanes for e-mail, each sending over up to
# CHONAIKAI_SMTP_CONNECTIONS=2 (start_worker).
CONNECTIONS = 2 * 2
# No pipelining, and a connection sends its next message only once the last one's "sent" is
# committed: on each connection one message at a time is sent but not yet recorded.
IN_FLIGHT_PER_CONNECTION = 1


async def test_sigkill_mid_send_then_restart_duplicates_at_most_the_messages_in_flight(tenant):
    await make_households(tenant, HOUSEHOLDS)
    notice = await make_notice(tenant)
    await create_deliveries(notice)
    sink = SlowSink().start()
    try:
        process = start_worker(smtp_port=sink.port)
        try:
            await wait_for_messages(sink, 100)
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait(10)
        sent_before_restart = len(sink.messages)
        assert sent_before_restart < HOUSEHOLDS, "the kill should land mid-send"

        # Restarted after the dead worker's lease (5 s) has ended; it sends the rest.
        import asyncio

        await asyncio.sleep(6)
        restarted = start_worker("--once", smtp_port=sink.port)
        out, err = restarted.communicate(timeout=180)
        assert restarted.returncode == 0, err

        received = Counter(message["To"].addresses[0].addr_spec for message in sink.messages)
    finally:
        sink.stop()
    assert set(received) == {f"h{i}-email@example.jp" for i in range(HOUSEHOLDS)}  # 0 lost
    duplicates = sum(count - 1 for count in received.values())
    assert duplicates <= CONNECTIONS * IN_FLIGHT_PER_CONNECTION, duplicates
    rows = await Delivery.select(Delivery.status).where(Delivery.notice == notice)
    assert {row["status"] for row in rows} == {"sent"}
