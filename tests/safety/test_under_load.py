"""The worker keeps sending a check under load: 1,200 LINE and 300 e-mail households, LINE answering
429 and a mail server refusing for a while; in the end each household has it exactly once."""

from __future__ import annotations

from datetime import UTC, datetime

from chonaikai.channels.email import EmailChannel
from chonaikai.db import insert_many, write_transaction
from chonaikai.delivery.tables import Delivery
from chonaikai.delivery.worker import Worker
from chonaikai.line.channel import LineChannelSender
from chonaikai.roster.tables import Household
from chonaikai.safety import logic
from tests.delivery.helpers import Clock
from tests.line.helpers import linked_households


async def test_a_check_reaches_1500_households_through_429s_and_refusals(line_tenant, fake_line, mail_sink):
    tenant = line_tenant
    line_households = await linked_households(tenant, fake_line, 1200)
    now = datetime.now(UTC)
    async with write_transaction():
        await insert_many(Household, [
            tenant.new(Household, name=f"メール世帯{i}", channel="email", email=f"e{i}@example.jp",
                       created_at=now, updated_at=now)
            for i in range(300)
        ])
    mail_sink.refuse("e7@example.jp", 451)  # a temporary refusal
    fake_line.fail_next("multicast", status=429, times=2)  # rate limited twice

    check_id = await logic.start_check(tenant, logic.StartInput(title="地震の安否確認"))
    notice_id = (await logic.get_check(tenant, check_id))["notice"]
    clock = Clock()
    sender = LineChannelSender()
    try:
        for round_ in range(6):
            await Worker([EmailChannel(), sender], clock=clock, retry_seconds=30, publish_due=False).run(once=True)
            if round_ == 1:
                mail_sink.refusals.clear()  # the mail server is back
            clock.advance(3600)
    finally:
        await sender.close()
    rows = await tenant.select(Delivery).where(Delivery.notice == notice_id)
    assert len(rows) == 1500 and {row["status"] for row in rows} == {"sent"}
    assert all(len(fake_line.messages_for(users[0])) == 1 for _, users in line_households)
    assert len(mail_sink.messages) == 300 and len(mail_sink.to("e7@example.jp")) == 1
    retried = [row for row in rows if row["attempts"] > 1]
    assert retried  # the 429s and the refusal were retried, not dropped
