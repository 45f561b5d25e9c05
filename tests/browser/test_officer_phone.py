"""Every officer page on a 390 px phone: no sideways scrolling, also with 特大 text, and the officer
menu on each. Screenshots go to tests/artifacts/officer-*.png (and /tmp when OFFICER_SHOTS is set)."""

from __future__ import annotations

import os
import re

import pytest

from chonaikai.accounts.roles import Role
from tests.auth import make_account
from tests.browser.conftest import ARTIFACTS, assert_accessible
from tests.browser.helpers import sign_in_quickly
from tests.factories import make_household

pytestmark = pytest.mark.browser


async def overflow(page) -> int:
    width = page.viewport_size["width"]
    return await page.evaluate("w => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - w", width)


async def shoot(page, name: str) -> None:
    folder = os.environ.get("OFFICER_SHOTS")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"officer-{name}.png"), full_page=True)
    if folder:
        await page.screenshot(path=f"{folder}/officer-{name}.png", full_page=True)


async def officer_site(tenant):
    from chonaikai.notices import logic

    households = [
        await make_household(tenant, f"見本 太郎{i}", han=f"{1 + i % 3}班", email=f"taro{i}@example.jp",
                             channel="email" if i % 2 else "paper", address=f"桜町{i}-{i + 2}")
        for i in range(8)
    ]
    notice_id = await logic.create_notice(
        tenant, logic.NoticeInput(title="防災訓練のお知らせ", body="- 日時：10月5日", needs_confirmation=True),
        author_title="会長",
    )
    await logic.publish_notice(tenant, notice_id)
    return households, notice_id


def officer_paths(notice_id: int, household_id: int) -> dict[str, str]:
    return {
        "board": "/a/sakura/notices/",
        "new": "/a/sakura/notices/new",
        "notice": f"/a/sakura/notices/{notice_id}",
        "edit": f"/a/sakura/notices/{notice_id}/edit",
        "receipts": f"/a/sakura/notices/{notice_id}/receipts",
        "print": f"/a/sakura/notices/{notice_id}/print",
        "roster": "/a/sakura/roster",
        "household": f"/a/sakura/roster/{household_id}",
        "import": "/a/sakura/roster/import",
        "officers": "/a/sakura/officers",
        "homepage-settings": "/a/sakura/settings/homepage",
        "line-settings": "/a/sakura/settings/line",
        "audit": "/a/sakura/audit",
        "circulars": "/a/sakura/circulars",
        "categories": "/a/sakura/notices/categories",
    }


@pytest.mark.parametrize("size", ["normal", "xlarge"])
async def test_every_officer_page_fits_a_phone(phone, tenant, size):
    households, notice_id = await officer_site(tenant)
    chair = await make_account("kaicho@example.jp", Role.CHAIR, tenant)
    await sign_in_quickly(phone, chair, "/a/sakura/")
    if size == "xlarge":
        await phone.get_by_role("button", name="文字を大きく").click()
        await phone.wait_for_url(re.compile(r"/a/sakura/?$"))
        await phone.get_by_role("button", name="もっと大きく").click()
        await phone.wait_for_url(re.compile(r"/a/sakura/?$"))
    base = await phone.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert base == pytest.approx(27.0 if size == "xlarge" else 18.0, abs=0.5)
    wide = []
    for name, path in officer_paths(notice_id, households[0]["id"]).items():
        response = await phone.goto(path)
        assert response is not None and response.status == 200, f"{path}: {response and response.status}"
        nav = phone.get_by_role("navigation", name=re.compile("のメニュー"))
        assert await nav.get_by_role("link", name="お知らせを書く").count() == 1, f"{path}: no officer menu"
        await shoot(phone, f"{name}-{size}")
        if size == "normal":
            await assert_accessible(phone, path)
        if (extra := await overflow(phone)) > 0:
            wide.append(f"{path} by {extra}px")
    assert not wide, f"pages scroll sideways at 390px with {size} text: {wide}"


async def test_the_text_size_is_remembered_and_tekidai_is_about_150_percent(phone, tenant):
    await officer_site(tenant)
    await phone.goto("/a/sakura/")
    normal = await phone.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    await phone.get_by_role("button", name="文字を大きく").click()
    await phone.wait_for_url(re.compile(r"/a/sakura/?$"))
    large = await phone.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    await phone.get_by_role("button", name="もっと大きく").click()
    await phone.wait_for_url(re.compile(r"/a/sakura/?$"))
    xlarge = await phone.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert large == pytest.approx(normal * 1.25, rel=0.03)
    assert xlarge == pytest.approx(normal * 1.5, rel=0.03)
    await phone.goto("/a/sakura/notices/")  # another page: still 特大
    assert await phone.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") == xlarge
    cookie = next(c for c in await phone.context.cookies() if c["name"] == "chonaikai_text")
    assert cookie["value"] == "xlarge" and cookie["expires"] > 0
    assert await overflow(phone) <= 0
