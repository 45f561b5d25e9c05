"""The officers' pages that the journeys do not pass through, checked with axe-core on a phone."""

from __future__ import annotations

import pytest

from chonaikai.accounts.roles import Role
from tests.auth import make_account
from tests.browser.conftest import assert_accessible
from tests.browser.helpers import sign_in_quickly
from tests.factories import make_household

pytestmark = pytest.mark.browser


async def test_officer_pages_have_no_accessibility_violations(phone, tenant):
    from chonaikai.notices import logic

    household = await make_household(tenant, "見本 太郎", han="1班", email="taro@example.jp", channel="email")
    await make_household(tenant, "仮野 花子", han="2班", channel="paper")
    notice_id = await logic.create_notice(
        tenant, logic.NoticeInput(title="防災訓練のお知らせ", body="- 日時：10月5日", needs_confirmation=True),
        author_title="会長",
    )
    await logic.publish_notice(tenant, notice_id)
    chair = await make_account("kaicho@example.jp", Role.CHAIR, tenant)
    await sign_in_quickly(phone, chair, "/a/sakura/roster")
    checked = []
    for path in [
        "/a/sakura/roster",
        "/a/sakura/roster/new",
        f"/a/sakura/roster/{household['id']}",
        "/a/sakura/roster/import",
        "/a/sakura/audit",
        "/a/sakura/notices/categories",
        f"/a/sakura/notices/{notice_id}",
        f"/a/sakura/notices/{notice_id}/edit",
        f"/a/sakura/notices/{notice_id}/receipts",
        f"/a/sakura/notices/{notice_id}/print",
    ]:
        response = await phone.goto(path)
        assert response is not None and response.status == 200, f"{path}: {response and response.status}"
        await assert_accessible(phone, path)
        checked.append(path)
    assert len(checked) == 10


async def test_member_pages_have_no_accessibility_violations(phone, tenant):
    from chonaikai.notices import logic

    household = await make_household(tenant, "見本 太郎", han="1班", email="taro@example.jp", channel="email")
    notice_id = await logic.create_notice(
        tenant, logic.NoticeInput(title="総会のお知らせ", body="- 日時：5月18日", needs_confirmation=True),
        author_title="会長",
    )
    await logic.publish_notice(tenant, notice_id)
    member = await make_account("taro@example.jp", Role.MEMBER, tenant, household_id=household["id"])
    await sign_in_quickly(phone, member, "/a/sakura/notices")
    for path in ["/a/sakura/notices", f"/a/sakura/notices/{notice_id}", "/a/sakura/my", "/card"]:
        response = await phone.goto(path)
        assert response is not None and response.status == 200, f"{path}: {response and response.status}"
        await assert_accessible(phone, path)
    # The member's own 「読みました」 on the notice page.
    await phone.goto(f"/a/sakura/notices/{notice_id}")
    await phone.get_by_role("button", name="読みました").click()
    await phone.get_by_text("確認しました").wait_for()
    await assert_accessible(phone, "notice page, confirmed")
