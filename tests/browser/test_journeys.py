"""Journeys as people make them, in Chromium on a phone and on a desktop, with and without JavaScript.

Every page on the way is checked with axe-core (WCAG 2.1 AA). Screenshots of failures go to
tests/artifacts/.
"""

from __future__ import annotations

import pytest

from chonaikai.accounts.roles import Role
from chonaikai.accounts.sessions import SESSION_COOKIE
from tests.auth import make_account
from tests.browser.helpers import link_in, sign_in_by_email

pytestmark = pytest.mark.browser

OFFICER = "kaicho@example.jp"


async def test_officer_signs_in_with_the_emailed_link(new_context, mail_sink, tenant):
    # Desktop and JavaScript-off sign-ins are part of the notice journey below.
    await make_account(OFFICER, Role.CHAIR, tenant)
    page = await (await new_context("phone")).new_page()
    await sign_in_by_email(page, mail_sink, OFFICER, "/a/sakura/")
    # Signed in: the session cookie is set and the page offers to sign out.
    cookies = {c["name"] for c in await page.context.cookies()}
    assert SESSION_COOKIE in cookies, cookies
    # The link is used up: opening it again says so kindly.
    message = mail_sink.to(OFFICER)[-1]
    response = await page.goto(link_in(message, "/signin/"))
    assert response.status == 410
    assert "このリンクは使えません" in await page.locator("h1").inner_text()


MEMBER = "taro@example.jp"
OTHER_HAN_MEMBER = "hanako@example.jp"


@pytest.fixture
async def households(tenant):
    from tests.factories import make_household

    await make_household(tenant, "見本 太郎", han="1班", email=MEMBER, channel="email")
    await make_household(tenant, "仮野 花子", han="2班", email=OTHER_HAN_MEMBER, channel="email")


async def _click(page, javascript: bool, locator) -> None:
    """Click; without JavaScript every click that posts is a full page load, so wait for it."""
    if javascript:
        await locator.click()
    else:
        async with page.expect_navigation():
            await locator.click()


@pytest.mark.parametrize(
    "kind,javascript",
    [("phone", True), ("desktop", True), ("phone", False)],
    ids=["phone", "desktop", "phone-no-js"],
)
async def test_notice_from_ready_text_to_one_han_read_and_confirmed(
    new_context, live_server, mail_sink, tenant, households, kind, javascript, tmp_path
):
    import re

    from playwright.async_api import expect

    from tests.browser.conftest import assert_accessible
    from tests.browser.helpers import link_in, run_worker_once, small_pdf, wait_for_mail

    await make_account(OFFICER, Role.CHAIR, tenant)
    officer = await (await new_context(kind, javascript=javascript)).new_page()

    # 1. The officer signs in with the e-mailed link and writes a notice from a 文例.
    await sign_in_by_email(officer, mail_sink, OFFICER, "/a/sakura/notices/new", check_a11y=False)
    await assert_accessible(officer, "notice form")
    await _click(officer, javascript, officer.get_by_role("link", name="定期総会のお知らせ"))
    title = officer.get_by_label("題名")
    await expect(title).to_have_value(re.compile("総会"))
    await title.fill("定期総会のお知らせ（5月）")
    body = officer.get_by_label("本文")
    text = await body.input_value()
    for placeholder, value in [("【日時】", "5月18日（日）午前10時"), ("【場所】", "集会所"),
                               ("【議題】", "決算と予算"), ("【委任状の締切】", "5月15日")]:
        text = text.replace(placeholder, value)
    await body.fill(text)
    await officer.get_by_label("班を選ぶ").check()
    await officer.get_by_label("1班").check()
    await officer.get_by_label("「読みました」を押してもらう").check()
    # The 総会 文例 asks a vote (出席・委任状・書面表決); this journey asks only 「読みました」.
    await officer.get_by_label("「読みました」だけ").check()
    await _click(officer, javascript, officer.get_by_role("button", name="読む人の見え方を確かめる"))
    await officer.locator("#preview").get_by_text("集会所").first.wait_for()
    await assert_accessible(officer, "notice form with preview")
    async with officer.expect_navigation():
        await officer.get_by_role("button", name="下書きに保存").click()
    await officer.wait_for_url(re.compile(r"/a/sakura/notices/\d+/edit"))
    notice_id = int(re.search(r"/notices/(\d+)/edit", officer.url).group(1))

    # It attaches a PDF, then publishes to 1班.
    pdf = tmp_path / "soukai-annai.pdf"
    pdf.write_bytes(small_pdf("Soukai"))
    await officer.get_by_label("ファイルを付ける").set_input_files(str(pdf))
    async with officer.expect_navigation():
        await officer.get_by_role("button", name="付ける", exact=True).click()
    await officer.locator("#attachments").get_by_role("link", name="soukai-annai.pdf").wait_for()
    await assert_accessible(officer, "edit form with attachment")
    async with officer.expect_navigation():
        await officer.get_by_role("button", name="公開する", exact=True).click()
    await officer.get_by_text("お知らせを公開しました。").wait_for()
    await assert_accessible(officer, "published notice page")

    # The worker sends the e-mail to 1班's household only.
    run_worker_once(live_server)
    message = await wait_for_mail(mail_sink, MEMBER, "総会")
    assert not mail_sink.to(OTHER_HAN_MEMBER), "2班 was not chosen but got the notice"
    read_link = link_in(message, "/r/")

    # 2. The member opens the read link on a phone and taps 「読みました」.
    member = await (await new_context("phone", javascript=javascript)).new_page()
    await member.goto(read_link)
    await member.get_by_role("heading", name="定期総会のお知らせ（5月）").wait_for()
    assert "集会所" in await member.locator("main").inner_text()
    await assert_accessible(member, "read page")
    await _click(member, javascript, member.get_by_role("button", name="読みました"))
    await member.get_by_text("「読みました」を受け付けました").wait_for()
    await assert_accessible(member, "read page, confirmed")

    # 3. The officer sees the confirmation and the progress bar at 100%.
    await officer.goto(f"/a/sakura/notices/{notice_id}")
    await _click(officer, False, officer.get_by_role("link", name="読んだ世帯を見る"))
    await officer.wait_for_url(re.compile(rf"/a/sakura/notices/{notice_id}/receipts$"))
    progress = officer.locator("#receipts-progress")
    await progress.get_by_text("1 世帯が確認（100%）").wait_for()
    bar = progress.locator("progress").first
    assert await bar.get_attribute("value") == await bar.get_attribute("max") == "1"
    assert "見本 太郎" in await officer.locator(".receipt-cards").inner_text()
    assert "仮野 花子" not in await officer.locator("main").inner_text()
    await assert_accessible(officer, "receipts page")
