"""Review fixes for delivery: a corrected notice is mailed corrected; the read page links to the board."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chonaikai.channels.email import EmailChannel
from chonaikai.delivery.channels import DeliveryJob
from chonaikai.notices.tables import Notice
from tests.delivery.helpers import make_notice


def job(tenant, notice_id, n):
    return DeliveryJob(delivery_id=n, association_id=tenant.id, notice_id=notice_id, household_id=n,
                       channel="email", token=f"readtoken{n}", attempt=1, email=f"h{n}@example.jp")


async def test_an_edited_notice_is_mailed_with_its_new_text(tenant, mail_sink):
    notice_id = await make_notice(tenant, title="夏祭りは8月1日")
    channel = EmailChannel()
    try:
        [first] = await channel.send([job(tenant, notice_id, 1)])
        assert first.kind == "sent"
        later = datetime.now(UTC) + timedelta(seconds=5)
        await tenant.update(Notice, {Notice.title: "夏祭りは8月2日", Notice.updated_at: later, Notice.edited_at: later}).where(
            Notice.id == notice_id
        )
        [second] = await channel.send([job(tenant, notice_id, 2)])
        assert second.kind == "sent"
    finally:
        await channel.close()
    assert "8月1日" in mail_sink.to("h1@example.jp")[0]["subject"]
    assert "8月2日" in mail_sink.to("h2@example.jp")[0]["subject"]


async def test_read_page_links_to_the_associations_board_and_shows_nothing_more(client, tenant):
    from chonaikai.delivery.outbox import create_deliveries
    from chonaikai.delivery.tables import Delivery
    from tests.factories import make_household

    household = await make_household(tenant, "山田", han="1班", channel="email", email="y@example.jp")
    notice_id = await make_notice(tenant, title="回覧その一")
    other = await make_notice(tenant, title="会員だけの回覧", visibility="members")
    await create_deliveries(notice_id)
    token = (await Delivery.select(Delivery.token).where(
        (Delivery.notice == notice_id) & (Delivery.household == household["id"])
    ).first())["token"]
    page = (await client.get(f"/r/{token}")).text
    name = tenant.row["name"]
    assert f'href="/a/{tenant.slug}/notices/"' in page and f"{name}のお知らせ一覧へ" in page
    assert f'href="/r/{token}"' not in page  # 「ホーム」 no longer points at the page itself
    assert f'href="/a/{tenant.slug}/"' in page  # the footer leads to the association
    assert "会員だけの回覧" not in page
    # Following the link, a visitor without sign-in still sees no members-only notice.
    client.cookies.clear()
    board = await client.get(f"/a/{tenant.slug}/notices/")
    assert board.status_code == 200 and "会員だけの回覧" not in board.text
    assert other
