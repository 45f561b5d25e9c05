"""The deadline-morning reminder reaches only the households that have not answered, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chonaikai import jobs
from chonaikai.channels.email import EmailChannel
from chonaikai.delivery.worker import Worker
from chonaikai.notices.answer_reminders import remind_unanswered, reminder_time
from chonaikai.notices.questions import LOCAL_TZ
from chonaikai.notices.tables import Notice
from tests.answers.helpers import publish_question, send_mail, token_of
from tests.auth import csrf_headers
from tests.factories import make_household


async def test_reminder_on_the_deadline_morning_only_to_the_unanswered_once(client, tenant, mail_sink):
    homes = [await make_household(tenant, f"世帯{i}", han="1班", channel="email", email=f"r{i}@example.jp")
             for i in range(3)]
    await make_household(tenant, "紙の家", han="1班", channel="paper")
    deadline = datetime.now(LOCAL_TZ).replace(hour=18, minute=0, second=0, microsecond=0) + timedelta(days=2)
    notice = await publish_question(client, tenant, {"kind": "attendance", "deadline": deadline.isoformat()})
    await send_mail()
    assert len(mail_sink.messages) == 3
    await client.post("/r/" + await token_of(homes[0]["id"]) + "/answer", data={"choice": "欠席"},
                      headers=await csrf_headers(client))
    mail_sink.clear()

    morning = datetime.combine(deadline.date(), datetime.min.time(), LOCAL_TZ).replace(hour=9)
    assert reminder_time(deadline) == morning.astimezone(UTC)
    assert await remind_unanswered(morning.astimezone(UTC) - timedelta(minutes=1)) == 0  # 08:59: not yet
    assert await remind_unanswered(morning.astimezone(UTC) - timedelta(days=1)) == 0  # the day before
    # The worker's scheduled jobs send it (chonaikai.jobs.run_due), in the same round.
    await Worker([EmailChannel()], clock=lambda: morning.astimezone(UTC), due_jobs=jobs.run_due).run(once=True)
    assert sorted(m["To"].addresses[0].addr_spec for m in mail_sink.messages) == ["r1@example.jp", "r2@example.jp"]
    assert all("【再送】" in m["Subject"] for m in mail_sink.messages)
    # Once: a later round (or a second worker) queues nothing more.
    assert await remind_unanswered(morning.astimezone(UTC) + timedelta(hours=1)) == 0
    await send_mail(morning.astimezone(UTC) + timedelta(hours=1))
    assert len(mail_sink.messages) == 2
    row = await Notice.select(Notice.answer_reminded_at).where(Notice.id == notice).first()
    assert row["answer_reminded_at"] is not None
