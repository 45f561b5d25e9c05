"""Officers ask a question on the notice form; a signed-in member answers on the notice page."""

from __future__ import annotations

from chonaikai.accounts.roles import Role
from chonaikai.notices import answering
from chonaikai.notices.tables import Notice, NoticeAnswer
from tests.auth import csrf_headers, sign_in_as
from tests.factories import make_household


async def test_officer_posts_a_question_with_the_form(client, tenant):
    await make_household(tenant, "見本 太郎", han="1班", channel="paper")
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    headers = await csrf_headers(client)
    form = await client.get("/a/sakura/notices/new")
    assert 'name="q_kind" value="attendance"' in form.text
    base = {"title": "餅つき大会", "body": "12月28日です。", "category": "行事", "audience": "all",
            "visibility": "members", "action": "publish"}
    refused = await client.post("/a/sakura/notices/new", data={**base, "q_kind": "choice", "q_choices": "ひとつだけ"},
                                headers=headers)
    assert refused.status_code == 400 and "選択肢は2つから6つまで" in refused.text
    assert "ひとつだけ" in refused.text  # what was typed is kept
    assert await Notice.count() == 0
    posted = await client.post("/a/sakura/notices/new", data={
        **base, "q_kind": "choice", "q_choices": "参加する\n参加しない\nわからない", "q_deadline": "2099-12-20T18:00",
        "q_comment": "1"}, headers=headers)
    assert posted.status_code == 303, posted.text
    notice = (await Notice.select(Notice.id).first())["id"]
    question = await answering.question_of(tenant, notice)
    assert question.choices == ("参加する", "参加しない", "わからない") and question.comment
    assert question.deadline_text() == "2099年12月20日 18時00分"
    edit = await client.get(f"/a/sakura/notices/{notice}/edit")
    assert "参加する\n参加しない\nわからない</textarea>" in edit.text


async def test_member_answers_on_the_notice_page(client, tenant):
    from tests.answers.helpers import publish_question

    home = await make_household(tenant, "見本 太郎", han="1班", channel="paper")
    notice = await publish_question(client, tenant, {"kind": "attendance"})
    await sign_in_as(client, "taro@example.jp", Role.MEMBER, tenant, household_id=home["id"])
    page = await client.get(f"/a/sakura/notices/{notice}")
    assert page.status_code == 200 and 'name="choice" value="出席"' in page.text
    form_action = page.text.split('action="/r/', 1)[1].split('"', 1)[0]
    answered = await client.post("/r/" + form_action, data={"choice": "出席", "people": "2", "back": "notice"},
                                 headers=await csrf_headers(client))
    assert answered.status_code == 303 and answered.headers["location"].startswith(f"/a/sakura/notices/{notice}")
    page = await client.get(answered.headers["location"])
    assert "いまのお返事：<strong>出席（2人）</strong>" in page.text
    assert [r["value"] for r in await NoticeAnswer.select(NoticeAnswer.value)] == ["出席"]


async def test_ready_texts_bring_their_question(client, tenant):
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    soukai = await client.get("/a/sakura/notices/new?from=soukai")
    assert 'name="q_kind" value="vote" checked' in soukai.text
    assert "第1号議案 事業報告・決算報告\n第2号議案 事業計画・予算</textarea>" in soukai.text
    assert "「読みました」のボタンで" not in soukai.text
    seisou = await client.get("/a/sakura/notices/new?from=issei-seisou")
    assert 'name="q_kind" value="attendance" checked' in seisou.text


async def test_choices_cannot_change_once_answers_came_but_the_deadline_can(client, tenant):
    from tests.answers.helpers import publish_question, token_of

    home = await make_household(tenant, "見本 太郎", han="1班", channel="paper")
    notice = await publish_question(client, tenant, {"kind": "choice", "choices": ["A", "B"]}, title="アンケート")
    headers = await csrf_headers(client)
    await client.post("/r/" + await token_of(home["id"]) + "/answer", data={"choice": "A"}, headers=headers)
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    headers = await csrf_headers(client)
    base = {"title": "アンケート", "body": "日曜日の朝8時から公園を掃除します。", "category": "その他", "audience": "all",
            "visibility": "members", "action": "save", "q_kind": "choice"}
    refused = await client.post(f"/a/sakura/notices/{notice}/edit", data={**base, "q_choices": "A\nC"}, headers=headers)
    assert refused.status_code == 400 and "選択肢・議案は変えられません" in refused.text
    assert (await answering.question_of(tenant, notice)).choices == ("A", "B")
    saved = await client.post(f"/a/sakura/notices/{notice}/edit",
                              data={**base, "q_choices": "A\nB", "q_deadline": "2099-01-31T12:00"}, headers=headers)
    assert saved.status_code == 303
    assert (await answering.question_of(tenant, notice)).deadline_text() == "2099年1月31日 12時00分"
