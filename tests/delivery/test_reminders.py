"""Reminders reach every channel (issue 15, part 5): right after sending, to each unconfirmed
household through its own channel (real SMTP sink, fake LINE server); twice within 12 h sends
nothing the second time and says so; the paper households go on the reprint list."""

from __future__ import annotations

from datetime import UTC, datetime

from chonaikai.accounts.roles import Role
from chonaikai.channels.email import EmailChannel
from chonaikai.delivery.outbox import create_deliveries
from chonaikai.delivery.tables import Delivery
from chonaikai.delivery.worker import Worker
from chonaikai.line.channel import LineChannelSender
from tests.auth import csrf_headers, sign_in_as
from tests.delivery.helpers import make_notice
from tests.factories import make_household
from tests.line.conftest import fake_line, line_tenant  # noqa: F401  (fixtures)
from tests.line.helpers import linked_households


async def deliver_once() -> None:
    sender = LineChannelSender()
    try:
        await Worker([EmailChannel(), sender], publish_due=False).run(once=True)
    finally:
        await sender.close()


async def test_reminder_right_after_sending_reaches_unconfirmed_email_and_line_not_confirmed(
    client, line_tenant, fake_line, mail_sink  # noqa: F811
):
    tenant = line_tenant
    waiting = await make_household(tenant, "未読 メール", "1班", channel="email", email="waiting@example.jp")
    done = await make_household(tenant, "既読 メール", "1班", channel="email", email="done@example.jp")
    ((line_household, (line_user,)),) = await linked_households(tenant, fake_line, 1)
    ((_, (line_done_user,)),) = await linked_households(tenant, fake_line, 1)
    paper = await make_household(tenant, "紙 世帯", "2班", channel="paper")
    notice = await make_notice(tenant, title="総会のお知らせ")
    await create_deliveries(notice)
    await deliver_once()
    assert len(mail_sink.messages) == 2 and len(fake_line.messages_for(line_user)) == 1
    now = datetime.now(UTC)
    confirmed = [done["id"], (await tenant.select(Delivery, Delivery.household).where(
        (Delivery.channel == "line") & (Delivery.household != line_household)).first())["household"]]
    await Delivery.update({Delivery.confirmed_at: now, Delivery.confirmed_via: "web"}).where(
        Delivery.household.is_in(confirmed))
    await Delivery.update({Delivery.status: "printed"}).where(Delivery.household == paper["id"])  # 印刷しました
    mail_sink.clear()

    await sign_in_as(client, "kaicho@example.jp", Role.CHAIR, tenant)
    url = f"/a/{tenant.slug}/notices/{notice}/receipts/resend"
    answer = await client.post(url, headers={**await csrf_headers(client), "HX-Request": "true"})
    assert "flash-info" not in answer.text
    assert "メール 1世帯" in answer.text and "LINE 1世帯" in answer.text and "紙 1世帯" in answer.text
    assert "print?han=all&amp;paper=1&amp;unconfirmed=1" in answer.text
    await deliver_once()

    [again] = mail_sink.messages
    assert again["To"].addresses[0].addr_spec == "waiting@example.jp" and "【再送】" in str(again["subject"])
    assert len(fake_line.messages_for(line_user)) == 2  # the same 「読みました」 message once more
    assert len(fake_line.messages_for(line_done_user)) == 1  # confirmed: not reminded
    second = fake_line.messages_for(line_user)[1].messages[0]
    assert second["contents"]["footer"]["contents"][0]["action"]["type"] == "postback"
    rows = {r["household"]: r for r in await tenant.select(Delivery)}
    assert rows[waiting["id"]]["reminders"] == 1 and rows[waiting["id"]]["status"] == "sent"
    assert rows[line_household]["reminders"] == 1 and rows[paper["id"]]["reminders"] == 1
    assert rows[done["id"]]["reminders"] == 0

    # The receipts show it per household as a further attempt.
    page = await client.get(f"/a/{tenant.slug}/notices/{notice}/receipts")
    assert page.text.count("再送 1回") == 3

    # Twice within 12 hours: nothing the second time, and an info box says why and when.
    mail_sink.clear()
    answer = await client.post(url, headers={**await csrf_headers(client), "HX-Request": "true"})
    assert "flash-info" in answer.text and "いまは、もう一度お届けするお宅はありません" in answer.text
    assert "3世帯には、12時間以内にお届けしたばかりです" in answer.text
    await deliver_once()
    assert not mail_sink.messages and len(fake_line.messages_for(line_user)) == 2


async def test_han_leader_reminds_only_their_han(client, tenant, mail_sink):
    from chonaikai.roster.tables import Han

    a = await make_household(tenant, "一班", "1班", channel="email", email="one@example.jp")
    await make_household(tenant, "二班", "2班", channel="email", email="two@example.jp")
    notice = await make_notice(tenant, title="回覧")
    await create_deliveries(notice)
    await Worker([EmailChannel()], publish_due=False).run(once=True)
    mail_sink.clear()
    han1 = await tenant.select(Han, Han.id).where(Han.name == "1班").first()
    await sign_in_as(client, "han1@example.jp", Role.HAN_LEADER, tenant, han_id=han1["id"])
    answer = await client.post(f"/a/{tenant.slug}/notices/{notice}/receipts/resend",
                               headers={**await csrf_headers(client), "HX-Request": "true"})
    assert "メール 1世帯" in answer.text
    await Worker([EmailChannel()], publish_due=False).run(once=True)
    assert [m["To"].addresses[0].addr_spec for m in mail_sink.messages] == ["one@example.jp"]
    assert a["id"]


async def test_morning_of_deadline_reminder_runs_once_at_nine_local(client, tenant, mail_sink):
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    from chonaikai.jobs import run_due
    from chonaikai.notices.tables import Notice

    tokyo = ZoneInfo("Asia/Tokyo")
    # A day already past on the real clock, so the reminders queued "at 09:00" are due for the worker.
    deadline = datetime(2026, 11, 20, tzinfo=tokyo).date()
    waiting = await make_household(tenant, "未読", "1班", channel="email", email="waiting@example.jp")
    done = await make_household(tenant, "既読", "1班", channel="email", email="done@example.jp")
    notice = await make_notice(tenant, title="総会の出欠", needs_confirmation=True, answer_by=deadline,
                               remind_on_deadline=True)
    other = await make_notice(tenant, title="期限だけ", needs_confirmation=True, answer_by=deadline)  # not asked for
    for n in (notice, other):
        await create_deliveries(n)
    await Worker([EmailChannel()], publish_due=False).run(once=True)
    await Delivery.update({Delivery.confirmed_at: datetime.now(UTC)}).where(Delivery.household == done["id"])
    mail_sink.clear()

    before = datetime(2026, 11, 20, 8, 59, tzinfo=tokyo)
    await run_due(before.astimezone(UTC))
    assert (await tenant.select(Notice, Notice.deadline_reminded_at).where(Notice.id == notice).first())[
        "deadline_reminded_at"] is None
    the_day_before = datetime(2026, 11, 19, 9, 30, tzinfo=tokyo)
    await run_due(the_day_before.astimezone(UTC))

    nine = datetime(2026, 11, 20, 9, 0, tzinfo=tokyo).astimezone(UTC)
    await run_due(nine)
    await Worker([EmailChannel()], publish_due=False).run(once=True)
    assert [m["To"].addresses[0].addr_spec for m in mail_sink.messages] == ["waiting@example.jp"]
    assert "【再送】総会の出欠" in str(mail_sink.messages[0]["subject"])

    # Once only: later rounds that morning (and the next day) send nothing more.
    mail_sink.clear()
    await run_due(nine + timedelta(hours=1))
    await run_due(nine + timedelta(days=1))
    await Worker([EmailChannel()], publish_due=False).run(once=True)
    assert not mail_sink.messages
    row = await tenant.select(Delivery).where((Delivery.household == waiting["id"]) & (Delivery.notice == notice)).first()
    assert row["reminders"] == 1


async def test_officer_asks_for_the_morning_reminder_on_the_form(client, tenant):
    from chonaikai.notices.tables import Notice

    await sign_in_as(client, "kouhou@example.jp", Role.EDITOR, tenant)
    form = {"title": "総会", "body": "出欠を", "category": "行事", "audience": "all", "visibility": "members",
            "needs_confirmation": "1", "answer_by": "2026-12-20", "remind_on_deadline": "1", "action": "draft"}
    page = await client.get(f"/a/{tenant.slug}/notices/new")
    assert 'name="remind_on_deadline"' in page.text
    response = await client.post(f"/a/{tenant.slug}/notices/new", data=form, headers=await csrf_headers(client))
    assert response.status_code == 303
    row = await tenant.select(Notice).first()
    assert row["remind_on_deadline"] is True
    # Without a deadline there is nothing to remind on: not kept.
    response = await client.post(f"/a/{tenant.slug}/notices/new", data={**form, "answer_by": ""},
                                 headers=await csrf_headers(client))
    latest = await tenant.select(Notice).order_by(Notice.id, ascending=False).first()
    assert latest["remind_on_deadline"] is False
