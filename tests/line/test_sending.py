"""LINE as a channel of the outbox: multicast batching, retry keys, failures — against the fake
LINE server on loopback, through the real line-bot-sdk."""

from __future__ import annotations

import math

import pytest

from chonaikai.delivery.channels import PERMANENT, RETRY, SENT
from chonaikai.delivery.tables import Delivery
from chonaikai.line.channel import (
    REASON_NOT_LINKED,
    REASON_QUOTA,
    LineChannelSender,
    chunk_households,
)
from chonaikai.line.links import deactivate
from tests.delivery.helpers import make_notice
from tests.line.conftest import CHANNEL_ID
from tests.line.helpers import line_jobs, linked_households


@pytest.mark.parametrize("count", [499, 500, 501, 1001])
async def test_multicast_batches_of_at_most_500(line_tenant, fake_line, count):
    households = await linked_households(line_tenant, fake_line, count)
    notice_id = await make_notice(line_tenant, title="夏祭りのお知らせ")
    jobs = await line_jobs(line_tenant, notice_id)
    assert len(jobs) == count

    sender = LineChannelSender()
    try:
        outcomes = await sender.send(jobs)
    finally:
        await sender.close()

    assert fake_line.state.calls["multicast"] == math.ceil(count / 500)
    assert sorted(o.delivery_id for o in outcomes) == sorted(j.delivery_id for j in jobs)
    assert {o.kind for o in outcomes} == {SENT}
    for _, users in households:
        received = fake_line.messages_for(users[0])
        assert len(received) == 1
        assert received[0].messages[0]["altText"] == "【LINE町内会】夏祭りのお知らせ"
    # Every delivery carries the key of the call it went in, stored before the call.
    rows = await line_tenant.select(Delivery, Delivery.retry_key).where(Delivery.notice == notice_id)
    keys = [row["retry_key"] for row in rows]
    assert None not in keys and len(set(keys)) == math.ceil(count / 500)


def test_a_households_users_stay_in_one_call():
    chunks = chunk_households([(1, ["a"] * 300), (2, ["b"] * 150), (3, ["c", "d"] * 30)])
    assert [[d for d, _ in chunk] for chunk in chunks] == [[1, 2], [3]]
    assert all(sum(len(users) for _, users in chunk) <= 500 for chunk in chunks)


async def test_retry_after_timeout_reuses_the_key_and_is_not_delivered_twice(line_tenant, fake_line):
    households = await linked_households(line_tenant, fake_line, 3)
    notice_id = await make_notice(line_tenant)
    # The fake accepts the call, then answers too late: our side sees a timeout.
    fake_line.fail_next("multicast", status=200, delay=2.0, accept=True)
    sender = LineChannelSender(timeout=0.5)
    try:
        first = await sender.send(await line_jobs(line_tenant, notice_id))
        assert {o.kind for o in first} == {RETRY}
        stored = {row["retry_key"] for row in await line_tenant.select(Delivery, Delivery.retry_key).where(Delivery.notice == notice_id)}
        assert len(stored) == 1 and None not in stored
        assert first[0].retry_key in stored

    finally:
        await sender.close()
    sender = LineChannelSender()  # a later worker, with the normal timeout (a loaded CI machine is slow)
    try:
        second = await sender.send(await line_jobs(line_tenant, notice_id, create=False))
    finally:
        await sender.close()
    assert {o.kind for o in second} == {SENT}  # 409: already accepted = sent
    assert fake_line.state.calls["multicast"] == 2
    for _, users in households:
        assert len(fake_line.messages_for(users[0])) == 1
        assert fake_line.messages_for(users[0])[0].retry_key in stored


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_rate_limit_and_server_errors_are_retried_with_the_same_key(line_tenant, fake_line, status):
    households = await linked_households(line_tenant, fake_line, 2)
    notice_id = await make_notice(line_tenant)
    fake_line.fail_next("multicast", status=status)
    sender = LineChannelSender()
    try:
        first = await sender.send(await line_jobs(line_tenant, notice_id))
        assert {o.kind for o in first} == {RETRY}
        assert all(fake_line.messages_for(users[0]) == [] for _, users in households)
        second = await sender.send(await line_jobs(line_tenant, notice_id, create=False))
    finally:
        await sender.close()
    assert {o.kind for o in second} == {SENT}
    assert first[0].retry_key == second[0].retry_key
    assert all(len(fake_line.messages_for(users[0])) == 1 for _, users in households)


async def test_household_whose_user_blocked_fails_permanently_with_a_reason(line_tenant, fake_line):
    households = await linked_households(line_tenant, fake_line, 2)
    notice_id = await make_notice(line_tenant)
    jobs = await line_jobs(line_tenant, notice_id)
    blocked_household, blocked_users = households[0]
    fake_line.block(blocked_users[0])
    # The unfollow event arrived after the deliveries were queued (the worker already holds them).
    await deactivate(CHANNEL_ID, blocked_users[0], "LINEでブロックされました")
    sender = LineChannelSender()
    try:
        outcomes = {o.delivery_id: o for o in await sender.send(jobs)}
    finally:
        await sender.close()
    by_household = {job.household_id: outcomes[job.delivery_id] for job in jobs}
    assert by_household[blocked_household].kind == PERMANENT
    assert by_household[blocked_household].reason == REASON_NOT_LINKED
    assert by_household[households[1][0]].kind == SENT
    assert fake_line.state.calls["multicast"] == 1


async def test_multicast_to_a_blocked_user_is_200_and_delivers_nothing(line_tenant, fake_line):
    # Documented LINE behaviour the design relies on: sends cannot reveal blocks.
    households = await linked_households(line_tenant, fake_line, 2)
    fake_line.block(households[0][1][0])
    notice_id = await make_notice(line_tenant)
    sender = LineChannelSender()
    try:
        outcomes = await sender.send(await line_jobs(line_tenant, notice_id))
    finally:
        await sender.close()
    assert {o.kind for o in outcomes} == {SENT}
    assert fake_line.messages_for(households[0][1][0]) == []
    assert (households[0][1][0], "blocked") in fake_line.state.dropped


async def test_monthly_limit_is_a_permanent_failure_officers_can_read(line_tenant, fake_line):
    await linked_households(line_tenant, fake_line, 3)
    fake_line.set_quota(limit=200, used=199)
    notice_id = await make_notice(line_tenant)
    sender = LineChannelSender()
    try:
        outcomes = await sender.send(await line_jobs(line_tenant, notice_id))
    finally:
        await sender.close()
    assert {(o.kind, o.reason) for o in outcomes} == {(PERMANENT, REASON_QUOTA)}


async def test_two_users_in_one_household_both_receive(line_tenant, fake_line):
    households = await linked_households(line_tenant, fake_line, 1, users_each=2)
    notice_id = await make_notice(line_tenant)
    sender = LineChannelSender()
    try:
        outcomes = await sender.send(await line_jobs(line_tenant, notice_id))
    finally:
        await sender.close()
    assert [o.kind for o in outcomes] == [SENT]
    assert [len(fake_line.messages_for(user)) for user in households[0][1]] == [1, 1]
    assert fake_line.state.usage == 2


def test_the_prepared_body_is_what_the_sdk_would_send():
    """The multicast body built from the notice's message serialised once equals the SDK's own
    ``MulticastRequest.to_dict()`` for the same ids and message."""
    from linebot.v3.messaging import Message, MulticastRequest

    from chonaikai.line import messages
    from chonaikai.line.api import PreparedMessages, _PreparedMulticast

    flex = messages.notice_message("LINE町内会", 7, "断水のお知らせ", "明日9時から12時まで断水します。\n水をためておいてください。",
                                   urgent=True, needs_confirmation=True)
    ids = ["U" + f"{i:032x}" for i in range(500)]
    ours = _PreparedMulticast.of(ids, PreparedMessages([flex])).to_dict()
    sdk = MulticastRequest(to=ids, messages=[Message.from_dict(flex)]).to_dict()
    assert ours == {**sdk, "notificationDisabled": False}
    assert ours["messages"][0]["altText"] == "【LINE町内会】【至急】断水のお知らせ"


async def test_one_batch_of_several_calls_sends_them_in_parallel_each_once(line_tenant, fake_line):
    households = await linked_households(line_tenant, fake_line, 1600)
    notice_id = await make_notice(line_tenant)
    jobs = await line_jobs(line_tenant, notice_id)
    assert len(jobs) <= LineChannelSender.batch_size  # one batch, as one claim hands it over
    # Every call is accepted and answered after 0.3 s (a 200 after the delay): only calls that
    # are really in flight together are counted together by the fake.
    fake_line.fail_next("multicast", status=200, delay=0.3, accept=True, times=4)
    sender = LineChannelSender()
    try:
        outcomes = await sender.send(jobs)
    finally:
        await sender.close()
    assert {o.kind for o in outcomes} == {SENT}
    assert fake_line.state.calls["multicast"] == 4
    assert fake_line.state.max_in_flight == 4
    assert all(len(fake_line.messages_for(users[0])) == 1 for _, users in households)
    keys = [row["retry_key"] for row in await line_tenant.select(Delivery, Delivery.retry_key).where(Delivery.notice == notice_id)]
    assert None not in keys and sorted(keys.count(k) for k in set(keys)) == [100, 500, 500, 500]
