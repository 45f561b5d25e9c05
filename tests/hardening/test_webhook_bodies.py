"""LINE webhook bodies that are correctly signed but malformed (issue 14, Low): an unparseable
body answers 400; an event the app cannot use is skipped and logged (200); never a 500."""

from __future__ import annotations

import json

import pytest

from chonaikai.devtools.fake_line_server import sign
from chonaikai.line.tables import LineWebhookEvent
from tests.line.conftest import CHANNEL_ID, SECRET

URL = f"/line/webhook/{CHANNEL_ID}"


async def post_signed(client, body: bytes):
    return await client.post(URL, content=body, headers={"Content-Type": "application/json",
                                                         "X-Line-Signature": sign(body, SECRET)})


@pytest.mark.parametrize("body", [b"", b"not json", b"null", b"[]", b'"text"', b"{", b"{}", b'{"events": "x"}',
                                  b"\xff\xfe"])
async def test_an_unparseable_signed_body_is_400(client, line_tenant, fake_line, body):
    response = await post_signed(client, body)
    assert response.status_code == 400, (body, response.status_code, response.text)
    assert await LineWebhookEvent.count() == 0


def envelope(*events) -> bytes:
    return json.dumps({"destination": "U" + "0" * 32, "events": list(events)}).encode()


async def test_events_it_cannot_use_are_skipped_and_the_rest_handled(client, line_tenant, fake_line, caplog):
    user = fake_line.add_friend()
    good = fake_line.event("follow", user)
    no_type = {key: value for key, value in fake_line.event("follow", user).items() if key != "type"}
    no_id = {key: value for key, value in fake_line.event("follow", user).items() if key != "webhookEventId"}
    unknown = {**fake_line.event("follow", user), "type": "somethingNew"}
    wrong_kinds = {**fake_line.event("follow", user), "source": "U123"}
    response = await post_signed(client, envelope(no_type, no_id, unknown, 1, None, wrong_kinds, good))
    assert response.status_code == 200, response.text
    assert await LineWebhookEvent.count() >= 1  # the good one was handled
    assert fake_line.messages_for(user)  # and answered
    assert "skipped" in caplog.text or "スキップ" in caplog.text
