"""The demo site that `make screenshots` and bench/lighthouse.py photograph and measure: it must keep
working as the demo changes, and its fuller pages (30 households, real receipts) must pass axe too."""

from __future__ import annotations

import os

import pytest

from tests.browser.conftest import PHONE, assert_accessible
from tests.browser.demo_site import SLUG, DemoSite

pytestmark = pytest.mark.browser


@pytest.mark.skipif(
    "postgresql" in os.environ.get("CHONAIKAI_DATABASE_URL", ""),
    reason="the demo site has its own SQLite file: once per CI run (the SQLite pass) is enough",
)
async def test_demo_pages_for_the_readme_render_and_are_accessible(browser, tmp_path):
    with DemoSite(tmp_path / "site") as site:
        context = await browser.new_context(base_url=site.url, locale="ja-JP", **PHONE)
        context.set_default_timeout(20_000)
        try:
            page = await context.new_page()
            for path in [f"/a/{SLUG}/", f"/a/{SLUG}/notices", site.read_link]:
                response = await page.goto(path)
                assert response.status == 200, path
                await assert_accessible(page, f"demo {path}")
            # The demo's 総会 notice asks 出席・委任状・書面表決 (a vote) instead of 「読みました」.
            await page.get_by_role("button", name="この内容で送る").wait_for()
            await page.goto(site.officer_link)
            await page.get_by_role("button", name="ログインする").click()
            await page.wait_for_url(f"**/notices/{site.notice_id}/receipts")
            await page.get_by_text("世帯が確認").first.wait_for()
            await assert_accessible(page, "demo receipts view")
        finally:
            await context.close()
