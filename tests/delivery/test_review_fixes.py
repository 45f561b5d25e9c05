"""Review fixes for delivery: a corrected notice is mailed corrected; the read page links to the board."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chonaikai.delivery.channels import DeliveryJob
from chonaikai.delivery.email import EmailChannel
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
