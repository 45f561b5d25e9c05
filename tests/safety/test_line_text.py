"""「無事」 typed in LINE counts as 無事 for the open check (the webhook test runs it end to end)."""

from __future__ import annotations

from chonaikai.safety import line, logic


def test_safe_words_in_any_width_and_with_punctuation():
    for text in ("無事", "無事です。", "ぶじ！", " ﾌﾞｼﾞ ", "無事です🙂", "家族全員無事"):
        assert line.is_safe_text(text), text
    for text in ("無事じゃない", "助けて", "", "読みました"):
        assert not line.is_safe_text(text), text


async def test_answer_text_records_safe_for_the_open_real_check(tenant, households):
    taro = households["taro"]["id"]
    assert await line.answer_text(tenant, taro, "無事") is None  # nothing open: not an answer
    drill = await logic.start_check(tenant, logic.StartInput(drill=True))
    real = await logic.start_check(tenant, logic.StartInput())
    reply = await line.answer_text(tenant, taro, "無事です")
    assert reply and "受け取りました" in reply
    assert (await logic.results(tenant, await logic.get_check(tenant, real))).totals["safe"] == 1
    assert (await logic.results(tenant, await logic.get_check(tenant, drill))).totals["safe"] == 0
    assert await line.answer_text(tenant, taro, "こんにちは") is None


async def test_a_line_reply_of_buji_counts_through_the_webhook(client, line_tenant, fake_line):
    from tests.line.helpers import linked_households

    ((household_id, (user,)),) = await linked_households(line_tenant, fake_line, 1)
    check_id = await logic.start_check(line_tenant, logic.StartInput(title="地震の安否確認"))
    channel = next(iter(fake_line.state.channels.values()))
    status, _ = await fake_line.send_event(channel, fake_line.event("message", user, text="無事です"), client=client)
    assert status == 200
    [reply] = fake_line.messages_for(user)[-1].messages
    assert "無事の お知らせを 受け取りました" in reply["text"]
    result = await logic.results(line_tenant, await logic.get_check(line_tenant, check_id))
    row = next(r for r in result.rows if r.household_id == household_id)
    assert (row.answer, row.via) == ("safe", "line")
    # Any other text still gets the usual answer.
    await fake_line.send_event(channel, fake_line.event("message", user, text="こんにちは"), client=client)
    assert "わが家のページ" in str(fake_line.messages_for(user)[-1].messages)
