"""Read links (/r/{token}) show the notice only while the household is in its audience, and never
fail because recording "opened" could not be written (issue 14)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from chonaikai.db import is_postgres
from chonaikai.delivery.outbox import create_deliveries
from chonaikai.delivery.tables import Delivery
from chonaikai.notices.tables import Notice, NoticeHan
from chonaikai.roster.tables import Han, Household
from tests.auth import csrf_headers
from tests.delivery.helpers import make_notice
from tests.factories import make_household
from tests.hardening.test_locked_sqlite import another_writer

TITLE = "防災訓練のお知らせ"
BODY = "10月5日 午前9時 小学校に集合"


async def read_link(tenant, han: str = "1班") -> tuple[int, int, str]:
    household = await make_household(tenant, "山田", han=han, channel="email", email="y@example.jp")
    notice = await make_notice(tenant, title=TITLE, body=BODY)
    await create_deliveries(notice)
    row = await Delivery.select(Delivery.token).where(
        (Delivery.notice == notice) & (Delivery.household == household["id"])).first()
    return notice, household["id"], row["token"]


def refused_kindly(response) -> bool:
    return (response.status_code in (403, 404, 410) and TITLE not in response.text and BODY not in response.text
            and "お知らせ" in response.text)


async def test_the_read_link_is_refused_after_the_audience_narrows_to_officers(client, tenant):
    notice, _, token = await read_link(tenant)
    assert BODY in (await client.get(f"/r/{token}")).text
    await Notice.update({Notice.audience: "officers", Notice.body: "役員だけの新しい本文"}).where(Notice.id == notice)
    response = await client.get(f"/r/{token}")
    assert refused_kindly(response) and "役員だけの新しい本文" not in response.text


async def test_the_read_link_is_refused_after_the_audience_narrows_to_another_han(client, tenant):
    notice, _, token = await read_link(tenant, han="1班")
    other = await tenant.select(Han, Han.id).where(Han.name == "2班").first()
    await Notice.update({Notice.audience: "han"}).where(Notice.id == notice)
    await tenant.new(NoticeHan, notice=notice, han=other["id"]).save()
    assert refused_kindly(await client.get(f"/r/{token}"))


@pytest.mark.parametrize("change", ["moved_out", "erased"])
async def test_the_read_link_is_refused_once_the_household_moved_out_or_was_erased(client, tenant, change):
    _, household_id, token = await read_link(tenant)
    values = {Household.moved_out: True}
    if change == "erased":
        values[Household.erased_at] = datetime.now(UTC)
    await Household.update(values).where(Household.id == household_id)
    assert refused_kindly(await client.get(f"/r/{token}"))
    # nor can it confirm
    confirm = await client.post(f"/r/{token}/confirm", headers=await csrf_headers(client))
    assert confirm.status_code in (403, 404, 410)


@pytest.mark.skipif(is_postgres(), reason="SQLite's single writer lock")
async def test_the_read_page_works_while_sqlite_is_locked_for_12_seconds(client, tenant):
    notice, household_id, token = await read_link(tenant)
    with another_writer():
        started = time.monotonic()
        response = await client.get(f"/r/{token}")
        took = time.monotonic() - started
        await asyncio.sleep(max(0.0, 12 - took))  # the lock outlives the busy timeout
    assert response.status_code == 200 and BODY in response.text
    assert took < 5, took  # the reader did not wait for the bookkeeping
