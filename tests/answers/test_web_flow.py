"""Each kind end to end: published through the API with a question, mailed through a real SMTP
server whose links open the read page with the choices, answered by POST, counted in the API and
on the officers' page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chonaikai.accounts.roles import Role
from chonaikai.notices.tables import NoticeAnswer
from tests.answers.helpers import (
    bearer,
    choice_links,
    publish_question,
    send_mail,
    token_for,
    token_of,
)
from tests.auth import csrf_headers, sign_in_as
from tests.factories import make_household
from tests.mailsink import text_of


async def _households(tenant):
    return [
        await make_household(tenant, "見本 太郎", han="1班", channel="email", email="taro@example.jp"),
        await make_household(tenant, "仮野 花子", han="1班", channel="email", email="hana@example.jp"),
        await make_household(tenant, "試験 一郎", han="2班", channel="paper", phone="024-000-0000"),
    ]


async def test_attendance_by_mail_link_then_post(client, tenant, mail_sink):
    taro, hana, paper = await _households(tenant)
    notice = await publish_question(client, tenant, {"kind": "attendance",
                                                     "deadline": (datetime.now(UTC) + timedelta(days=5)).isoformat()})
    await send_mail()
    message = mail_sink.to("taro@example.jp")[0]
    links = choice_links(text_of(message))
    assert set(links) == {"出席", "欠席"}
    assert set(choice_links(text_of(message, "html"))) == {"出席", "欠席"}
    assert "締め切り" in text_of(message)

    # Opening the e-mail's link (as a mail scanner would) only pre-selects: nothing is recorded.
    page = await client.get(links["出席"])
    assert page.status_code == 200
    assert 'value="出席" class="button button-big button-choice button-selected"' in page.text
    assert "そのボタンを押すとお返事が決まります" in page.text
    assert await NoticeAnswer.count() == 0

    token = links["出席"].split("?")[0]
    posted = await client.post(token + "/answer", data={"choice": "出席", "people": "3"},
                               headers=await csrf_headers(client))
    assert posted.status_code == 303
    page = await client.get(posted.headers["location"])
    assert "「出席（3人）」で受け付けました" in page.text
    assert "いまのお返事：<strong>出席（3人）</strong>" in page.text and "変更する" in page.text

    hana_token = "/r/" + await token_of(hana["id"])
    htmx = await client.post(hana_token + "/answer", data={"choice": "欠席"},
                             headers={**await csrf_headers(client), "HX-Request": "true"})
    assert htmx.status_code == 200 and "「欠席」で受け付けました" in htmx.text

    api = await client.get(f"/api/v1/notices/{notice}/answers", headers=bearer(await token_for(tenant)))
    assert api.status_code == 200, api.text
    data = api.json()
    assert data["question"]["kind"] == "attendance"
    assert data["totals"] == {"出席": 1, "欠席": 1, "未回答": 1}
    assert data["people"] == {"出席": 3}
    assert data["by_han"]["1班"]["出席"] == 1 and data["by_han"]["2班"]["未回答"] == 1
    rows = {row["household_id"]: row for row in data["households"]}
    assert rows[taro["id"]]["answer"] == "出席" and rows[taro["id"]]["people"] == 3
    assert rows[taro["id"]]["answered_via"] == "web" and rows[taro["id"]]["channel"] == "email"
    assert rows[paper["id"]]["answer"] is None

    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    officer = await client.get(f"/a/{tenant.slug}/notices/{notice}/answers")
    assert officer.status_code == 200
    assert "2</strong> / 3 世帯が回答" in officer.text
    assert "試験 一郎" in officer.text and "024-000-0000" in officer.text  # not answered: with phone


async def test_choice_multiple_and_change_before_deadline(client, tenant, mail_sink):
    taro, *_ = await _households(tenant)
    notice = await publish_question(client, tenant, {"kind": "choice", "choices": ["12月6日", "12月13日", "どちらでも"],
                                                     "multiple": True, "comment": True}, title="日程のアンケート")
    await send_mail()
    links = choice_links(text_of(mail_sink.to("taro@example.jp")[0]))
    assert list(links) == ["12月6日", "12月13日", "どちらでも"]
    token = "/r/" + await token_of(taro["id"])
    headers = await csrf_headers(client)
    page = await client.get(token)
    assert 'type="checkbox" name="choice" value="12月13日"' in page.text and "ひとこと" in page.text
    await client.post(token + "/answer", data={"choice": ["12月13日", "12月6日"], "comment": "午前なら"}, headers=headers)
    await client.post(token + "/answer", data={"choice": ["12月13日"]}, headers=headers)
    again = await client.post(token + "/answer", data={"choice": ["12月13日"]}, headers=headers)  # same: nothing new
    assert again.status_code == 303
    rows = await NoticeAnswer.select().where(NoticeAnswer.household == taro["id"]).order_by(NoticeAnswer.id)
    assert [(r["value"], r["current"]) for r in rows] == [("12月6日、12月13日", False), ("12月13日", True)]
    data = (await client.get(f"/api/v1/notices/{notice}/answers", headers=bearer(await token_for(tenant)))).json()
    assert data["totals"]["12月13日"] == 1 and data["totals"]["12月6日"] == 0 and data["totals"]["未回答"] == 2


async def test_bad_answers_are_refused_and_nothing_changes(client, tenant, mail_sink):
    taro, *_ = await _households(tenant)
    await publish_question(client, tenant, {"kind": "attendance"})
    token = "/r/" + await token_of(taro["id"])
    headers = await csrf_headers(client)
    for data in ({"choice": "たぶん"}, {"choice": "出席", "people": "30"}, {"choice": "出席", "people": "たくさん"}, {}):
        response = await client.post(token + "/answer", data=data, headers=headers)
        assert response.status_code == 400, data
        assert 'role="alert"' in response.text
    assert await NoticeAnswer.count() == 0
    # No CSRF token: refused like 「読みました」.
    assert (await client.post(token + "/answer", data={"choice": "出席"})).status_code == 403
    assert (await client.post("/r/nosuchtoken/answer", data={"choice": "出席"}, headers=headers)).status_code == 404


async def test_answers_after_the_deadline_are_refused_kindly(client, tenant, mail_sink):
    from chonaikai.notices.tables import Notice

    taro, *_ = await _households(tenant)
    notice = await publish_question(client, tenant, {"kind": "attendance",
                                                     "deadline": (datetime.now(UTC) + timedelta(days=1)).isoformat()})
    token = "/r/" + await token_of(taro["id"])
    headers = await csrf_headers(client)
    assert (await client.post(token + "/answer", data={"choice": "出席"}, headers=headers)).status_code == 303
    past = datetime.now(UTC) - timedelta(minutes=1)
    await Notice.update({Notice.answer_deadline: past}).where(Notice.id == notice)
    late = await client.post(token + "/answer", data={"choice": "欠席"}, headers=headers)
    assert late.status_code == 409 and "締め切りを過ぎた" in late.text
    page = await client.get(token)
    assert "いまのお返事：<strong>出席（1人）</strong>" in page.text and "変更する" not in page.text
    assert [r["value"] for r in await NoticeAnswer.select(NoticeAnswer.value)] == ["出席"]


async def test_a_household_that_moved_out_cannot_answer(client, tenant, mail_sink):
    from chonaikai.roster.tables import Household

    taro, *_ = await _households(tenant)
    await publish_question(client, tenant, {"kind": "attendance"})
    await Household.update({Household.moved_out: True}).where(Household.id == taro["id"])
    token = "/r/" + await token_of(taro["id"])
    response = await client.post(token + "/answer", data={"choice": "出席"}, headers=await csrf_headers(client))
    assert response.status_code == 410
    assert await NoticeAnswer.count() == 0
