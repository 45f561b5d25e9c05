"""Read links (/r/{token}) and one-click unsubscribe (/u/{token})."""

from __future__ import annotations

import asyncio

from chonaikai.accounts.tables import AuditEntry
from chonaikai.delivery import readlink
from chonaikai.delivery.outbox import create_deliveries
from chonaikai.delivery.readlink import drain_receipts
from chonaikai.delivery.tables import Delivery
from chonaikai.roster.tables import Household
from tests.auth import csrf_headers
from tests.delivery.helpers import make_notice
from tests.factories import make_household


async def _delivery(notice_id, household_id):
    return await Delivery.select().where(
        (Delivery.notice == notice_id) & (Delivery.household == household_id)
    ).first()


async def test_read_link_shows_the_notice_and_records_the_first_visit(client, tenant):
    household = await make_household(tenant, "山田", han="1班", channel="email", email="y@example.jp")
    notice = await make_notice(tenant, title="防災訓練のお知らせ", body="10月5日 午前9時 小学校に集合")
    await create_deliveries(notice)
    row = await _delivery(notice, household["id"])

    response = await client.get(f"/r/{row['token']}")
    assert response.status_code == 200
    assert "防災訓練のお知らせ" in response.text and "小学校に集合" in response.text
    assert "読みました" in response.text
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "noindex" in response.headers["x-robots-tag"]
    # Visits are written in batches, at most a second later: not yet ...
    assert (await _delivery(notice, household["id"]))["opened_at"] is None
    await asyncio.sleep(readlink.OPEN_SECONDS + 0.5)  # ... but after the batch
    first = (await _delivery(notice, household["id"]))["opened_at"]
    assert first is not None

    await client.get(f"/r/{row['token']}")
    await drain_receipts()
    assert (await _delivery(notice, household["id"]))["opened_at"] == first  # first time only
    assert (await _delivery(notice, household["id"]))["confirmed_at"] is None  # a visit is not a read


async def test_confirm_is_idempotent_as_plain_post_and_htmx(client, tenant):
    household = await make_household(tenant, "山田", han="1班", channel="email", email="y@example.jp")
    notice = await make_notice(tenant)
    await create_deliveries(notice)
    token = (await _delivery(notice, household["id"]))["token"]
    await client.get(f"/r/{token}")

    response = await client.post(f"/r/{token}/confirm", headers=await csrf_headers(client))
    assert response.status_code == 303 and response.headers["location"] == f"/r/{token}"
    row = await _delivery(notice, household["id"])
    assert row["confirmed_at"] is not None and row["confirmed_via"] == "web"

    response = await client.post(
        f"/r/{token}/confirm", headers={**await csrf_headers(client), "HX-Request": "true"}
    )
    assert response.status_code == 200
    assert "受け付けました" in response.text and "<html" not in response.text
    assert (await _delivery(notice, household["id"]))["confirmed_at"] == row["confirmed_at"]
    page = await client.get(f"/r/{token}")
    assert "受け付けました" in page.text


async def test_confirm_needs_the_csrf_token(client, tenant):
    household = await make_household(tenant, "山田", han="1班", channel="paper")
    notice = await make_notice(tenant)
    await create_deliveries(notice)
    token = (await _delivery(notice, household["id"]))["token"]
    response = await client.post(f"/r/{token}/confirm")
    assert response.status_code == 403
    assert (await _delivery(notice, household["id"]))["confirmed_at"] is None


async def test_unknown_token_is_a_kind_404(client, tenant):
    response = await client.get("/r/not-a-real-token-at-all")
    assert response.status_code == 404
    assert "お知らせが見つかりません" in response.text
    assert response.headers["referrer-policy"] == "no-referrer"
    response = await client.post("/r/not-a-real-token-at-all/confirm", headers=await csrf_headers(client))
    assert response.status_code == 404


async def test_a_token_reveals_one_notice_to_one_household_and_nothing_else(client, tenant):
    mine = await make_household(tenant, "山田太郎", han="1班", channel="email", email="taro@example.jp")
    await make_household(tenant, "鈴木花子", han="1班", channel="email", email="hanako@example.jp")
    shown = await make_notice(tenant, title="回覧その一", body="本文その一")
    other = await make_notice(tenant, title="回覧その二", body="本文その二")
    await create_deliveries(shown)
    await create_deliveries(other)
    token = (await _delivery(shown, mine["id"]))["token"]
    page = (await client.get(f"/r/{token}")).text
    assert "回覧その一" in page
    for secret in ("回覧その二", "本文その二", "山田太郎", "鈴木花子", "taro@example.jp", "hanako@example.jp", "/receipts"):
        assert secret not in page
    # Confirming with it touches only its own row.
    await client.post(f"/r/{token}/confirm", headers=await csrf_headers(client))
    confirmed = await Delivery.select(Delivery.notice, Delivery.household).where(Delivery.confirmed_at.is_not_null())
    assert confirmed == [{"notice": shown, "household": mine["id"]}]


async def test_one_click_unsubscribe_switches_to_paper_and_is_recorded(client, tenant):
    household = await make_household(tenant, "山田", han="1班", channel="email", email="y@example.jp")
    sent = await make_notice(tenant, title="送った")
    await create_deliveries(sent)
    waiting = await make_notice(tenant, title="まだ")
    await create_deliveries(waiting)
    await Delivery.update({Delivery.status: "sent"}).where(Delivery.notice == sent)
    token = (await _delivery(sent, household["id"]))["token"]

    page = await client.get(f"/u/{token}")
    assert page.status_code == 200 and "メールの受け取りをやめる" in page.text
    assert (await Household.select(Household.channel).where(Household.id == household["id"]).first())["channel"] == "email"

    # What a mail program sends (RFC 8058): no cookie, no CSRF token.
    response = await client.post(
        f"/u/{token}",
        content="List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert "やめました" in response.text
    assert (await Household.select(Household.channel).where(Household.id == household["id"]).first())["channel"] == "paper"
    assert (await _delivery(waiting, household["id"]))["channel"] == "paper"  # not yet sent: goes on paper
    assert (await _delivery(sent, household["id"]))["channel"] == "email"  # history stays true
    [entry] = await AuditEntry.select().where(AuditEntry.action == "delivery.unsubscribe")
    assert entry["household"] == household["id"] and entry["association"] == tenant.id

    again = await client.post(f"/u/{token}", content="List-Unsubscribe=One-Click",
                              headers={"content-type": "application/x-www-form-urlencoded"})
    assert again.status_code == 200
    assert await AuditEntry.count().where(AuditEntry.action == "delivery.unsubscribe") == 1
    assert (await client.post("/u/unknown-token-xyz")).status_code == 404


async def test_many_confirmations_at_once_are_committed_together_and_each_answered(tenant):
    import asyncio

    from chonaikai.delivery.readlink import confirm_by_token, open_by_token
    from tests.delivery.helpers import make_households

    await make_households(tenant, 30, channel="paper")
    notice = await make_notice(tenant)
    await create_deliveries(notice)
    tokens = [row["token"] for row in await Delivery.select(Delivery.token).where(Delivery.notice == notice)]
    results = await asyncio.gather(
        *(confirm_by_token(token) for token in tokens),
        confirm_by_token("no-such-token-1"),
        *(open_by_token(token) for token in tokens[:5]),
    )
    assert results[:30] == [True] * 30 and results[30] is None
    assert all(view is not None for view in results[31:])
    rows = await Delivery.select().where(Delivery.notice == notice)
    assert all(row["confirmed_at"] and row["opened_at"] and row["confirmed_via"] == "web" for row in rows)


async def test_read_link_lists_and_serves_the_notices_own_files_only(client, tenant):
    from chonaikai.notices.attachments import add_attachment

    household = await make_household(tenant, "山田", han="1班", channel="paper")
    notice = await make_notice(tenant, title="資料つき", visibility="members")
    other = await make_notice(tenant, title="別のお知らせ")
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    mine = await add_attachment(tenant, notice, "地図.pdf", pdf)
    theirs = await add_attachment(tenant, other, "秘密.pdf", pdf)
    await create_deliveries(notice)
    token = (await _delivery(notice, household["id"]))["token"]

    page = (await client.get(f"/r/{token}")).text
    assert "地図.pdf" in page and f"/r/{token}/files/{mine.id}" in page and "秘密.pdf" not in page
    response = await client.get(f"/r/{token}/files/{mine.id}")
    assert response.status_code == 200 and response.content == pdf
    assert response.headers["content-type"].startswith("application/pdf")
    assert response.headers["referrer-policy"] == "no-referrer"
    assert (await client.get(f"/r/{token}/files/{theirs.id}")).status_code == 404
    assert (await client.get(f"/r/wrong-token-abc/files/{mine.id}")).status_code == 404


async def test_receipts_still_waiting_at_shutdown_are_committed_before_it(tenant):
    import asyncio

    from chonaikai.delivery.readlink import confirm_by_token, drain_receipts
    from tests.delivery.helpers import make_households

    await make_households(tenant, 10, channel="paper")
    notice = await make_notice(tenant)
    await create_deliveries(notice)
    tokens = [row["token"] for row in await Delivery.select(Delivery.token).where(Delivery.notice == notice)]
    answers = [asyncio.ensure_future(confirm_by_token(token)) for token in tokens]
    await asyncio.sleep(0)  # the requests hand their receipts in …
    await drain_receipts()  # … and the server stops: what its shutdown does before closing connections  # what the app's shutdown does before closing its connections
    confirmed = await Delivery.count().where((Delivery.notice == notice) & Delivery.confirmed_at.is_not_null())
    assert confirmed == 10
    assert await asyncio.gather(*answers) == [True] * 10


async def test_side_by_side_commits_on_the_same_rows_all_land(tenant):
    """Readers tapping twice, and visits, spread over several commits at once (PostgreSQL runs
    two side by side; SQLite one): every answer is right and every row written once."""
    import asyncio

    from chonaikai.delivery.readlink import CONFIRM, OPEN, ReceiptWriter
    from tests.delivery.helpers import make_households

    await make_households(tenant, 40, channel="paper")
    notice = await make_notice(tenant)
    await create_deliveries(notice)
    tokens = [row["token"] for row in await Delivery.select(Delivery.token).where(Delivery.notice == notice)]
    writer = ReceiptWriter(max_batch=7)  # small batches: many commits, overlapping tokens
    writes = []
    for round_ in range(3):
        for token in reversed(tokens) if round_ % 2 else tokens:
            writes.append(writer.write(CONFIRM, token, "web", None))
            writes.append(writer.write(OPEN, token, "", None))
        await asyncio.sleep(0)
    results = await asyncio.gather(*writes)
    assert results == [True] * len(writes)
    rows = await Delivery.select(Delivery.confirmed_at, Delivery.opened_at).where(Delivery.notice == notice)
    assert len(rows) == 40 and all(row["confirmed_at"] and row["opened_at"] for row in rows)
