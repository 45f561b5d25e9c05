"""One clock: every time shown or exported is local (CHONAIKAI_TIME_ZONE, default Asia/Tokyo),
in Japanese style; the API keeps ISO 8601 with the offset."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from chonaikai import clock
from chonaikai.accounts.roles import Role
from chonaikai.accounts.tables import AuditEntry
from chonaikai.delivery.outbox import create_deliveries
from chonaikai.delivery.tables import Delivery
from chonaikai.settings import SettingsError, load_settings
from tests.auth import sign_in_as
from tests.delivery.helpers import make_notice
from tests.factories import make_household

SENT = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)  # 12:00 in Tokyo


def test_japanese_style_in_local_time():
    assert clock.local_datetime(datetime(2026, 12, 4, 5, 5, tzinfo=UTC)) == "2026年12月4日（金）14:05"
    assert clock.local_date(datetime(2026, 12, 4, 16, 0, tzinfo=UTC)) == "2026年12月5日（土）"  # past midnight
    assert clock.local_date(date(2026, 12, 4)) == "2026年12月4日（金）"
    assert clock.local_short(SENT) == "12月4日 12:00"
    assert clock.local_datetime(None) == "" and clock.iso(None) is None
    assert clock.iso(SENT) == "2026-12-04T12:00:00+09:00"


def test_a_city_may_name_its_own_zone():
    honolulu = clock.zone_of({"time_zone": "Pacific/Honolulu"})
    assert clock.local_short(SENT, honolulu) == "12月3日 17:00"
    assert clock.zone_of({"time_zone": ""}) == clock.zone("Asia/Tokyo")


def test_the_setting_refuses_an_unknown_zone():
    assert load_settings({"CHONAIKAI_TIME_ZONE": "Europe/Berlin"}).time_zone == "Europe/Berlin"
    with pytest.raises(SettingsError, match="CHONAIKAI_TIME_ZONE"):
        load_settings({"CHONAIKAI_TIME_ZONE": "Mars/Olympus"})


async def sent_at_three_utc(tenant) -> int:
    household = await make_household(tenant, "青木", han="1班", channel="email", email="aoki@example.jp")
    notice = await make_notice(tenant, title="総会のお知らせ")
    await create_deliveries(notice)
    await Delivery.update(
        {Delivery.status: "sent", Delivery.sent_at: SENT, Delivery.confirmed_at: SENT, Delivery.confirmed_via: "officer"}
    ).where(Delivery.household == household["id"])
    return notice


async def test_receipts_page_shows_a_delivery_sent_at_three_utc_at_noon(client, tenant):
    notice = await sent_at_three_utc(tenant)
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    page = (await client.get(f"/a/{tenant.slug}/notices/{notice}/receipts")).text
    assert "12月4日 12:00" in page
    assert "03:00" not in page


async def test_the_audit_log_shows_local_time(client, tenant):
    await AuditEntry.insert(AuditEntry(association=tenant.id, action="line.code", detail="x", created_at=SENT))
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    page = (await client.get(f"/a/{tenant.slug}/audit")).text
    assert "2026年12月4日（金）12:00" in page and "03:00" not in page
    assert "LINE登録コードを発行" in page and "line.code" not in page  # Japanese label, not the key



async def test_the_receipts_csv_shows_local_time(client, tenant):
    notice = await sent_at_three_utc(tenant)
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    csv_text = (await client.get(f"/a/{tenant.slug}/notices/{notice}/receipts.csv")).text
    assert "2026-12-04 12:00" in csv_text and "03:00" not in csv_text


def test_a_tick_for_an_earlier_day_counts_at_local_noon():
    from chonaikai.printing.receipts import confirmation_time

    now = datetime(2026, 12, 4, 16, 0, tzinfo=UTC)  # already 5 December in Tokyo
    assert confirmation_time(date(2026, 12, 4), now=now) == datetime(2026, 12, 4, 3, 0, tzinfo=UTC)  # 12:00 JST
    assert confirmation_time(date(2026, 12, 5), now=now) == now  # "today" is the local day
    assert clock.local_datetime(confirmation_time(date(2026, 12, 4), now=now)) == "2026年12月4日（金）12:00"
