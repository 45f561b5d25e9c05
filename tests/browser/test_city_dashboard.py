"""The city dashboard on an office PC (1,280 px): no sideways scrolling, and paged past 100 associations."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chonaikai.accounts.roles import Role
from chonaikai.circulars import logic
from chonaikai.circulars.logic import CircularInput
from chonaikai.tenancy.tables import Association
from tests.auth import make_account
from tests.browser.helpers import sign_in_quickly

pytestmark = pytest.mark.browser


async def many_associations(city, count: int) -> None:
    now = datetime.now(UTC)
    await Association.insert(*[
        Association(slug=f"assoc-{i:03d}", name=f"第{i}桜ヶ丘東町内会連合自治会", kana=f"だい{i:03d}", city=city["id"],
                    district=f"{'東西南北'[i % 4]}部地区", updated_at=now)
        for i in range(count)
    ])


async def test_the_dashboard_fits_1280_and_pages_past_100(desktop, city):
    await many_associations(city, 120)
    circular_id = await logic.create_circular(city["id"], CircularInput(title="防災訓練", summary="9月1日に訓練"))
    staff = await make_account("staff@city.example", Role.CITY_STAFF, city_id=city["id"])
    await sign_in_quickly(desktop, staff, f"/c/{city['slug']}/circulars/{circular_id}")
    page = desktop
    await page.goto(f"/c/{city['slug']}/circulars/{circular_id}")
    rows = page.locator(".circular-table tbody tr")
    assert await rows.count() == 100
    wide = await page.evaluate(
        "() => [document.documentElement.scrollWidth - innerWidth,"
        " ...[...document.querySelectorAll('.table-scroll')].map(e => e.scrollWidth - e.clientWidth)]"
    )
    await page.screenshot(path="/tmp/officer-city-dashboard.png")
    assert max(wide) <= 0, f"sideways scrolling at 1280px: {wide}"
    await page.get_by_role("link", name="次の100件").click()
    await page.wait_for_url(f"**/circulars/{circular_id}?page=2")
    assert await rows.count() == 20
    assert "101〜120 件目 / 120" in await page.locator("main").inner_text()
