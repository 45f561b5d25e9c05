"""End to end through the outbox worker: LINE deliveries claimed, multicast, recorded; a receipt
pressed in LINE shows in the officers' receipts page and API."""

from __future__ import annotations

from chonaikai.delivery.outbox import create_deliveries
from chonaikai.delivery.tables import Delivery
from chonaikai.delivery.worker import Worker
from chonaikai.line import messages
from chonaikai.line.channel import LineChannelSender
from tests.auth import sign_in_as
from tests.delivery.helpers import Clock, make_notice
from tests.line.helpers import linked_households


async def test_worker_sends_1001_line_households_in_three_calls(line_tenant, fake_line):
    households = await linked_households(line_tenant, fake_line, 1001)
    notice_id = await make_notice(line_tenant)
    assert await create_deliveries(notice_id) == 1001
    sender = LineChannelSender()
    try:
        handled = await Worker([sender], lanes=2, publish_due=False).run(once=True)
    finally:
        await sender.close()
    assert handled == 1001
    assert fake_line.state.calls["multicast"] == 3
    rows = await line_tenant.select(Delivery).where(Delivery.notice == notice_id)
    assert {row["status"] for row in rows} == {"sent"}
    assert all(row["retry_key"] and row["sent_at"] for row in rows)
    assert all(len(fake_line.messages_for(users[0])) == 1 for _, users in households)


async def test_worker_retry_after_accepted_timeout_sends_once(line_tenant, fake_line):
    households = await linked_households(line_tenant, fake_line, 4)
    notice_id = await make_notice(line_tenant)
    await create_deliveries(notice_id)
    fake_line.fail_next("multicast", status=200, delay=2.0, accept=True)
    clock = Clock()
    sender = LineChannelSender(timeout=0.5)
    try:
        # One lane: two lanes may split the four rows into two multicasts (SKIP LOCKED on PostgreSQL),
        # and only the first call is the one that times out.
        await Worker([sender], clock=clock, retry_seconds=60, publish_due=False, lanes=1).run(once=True)
        rows = await line_tenant.select(Delivery).where(Delivery.notice == notice_id)
        assert {(row["status"], row["attempts"]) for row in rows} == {("pending", 1)}
        first_keys = {row["retry_key"] for row in rows}
        assert len(first_keys) == 1 and None not in first_keys
    finally:
        await sender.close()
    clock.advance(3600)
    sender = LineChannelSender()  # the normal timeout: a loaded CI machine may be slow
    try:
        await Worker([sender], clock=clock, retry_seconds=60, publish_due=False, lanes=1).run(once=True)
    finally:
        await sender.close()
    rows = await line_tenant.select(Delivery).where(Delivery.notice == notice_id)
    assert {row["status"] for row in rows} == {"sent"}
    assert {row["retry_key"] for row in rows} == first_keys
    assert fake_line.state.calls["multicast"] == 2
    assert all(len(fake_line.messages_for(users[0])) == 1 for _, users in households)


async def test_line_receipt_shows_in_the_officer_view_and_the_receipts_api(client, line_tenant, fake_line):
    ((household_id, (user,)), _) = await linked_households(line_tenant, fake_line, 2)
    notice_id = await make_notice(line_tenant, title="回覧: 防犯のお知らせ")
    await create_deliveries(notice_id)
    sender = LineChannelSender()
    try:
        await Worker([sender], publish_due=False).run(once=True)
    finally:
        await sender.close()
    channel = next(iter(fake_line.state.channels.values()))
    # The member presses the 「読みました」 button of the message they received.
    (received,) = fake_line.messages_for(user)
    action = received.messages[0]["contents"]["footer"]["contents"][0]["action"]
    assert action["label"] == "読みました" and action["data"] == messages.postback_data("read", notice_id)
    status, _ = await fake_line.send_event(channel, fake_line.event("postback", user, data=action["data"]), client=client)
    assert status == 200

    await sign_in_as(client, "chair@example.jp", "chair", line_tenant)
    api = await client.get(f"/a/{line_tenant.slug}/notices/{notice_id}/receipts.json")  # /api/ takes tokens only
    assert api.status_code == 200, api.text
    by_household = {row["household_id"]: row for row in api.json()["households"]}
    assert by_household[household_id]["confirmed_via"] == "line"
    assert by_household[household_id]["confirmed_at"]
    assert api.json()["totals"]["confirmed"] == 1
    page = await client.get(f"/a/{line_tenant.slug}/notices/{notice_id}/receipts")
    assert page.status_code == 200 and "LINE" in page.text


async def test_a_claim_of_several_calls_keeps_each_retry_group_whole(line_tenant, fake_line):
    """One claim carries three multicasts (500 + 500 + 200). The first to arrive is accepted but
    its answer is lost (timeout), the second fails with 500 before LINE accepts it, the third is
    sent. The retry claims both failed groups whole and sends each under its own key: the lost
    one is answered 409 (sent, not again), the other is delivered now. Everyone gets it once."""
    households = await linked_households(line_tenant, fake_line, 1200)
    notice_id = await make_notice(line_tenant)
    await create_deliveries(notice_id)
    assert LineChannelSender.batch_size >= 1200
    fake_line.fail_next("multicast", status=200, delay=2.0, accept=True)
    fake_line.fail_next("multicast", status=500)
    clock = Clock()
    sender = LineChannelSender(timeout=0.5)
    try:
        assert await Worker([sender], clock=clock, retry_seconds=60, publish_due=False).run(once=True) == 1200
    finally:
        await sender.close()
    rows = await line_tenant.select(Delivery).where(Delivery.notice == notice_id)
    groups: dict[str, set[str]] = {}
    for row in rows:
        groups.setdefault(row["retry_key"], set()).add(row["status"])
    assert None not in groups and len(groups) == 3
    assert all(len(statuses) == 1 for statuses in groups.values())  # a group is sent or retried as a whole
    first_keys = {row["id"]: row["retry_key"] for row in rows}
    pending = {key for key, statuses in groups.items() if statuses == {"pending"}}
    assert len(pending) == 2
    assert fake_line.state.calls["multicast"] == 3

    clock.advance(3600)
    sender = LineChannelSender()
    try:
        await Worker([sender], clock=clock, retry_seconds=60, publish_due=False).run(once=True)
    finally:
        await sender.close()
    rows = await line_tenant.select(Delivery).where(Delivery.notice == notice_id)
    assert {row["status"] for row in rows} == {"sent"}
    assert {row["id"]: row["retry_key"] for row in rows} == first_keys  # retried under the same keys
    assert fake_line.state.calls["multicast"] == 5  # one call per failed group, no more
    assert sorted(len(fake_line.messages_for(users[0])) for _, users in households) == [1] * 1200
