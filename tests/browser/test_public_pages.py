"""Public pages in Chromium: no WCAG 2.1 AA violations, and the 「文字を大きく」 switch keeps the layout."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import assert_accessible
from tests.factories import make_association

pytestmark = pytest.mark.browser


@pytest.fixture
async def public_site(city, tenant):
    await make_association(
        city, slug="minami", name="南町内会", district="南地区",
        introduction="南町内会のホームページです。\n\n毎月第一日曜に清掃をしています。",
    )
    return {"city": city, "tenant": tenant}


async def test_public_pages_have_no_accessibility_violations(any_page, public_site):
    page = any_page
    city = public_site["city"]
    for path, heading in [
        ("/", "町内会"),
        (f"/c/{city['slug']}/", city["name"]),
        ("/a/sakura/", "テスト桜町内会"),
        ("/a/minami/", "南町内会"),
        ("/signin/not-a-real-secret", "このリンクは使えません"),
    ]:
        response = await page.goto(path)
        assert response is not None and response.status < 500, path
        assert heading in await page.locator("h1").inner_text(), path
        await assert_accessible(page, path)

    response = await page.goto("/a/no-such-association/")
    assert response.status == 404
    assert "見つかりません" in await page.locator("h1").inner_text()
    await assert_accessible(page, "404 page")


async def test_board_and_public_notice_pages_have_no_accessibility_violations(any_page, public_site):
    from chonaikai.notices import logic

    tenant = public_site["tenant"]
    ids = []
    for title, urgent, category in [("断水のお知らせ", True, "その他"), ("一斉清掃のお知らせ", False, "行事"),
                                    ("ごみ当番の交代", False, "ごみ")]:
        notice_id = await logic.create_notice(
            tenant,
            logic.NoticeInput(title=title, body=f"{title}です。\n\n- 日時：6月1日\n- 場所：**集会所**",
                              category=category, visibility="public", urgent=urgent),
            author_title="会長",
        )
        await logic.publish_notice(tenant, notice_id)
        ids.append(notice_id)
    page = any_page
    for path, heading in [
        ("/a/sakura/notices", "お知らせ"),
        ("/a/sakura/notices?q=清掃", "お知らせ"),
        (f"/a/sakura/notices/{ids[0]}", "断水のお知らせ"),
        ("/a/sakura/", "テスト桜町内会"),
    ]:
        response = await page.goto(path)
        assert response is not None and response.status == 200, path
        assert heading in await page.locator("h1").inner_text(), path
        await assert_accessible(page, path)
    assert "一斉清掃のお知らせ" in await page.locator("main").inner_text()  # the homepage lists public ones


async def test_axe_finds_a_planted_violation(phone, public_site):
    # The check must be able to fail: an image without alt text and an unlabelled field.
    await phone.goto("/a/sakura/")
    await phone.evaluate(
        """() => {
            const main = document.querySelector('main');
            main.insertAdjacentHTML('beforeend', '<img src="/static/icon.svg"><input type="text">');
        }"""
    )
    from tests.browser.conftest import axe_violations

    ids = {v["id"] for v in await axe_violations(phone)}
    assert {"image-alt", "label"} <= ids


async def _horizontal_overflow(page) -> int:
    # Against the window we set, not clientWidth: a mobile viewport widens itself to fit wide content.
    width = page.viewport_size["width"]
    return await page.evaluate("w => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth) - w", width)


async def test_text_size_switch_enlarges_text_without_horizontal_scroll(phone, public_site):
    page = phone
    await page.goto("/a/minami/")
    size_before = await page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    await page.get_by_role("button", name="文字を大きく").click()
    await page.wait_for_url(re.compile(r"/a/minami/?$"))
    size_after = await page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert size_after >= size_before * 1.15, (size_before, size_after)
    assert await page.get_by_role("button", name="文字を元に戻す").is_visible()
    await assert_accessible(page, "homepage, large text")

    # 200% zoom on a 390px-wide phone: the page lays out in 195 CSS px. Nothing may need sideways scrolling.
    await page.set_viewport_size({"width": 195, "height": 422})
    from tests.browser.test_page_weight import published_notice_token

    token = await published_notice_token(public_site["tenant"])
    paths = ["/", "/a/minami/", f"/c/{public_site['city']['slug']}/", "/signin", "/signin/not-a-real-secret",
             "/a/sakura/notices", f"/r/{token}"]
    for path in paths:
        await page.goto(path)
        overflow = await _horizontal_overflow(page)
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at 200% zoom with large text"

    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto("/a/minami/")
    await page.get_by_role("button", name="文字を元に戻す").click()
    await page.wait_for_url(re.compile(r"/a/minami/?$"))
    assert await page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") == size_before


async def test_overflow_check_catches_a_too_wide_element(phone, public_site):
    await phone.goto("/a/minami/")
    await phone.evaluate(
        # Through the CSSOM: our CSP refuses inline style attributes.
        "() => { const d = document.createElement('div'); d.style.width = '600px'; d.textContent = 'x';"
        " document.querySelector('main').append(d); }"
    )
    assert await _horizontal_overflow(phone) > 0
