"""Started by API, a check reaches e-mail, LINE and paper households through the outbox; urgent
deliveries go out before older pending ones; answers from every channel land in one tally."""

from __future__ import annotations

from chonaikai.accounts.api_tokens import create_token
from chonaikai.channels.email import EmailChannel
from chonaikai.delivery.outbox import create_deliveries
from chonaikai.delivery.tables import Delivery
from chonaikai.delivery.worker import Worker
from chonaikai.line.channel import LineChannelSender
from chonaikai.safety import logic
from tests.delivery.helpers import make_notice
from tests.factories import make_household
from tests.line.helpers import linked_households
from tests.mailsink import text_of


async def test_started_by_api_it_reaches_every_channel_before_older_deliveries(client, line_tenant, fake_line, mail_sink):
    tenant = line_tenant
    mails = [await make_household(tenant, f"メール{i}", "1班", channel="email", email=f"m{i}@example.jp",
                                  phone=f"024-100-000{i}") for i in range(3)]
    paper = await make_household(tenant, "紙の家", "2班", channel="paper", phone="024-100-0009")
    line_households = await linked_households(tenant, fake_line, 2)
    # Older, ordinary deliveries still waiting in the outbox.
    older = await make_notice(tenant, title="一斉清掃のお知らせ")
    assert await create_deliveries(older) == 6

    token = (await create_token(role="chair", association_slug=tenant.slug)).secret
    started = await client.post(f"/api/v1/associations/{tenant.slug}/safety-checks", json={"title": "地震の安否確認"},
                                headers={"Authorization": f"Bearer {token}"})
    assert started.status_code == 201
    check = await logic.get_check(tenant, started.json()["id"])
    rows = await tenant.select(Delivery).where(Delivery.notice == check["notice"])
    assert sorted(row["channel"] for row in rows) == ["email", "email", "email", "line", "line", "paper"]

    email, line = EmailChannel(), LineChannelSender()
    email.batch_size, line.batch_size = 3, 2  # one claim holds only the urgent ones
    try:
        await Worker([email, line], lanes=1, publish_due=False).run(once=True)
    finally:
        await line.close()
    subjects = [str(m["subject"]) for m in mail_sink.messages]
    assert len(subjects) == 6
    assert all("地震の安否確認" in s for s in subjects[:3]), subjects
    assert all("一斉清掃" in s for s in subjects[3:]), subjects
    firsts = [fake_line.messages_for(users[0]) for _, users in line_households]
    assert all(len(received) == 2 for received in firsts)
    assert all("地震の安否確認" in str(received[0].messages) for received in firsts)
    assert all("一斉清掃" in str(received[1].messages) for received in firsts)
    assert "黄色い ハンカチ" in text_of(mail_sink.to("m0@example.jp")[0])
    assert paper and mails
