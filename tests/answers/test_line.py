"""LINE: the notice arrives with one postback button per choice (through the fake LINE server);
pressing one records the answer and the reply names it; 出席 asks how many first."""

from __future__ import annotations

from chonaikai.delivery.tables import Delivery
from chonaikai.delivery.worker import Worker
from chonaikai.line import messages
from chonaikai.line.channel import LineChannelSender
from chonaikai.notices import answering
from chonaikai.notices.questions import parse_question
from chonaikai.notices.tables import NoticeAnswer
from tests.delivery.helpers import make_notice
from tests.line.helpers import line_jobs, linked_households


def channel(fake):
    return next(iter(fake.state.channels.values()))


async def press(fake, client, user, data):
    status, _ = await fake.send_event(channel(fake), fake.event("postback", user, data=data), client=client)
    assert status == 200
    return fake.messages_for(user)[-1].messages


def footer_buttons(message):
    return [c["action"] for c in message["contents"]["footer"]["contents"]]


async def test_attendance_by_line_postback(client, line_tenant, fake_line):
    ((household, (user,)), (other, (user2,))) = await linked_households(line_tenant, fake_line, 2)
    notice = await make_notice(line_tenant, title="一斉清掃")
    await answering.set_question(line_tenant, notice, parse_question({"kind": "attendance"}))
    await line_jobs(line_tenant, notice)
    await Worker([LineChannelSender()], publish_due=False).run(once=True)

    [sent] = fake_line.messages_for(user)[-1].messages
    actions = footer_buttons(sent)
    assert [a["label"] for a in actions] == ["出席", "欠席", "お知らせを見る"]
    assert all(a["type"] == "postback" for a in actions)

    # 出席 first asks how many; the quick reply then records it.
    [ask] = await press(fake_line, client, user, actions[0]["data"])
    assert "何人で出席" in ask["text"] and len(ask["quickReply"]["items"]) == 10
    assert await NoticeAnswer.count() == 0
    three = ask["quickReply"]["items"][2]["action"]
    [thanks] = await press(fake_line, client, user, three["data"])
    assert "「出席（3人）」" in thanks["text"] and "LINE町内会" in thanks["text"]
    [thanks] = await press(fake_line, client, user2, actions[1]["data"])
    assert "「欠席」" in thanks["text"]
    # Changed by pressing again: the last counts.
    await press(fake_line, client, user2, actions[0]["data"])
    [again] = await press(fake_line, client, user2, messages.answer_data(notice, 0, 1))
    assert "「出席（1人）」" in again["text"]

    result = await answering.results(line_tenant, None, notice)
    assert result.totals == {"出席": 2, "欠席": 0, "未回答": 0} and result.people == {"出席": 4}
    assert {row["via"] for row in result.households} == {"line"}
    confirmed = await line_tenant.select(Delivery, Delivery.confirmed_via).where(Delivery.notice == notice)
    assert [row["confirmed_via"] for row in confirmed] == ["line", "line"]

    # A forged answer button records nothing.
    [refused] = await press(fake_line, client, user, f"ans:{notice}:1:0:AAAAAAAAAAAAAAAA")
    assert "使えなくなりました" in refused["text"]
    assert (await answering.results(line_tenant, None, notice)).totals["欠席"] == 0


async def test_more_than_four_choices_become_quick_replies():
    message = messages.notice_message("町内会", 7, "日程", "本文", choices=[f"候補{i}" for i in range(6)])
    assert len(footer_buttons(message)) == 5  # 4 choices + お知らせを見る
    assert [item["action"]["label"] for item in message["quickReply"]["items"]] == [f"候補{i}" for i in range(6)]
    assert messages.parse_postback(message["quickReply"]["items"][5]["action"]["data"]) == messages.Postback("ans", 7, 5, 0)
