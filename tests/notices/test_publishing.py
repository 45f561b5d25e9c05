"""The one publishing service (chonaikai.notices.publishing): the posting form, the JSON API,
the worker's scheduled notices and the city's circulars all publish through it, so a rule
added to it applies to each path — one test per path, with a rule added for the test."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chonaikai.accounts.api_tokens import create_token
from chonaikai.circulars import logic as circulars
from chonaikai.circulars.logic import CircularError, CircularInput, EntryError
from chonaikai.circulars.tables import Circular, CircularEntry
from chonaikai.delivery.tables import Delivery
from chonaikai.notices import logic, publishing
from chonaikai.notices.tables import Notice
from tests.auth import csrf_headers
from tests.circulars.helpers import make_city_associations
from tests.delivery.helpers import Clock, make_notice
from tests.factories import make_household
from tests.notices.helpers import sign_in_officer

FORBIDDEN = "テスト禁止語"


def no_forbidden_word(values) -> dict[str, str]:
    if FORBIDDEN in (values.title or "") + (values.body or ""):
        return {"title": f"「{FORBIDDEN}」は使えません。"}
    return {}


@pytest.fixture
def extra_rule():
    publishing.RULES.append(no_forbidden_word)
    yield
    publishing.RULES.remove(no_forbidden_word)


def bearer(secret: str) -> dict[str, str]:
    return {"authorization": f"Bearer {secret}"}


async def test_form_publish_applies_a_rule_of_the_service(client, tenant, extra_rule):
    await make_household(tenant, "山田", channel="paper")
    await sign_in_officer(client, tenant)
    form = {"title": f"お知らせ{FORBIDDEN}", "body": "本文", "category": "行事", "audience": "all",
            "visibility": "members", "action": "publish"}
    response = await client.post("/a/sakura/notices/new", data=form, headers=await csrf_headers(client))
    assert response.status_code == 400 and f"「{FORBIDDEN}」は使えません。" in response.text
    assert await Notice.count() == 0 and await Delivery.count() == 0


async def test_form_state_publish_applies_a_rule_of_the_service(client, tenant, extra_rule):
    notice_id = await make_notice(tenant, title=f"下書き{FORBIDDEN}", status="draft")
    await sign_in_officer(client, tenant)
    response = await client.post(
        f"/a/sakura/notices/{notice_id}/state", data={"action": "publish"}, headers=await csrf_headers(client)
    )
    assert response.status_code == 409 and f"「{FORBIDDEN}」は使えません。" in response.text
    assert (await Notice.select(Notice.status).first())["status"] == "draft"


async def test_api_publish_applies_a_rule_of_the_service(client, tenant, extra_rule):
    token = (await create_token(role="editor", association_slug="sakura")).secret
    response = await client.post(
        "/api/v1/associations/sakura/notices",
        json={"title": f"API{FORBIDDEN}", "body": "x", "publish": True},
        headers=bearer(token),
    )
    assert response.status_code == 422, response.text
    assert response.json()["extra"] == [{"key": "title", "message": f"「{FORBIDDEN}」は使えません。"}]
    assert await Notice.count() == 0


async def test_api_publish_of_an_unfinished_ready_text_is_refused_with_422_naming_the_field(client, tenant):
    await make_household(tenant, "山田", channel="paper")
    token = (await create_token(role="editor", association_slug="sakura")).secret
    response = await client.post(
        "/api/v1/associations/sakura/notices",
        json={"title": "一斉清掃のお知らせ", "body": "日時：【日時】\n場所：公園", "publish": True},
        headers=bearer(token),
    )
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["extra"][0]["key"] == "body" and "【日時】 がまだ書きかえられていません" in body["extra"][0]["message"]
    assert "【日時】" in body["detail"]
    assert await Notice.count() == 0 and await Delivery.count() == 0  # nothing saved, nothing sent
    # The same text as a draft is fine (filled in later on the page).
    response = await client.post(
        "/api/v1/associations/sakura/notices",
        json={"title": "一斉清掃のお知らせ", "body": "日時：【日時】"},
        headers=bearer(token),
    )
    assert response.status_code == 201 and response.json()["status"] == "draft"


async def test_scheduled_publish_applies_a_rule_of_the_service(tenant, extra_rule):
    clock = Clock()
    notice_id = await make_notice(
        tenant, title=f"予約{FORBIDDEN}", status="scheduled", publish_at=clock.now - timedelta(minutes=1)
    )
    assert await logic.publish_due_notices(clock.now) == []
    assert (await Notice.select(Notice.status).where(Notice.id == notice_id).first())["status"] == "scheduled"
    assert await Delivery.count() == 0


async def test_city_circular_sent_automatically_applies_a_rule_of_the_service(city, extra_rule):
    await make_city_associations(city)
    circular_id = await circulars.create_circular(
        city["id"], CircularInput(title=f"回覧{FORBIDDEN}", summary="内容", publish=False)
    )
    with pytest.raises(CircularError) as refused:
        await circulars.send_circular(circular_id)
    assert refused.value.japanese == [f"「{FORBIDDEN}」は使えません。"]
    # Nothing happened: not sent, no inbox entry, no notice, no delivery.
    assert (await Circular.select(Circular.status).first())["status"] != "sent"
    assert await CircularEntry.count() == 0 and await Notice.count() == 0 and await Delivery.count() == 0


async def test_city_circular_forwarded_by_an_association_applies_a_rule_of_the_service(city):
    _, east_review, _ = await make_city_associations(city)
    await circulars.create_circular(city["id"], CircularInput(title="回覧", summary="内容"))
    entry = await CircularEntry.select().where(CircularEntry.association == east_review.id).first()
    publishing.RULES.append(no_forbidden_word)
    try:
        with pytest.raises(EntryError, match="は使えません"):
            await circulars.forward_entry(east_review, entry["id"], cover_note=FORBIDDEN)
    finally:
        publishing.RULES.remove(no_forbidden_word)
    assert (await CircularEntry.select(CircularEntry.state).where(CircularEntry.id == entry["id"]).first())["state"] == "pending"
    assert await east_review.count(Notice) == 0
