"""Creating deliveries: audience, channel fallbacks, tokens, publishing twice."""

from __future__ import annotations

from chonaikai.delivery.outbox import create_deliveries, create_deliveries_for_notices
from chonaikai.delivery.tables import Delivery
from tests.delivery.helpers import make_notice
from tests.factories import make_association, make_household


async def _deliveries(tenant, notice_id):
    rows = await tenant.select(Delivery).where(Delivery.notice == notice_id)
    return {row["household"]: row for row in rows}


async def test_every_household_gets_one_delivery_through_a_working_channel(tenant):
    mail = await make_household(tenant, "メール世帯", han="1班", channel="email", email="a@example.jp")
    no_address = await make_household(tenant, "アドレス無し", han="1班", channel="email", email="")
    bad_address = await make_household(tenant, "壊れたアドレス", han="2班", channel="email", email="nope")
    line = await make_household(tenant, "LINE世帯", han="2班", channel="line")
    paper = await make_household(tenant, "紙世帯", han="3班", channel="paper")
    no_han = await make_household(tenant, "班なし", channel="email", email="b@example.jp")
    await make_household(tenant, "転出", han="1班", channel="email", email="c@example.jp", moved_out=True)
    notice = await make_notice(tenant)

    assert await create_deliveries(notice) == 6
    rows = await _deliveries(tenant, notice)
    assert {h: r["channel"] for h, r in rows.items()} == {
        mail["id"]: "email",
        no_address["id"]: "paper",
        bad_address["id"]: "paper",
        line["id"]: "paper",  # LINE not linked (the LINE channel is not here yet): paper, never skipped
        paper["id"]: "paper",
        no_han["id"]: "email",
    }
    for row in rows.values():
        assert row["status"] == "pending"
        assert len(row["token"]) >= 22  # ≥128 bits in URL-safe base64
    assert len({row["token"] for row in rows.values()}) == 6
    # Paper rows are not the worker's: they wait for the print sheet.
    assert rows[paper["id"]]["next_attempt_at"] is None
    assert rows[mail["id"]]["next_attempt_at"] is not None


async def test_publishing_twice_creates_nothing_twice(tenant):
    first = await make_household(tenant, "一", han="1班", channel="email", email="a@example.jp")
    notice = await make_notice(tenant)
    assert await create_deliveries(notice) == 1
    token = (await _deliveries(tenant, notice))[first["id"]]["token"]
    second = await make_household(tenant, "二", han="1班", channel="paper")
    # A household added later gets its row; the first keeps its row and token.
    assert await create_deliveries(notice) == 1
    assert await create_deliveries(notice) == 0
    rows = await _deliveries(tenant, notice)
    assert set(rows) == {first["id"], second["id"]}
    assert rows[first["id"]]["token"] == token


async def test_han_audience_and_officers_only(tenant):
    one = await make_household(tenant, "一班の家", han="1班", channel="paper")
    two = await make_household(tenant, "二班の家", han="2班", channel="paper")
    await make_household(tenant, "三班の家", han="3班", channel="paper")
    await make_household(tenant, "班なし", channel="paper")
    han_notice = await make_notice(tenant, audience="han", han=["1班", "2班"])
    officers = await make_notice(tenant, audience="officers")
    assert await create_deliveries(han_notice) == 2
    assert set(await _deliveries(tenant, han_notice)) == {one["id"], two["id"]}
    assert await create_deliveries(officers) == 0


async def test_many_notices_across_associations_stay_in_their_association(city, tenant):
    other = await make_association(city, slug="other", han=["1班"])
    mine = await make_household(tenant, "桜", han="1班", channel="paper")
    theirs = await make_household(other, "他", han="1班", channel="paper")
    n1 = await make_notice(tenant)
    n2 = await make_notice(other)
    assert await create_deliveries_for_notices([n1, n2, n1]) == 2
    assert set(await _deliveries(tenant, n1)) == {mine["id"]}
    assert set(await _deliveries(other, n2)) == {theirs["id"]}
    assert await _deliveries(tenant, n2) == {}


async def test_unknown_notice_creates_nothing(tenant):
    await make_household(tenant, "桜", han="1班", channel="paper")
    assert await create_deliveries(999999) == 0


@__import__("pytest").mark.skipif("not __import__('chonaikai.db', fromlist=['x']).is_postgres()")
async def test_after_a_big_publish_postgresql_knows_the_associations_new_rows(tenant):
    """Right after 1,500 new rows the planner must already count them: with the old count (a few
    rows) it walked all of the association's rows for each by-id update of the worker and the
    LINE sender instead of using the primary key."""
    import re

    from tests.delivery.helpers import make_households

    await make_households(tenant, 1500)
    notice = await make_notice(tenant)
    assert await create_deliveries(notice) == 1500
    plan = await Delivery.raw("EXPLAIN SELECT id FROM delivery WHERE association = {}", tenant.id).run()
    estimate = int(re.search(r"rows=(\d+)", plan[0]["QUERY PLAN"]).group(1))
    assert estimate >= 1000, plan
