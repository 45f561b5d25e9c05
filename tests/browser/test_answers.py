"""The question on the read page in Chromium on a phone, with and without JavaScript: big buttons,
no accessibility violations, the answer recorded and shown with 「変更する」; the officers' results."""

from __future__ import annotations

import pytest

from chonaikai.accounts.roles import Role
from chonaikai.delivery.outbox import create_deliveries
from chonaikai.notices import answering
from chonaikai.notices.questions import parse_question
from chonaikai.notices.tables import NoticeAnswer
from tests.answers.helpers import token_of
from tests.auth import make_account
from tests.browser.conftest import axe_violations
from tests.browser.helpers import sign_in_quickly
from tests.delivery.helpers import make_notice
from tests.factories import make_household

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
async def test_answer_on_a_phone(new_context, tenant, javascript):
    home = await make_household(tenant, "見本 太郎", han="1班", channel="email", email="taro@example.jp")
    await make_household(tenant, "仮野 花子", han="2班", channel="paper", phone="024-000-0000")
    notice = await make_notice(tenant, title="一斉清掃の出欠")
    await answering.set_question(tenant, notice, parse_question({"kind": "attendance", "comment": True}))
    await create_deliveries(notice)
    token = await token_of(home["id"])
    page = await (await new_context("phone", javascript=javascript)).new_page()

    await page.goto(f"/r/{token}?choice=出席")
    buttons = page.locator(".answer-buttons button")
    assert await buttons.count() == 2
    for i in range(2):
        box = await buttons.nth(i).bounding_box()
        assert box["height"] >= 44 and box["width"] >= 200
    if javascript:
        assert await axe_violations(page) == []
    await page.screenshot(path=f"/tmp/answers-read-{'js' if javascript else 'nojs'}.png", full_page=True)
    assert await NoticeAnswer.count() == 0  # the e-mail's link only pre-selected

    await page.fill("#answer-people", "3")
    if javascript:
        await page.get_by_role("button", name="出席").click()
        await page.get_by_text("「出席（3人）」で受け付けました").wait_for()
    else:
        async with page.expect_navigation():
            await page.get_by_role("button", name="出席").click()
        assert "「出席（3人）」で受け付けました" in await page.content()
    assert await page.get_by_text("変更する").count() == 1
    await page.screenshot(path=f"/tmp/answers-answered-{'js' if javascript else 'nojs'}.png", full_page=True)
    assert [r["people"] for r in await NoticeAnswer.select(NoticeAnswer.people)] == [3]

    if javascript:
        officer = await make_account("chair@example.jp", Role.CHAIR, tenant)
        page = await (await new_context("phone")).new_page()
        await sign_in_quickly(page, officer, f"/a/sakura/notices/{notice}/answers")
        assert "1</strong> / 2 世帯が回答" in await page.content()
        assert await axe_violations(page) == []
        await page.screenshot(path="/tmp/answers-results.png", full_page=True)


async def test_written_vote_on_a_phone_without_javascript(new_context, tenant):
    home = await make_household(tenant, "見本 太郎", han="1班", channel="paper")
    notice = await make_notice(tenant, title="定期総会のご案内")
    await answering.set_question(tenant, notice, parse_question(
        {"kind": "vote", "motions": ["第1号議案 決算", "第2号議案 予算"]}))
    await create_deliveries(notice)
    page = await (await new_context("phone", javascript=False)).new_page()
    await page.goto("/r/" + await token_of(home["id"]))
    await page.get_by_label("書面表決（出席できないので、下の議案に賛成・反対を書いて出す）").check()
    await page.locator('input[name="motion_1"][value="賛成"]').check()
    await page.locator('input[name="motion_2"][value="反対"]').check()
    await page.screenshot(path="/tmp/answers-vote.png", full_page=True)
    async with page.expect_navigation():
        await page.get_by_role("button", name="この内容で送る").click()
    assert "書面表決（第1号議案 決算：賛成、第2号議案 予算：反対）" in await page.content()
    vote = (await answering.results(tenant, None, notice)).vote
    assert vote["present"]["書面表決"] == 1
