"""安否確認 on a phone: the 班長's one-tap checklist and the officers' results, checked with axe-core."""

from __future__ import annotations

from datetime import date

import pytest

from chonaikai.accounts.roles import Role
from chonaikai.roster.tables import Han
from tests.auth import make_account
from tests.browser.conftest import assert_accessible
from tests.browser.helpers import sign_in_quickly
from tests.factories import make_household

pytestmark = pytest.mark.browser


async def test_han_leader_checklist_one_tap_on_a_phone(phone, tenant):
    from chonaikai.safety import logic

    await make_household(tenant, "見本 太郎", han="1班", phone="024-000-0001", address="桜町1-1")
    await make_household(tenant, "仮野 花子", han="1班", phone="024-000-0002", address="桜町1-2",
                         needs_support=True, support_consent_on=date(2026, 4, 1))
    check_id = await logic.start_check(tenant, logic.StartInput(title="地震の安否確認"))
    han1 = (await tenant.select(Han, Han.id).where(Han.name == "1班").first())["id"]
    leader = await make_account("hancho1@example.jp", Role.HAN_LEADER, tenant, han_id=han1)
    path = f"/a/sakura/safety/{check_id}/han/{han1}"
    await sign_in_quickly(phone, leader, path)
    await phone.goto(path)
    await assert_accessible(phone, "checklist")
    await phone.screenshot(path="/tmp/safety-checklist.png", full_page=True)
    first = phone.locator(".checklist-row").first
    assert "仮野 花子" in await first.inner_text()  # 要支援 first
    await first.get_by_role("button", name="ハンカチあり").click()
    await phone.locator(".checklist-row").first.get_by_text("いま: 無事").wait_for()
    await assert_accessible(phone, "checklist after a tap")

    chair = await make_account("kaicho@example.jp", Role.CHAIR, tenant)
    await sign_in_quickly(phone, chair, f"/a/sakura/safety/{check_id}")
    for target in ("/a/sakura/safety", f"/a/sakura/safety/{check_id}"):
        response = await phone.goto(target)
        assert response is not None and response.status == 200
        await assert_accessible(phone, target)
    await phone.screenshot(path="/tmp/safety-results.png", full_page=True)


async def test_the_read_page_of_a_check_answers_without_javascript(new_context, tenant):
    from chonaikai.delivery.tables import Delivery
    from chonaikai.safety import logic

    household = await make_household(tenant, "見本 太郎", han="1班", channel="email", email="taro@example.jp")
    check_id = await logic.start_check(tenant, logic.StartInput(title="地震の安否確認"))
    check = await logic.get_check(tenant, check_id)
    token = (await Delivery.select(Delivery.token).where(
        (Delivery.notice == check["notice"]) & (Delivery.household == household["id"])).first())["token"]
    page = await (await new_context("phone", javascript=False)).new_page()
    await page.goto(f"/r/{token}")
    await page.screenshot(path="/tmp/safety-read.png", full_page=True)
    await page.get_by_label("困っていること").select_option("けが")
    await page.get_by_role("button", name="助けが必要です").click()
    await page.get_by_text("「助けが必要です」で受け付けました").wait_for()
    result = await logic.results(tenant, check)
    assert result.totals["need_help"] == 1 and result.rows[0].note == "けが"
    js = await (await new_context("phone")).new_page()
    await js.goto(f"/r/{token}")
    await assert_accessible(js, "safety read page (answered)")
    await js.goto(f"/r/{token}?change=1")
    await assert_accessible(js, "safety read page (choices)")
