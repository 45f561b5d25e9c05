"""Answers by read link, LINE button, LINE text 「無事」 and the 班長's checklist land in one tally:
one answer per household (the newest), history kept. The read page is light (≤ 15 KB gzip all-in)."""

from __future__ import annotations

from chonaikai.accounts.roles import Role
from chonaikai.delivery.tables import Delivery
from chonaikai.delivery.worker import Worker
from chonaikai.line.channel import LineChannelSender
from chonaikai.roster.tables import Han
from chonaikai.safety import logic, wording
from tests.auth import csrf_headers, sign_in_as
from tests.factories import make_household
from tests.line.helpers import linked_households
from tests.safety.weight import wire_bytes

READ_PAGE_BUDGET = 15 * 1024


async def token_of(tenant, notice_id: int, household_id: int) -> str:
    row = await tenant.select(Delivery, Delivery.token).where(
        (Delivery.notice == notice_id) & (Delivery.household == household_id)
    ).first()
    return row["token"]


async def test_link_line_and_checklist_answers_make_one_tally(client, line_tenant, fake_line):
    tenant = line_tenant
    mail = await make_household(tenant, "メール 一", "1班", channel="email", email="m1@example.jp", phone="024-1")
    paper = await make_household(tenant, "紙 二", "1班", channel="paper", phone="024-2")
    ((line_household, (user,)),) = await linked_households(tenant, fake_line, 1)
    check_id = await logic.start_check(tenant, logic.StartInput(title="地震の安否確認"))
    check = await logic.get_check(tenant, check_id)
    notice_id = check["notice"]

    # Read link: the light page, one POST per answer.
    token = await token_of(tenant, notice_id, mail["id"])
    page = await client.get(f"/r/{token}")
    assert page.status_code == 200
    assert "<script" not in page.text
    for text in wording.choices().values():
        assert f'value="{text}"' in page.text
    for note in wording.notes().values():
        assert f'<option value="{note}">' in page.text
    total, sizes = await wire_bytes(client, f"/r/{token}")
    print(f"read page of a check: {total} B gzip all-in (budget {READ_PAGE_BUDGET} B): {sizes}")
    assert total <= READ_PAGE_BUDGET, sizes
    answered = await client.post(f"/r/{token}/answer", data={"choice": "助けが必要です", "comment": "薬"},
                                 headers=await csrf_headers(client))
    assert answered.status_code == 303
    again = await client.get(answered.headers["location"])
    assert "「助けが必要です」で受け付けました" in again.text and "<script" not in again.text
    await client.post(f"/r/{token}/answer", data={"choice": "無事です"}, headers=await csrf_headers(client))

    # LINE: the button of the message the household received.
    sender = LineChannelSender()
    try:
        await Worker([sender], publish_due=False).run(once=True)
    finally:
        await sender.close()
    [message] = fake_line.messages_for(user)[-1].messages
    actions = [c["action"] for c in message["contents"]["footer"]["contents"]]
    assert [a["label"] for a in actions][:3] == list(wording.choices().values())
    channel = next(iter(fake_line.state.channels.values()))
    status, _ = await fake_line.send_event(channel, fake_line.event("postback", user, data=actions[2]["data"]), client=client)
    assert status == 200
    assert "不在・避難しています" in fake_line.messages_for(user)[-1].messages[0]["text"]

    # The 班長 of 1班 saw a yellow cloth at the paper household.
    han1 = (await tenant.select(Han, Han.id).where(Han.name == "1班").first())["id"]
    await sign_in_as(client, "hancho@example.jp", Role.HAN_LEADER, tenant, han_id=han1)
    tap = await client.post(f"/a/{tenant.slug}/safety/{check_id}/households/{paper['id']}",
                            data={"seen": "cloth", "han": str(han1)}, headers=await csrf_headers(client))
    assert tap.status_code == 303

    result = await logic.results(tenant, check)
    assert result.totals == {"safe": 2, "need_help": 0, "away": 1, "unknown": 0}
    by_household = {row.household_id: row for row in result.rows}
    assert (by_household[mail["id"]].answer, by_household[mail["id"]].via) == ("safe", "web")
    assert (by_household[line_household].answer, by_household[line_household].via) == ("away", "line")
    assert (by_household[paper["id"]].answer, by_household[paper["id"]].via) == ("safe", "cloth")
    assert by_household[paper["id"]].entered_by_label == "班長"
    history = await logic.answer_history(tenant, check_id, mail["id"])
    assert [(h["value"], h["note"]) for h in history] == [("need_help", "薬"), ("safe", "")]


async def test_a_closed_check_refuses_answers_by_link(client, tenant, households):
    check_id = await logic.start_check(tenant, logic.StartInput(title="地震の安否確認"))
    check = await logic.get_check(tenant, check_id)
    token = await token_of(tenant, check["notice"], households["taro"]["id"])
    await logic.close_check(tenant, check_id)
    page = await client.get(f"/r/{token}")
    assert "この安否確認は終わりました" in page.text
    refused = await client.post(f"/r/{token}/answer", data={"choice": "無事です"}, headers=await csrf_headers(client))
    assert refused.status_code == 409
    assert (await logic.results(tenant, check)).totals["safe"] == 0
