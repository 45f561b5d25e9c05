"""POST /api/v1/associations/{slug}/notices with bearer tokens: posted and delivered like the page."""

from chonaikai.accounts.api_tokens import create_token
from chonaikai.delivery.tables import Delivery
from chonaikai.notices.tables import Notice
from tests.factories import make_association, make_household


def bearer(secret: str) -> dict[str, str]:
    return {"authorization": f"Bearer {secret}"}


async def test_editor_token_posts_and_publishes_to_one_han(client, city, tenant):
    first = await make_household(tenant, "見本 太郎", han="1班", channel="paper")
    await make_household(tenant, "仮野 花子", han="2班", channel="paper")
    token = (await create_token(role="editor", association_slug="sakura")).secret
    response = await client.post(
        "/api/v1/associations/sakura/notices",
        json={"title": "班の集まり", "body": "1班の方へ", "audience": {"han": ["1班"]},
              "visibility": "members", "publish": True},
        headers=bearer(token),
    )
    assert response.status_code == 201, response.text
    notice_id = response.json()["id"]
    notice = await Notice.select().where(Notice.id == notice_id).first()
    assert notice["status"] == "published" and notice["audience"] == "han" and notice["author_title"] == "広報"
    households = [row["household"] for row in await Delivery.select(Delivery.household).where(Delivery.notice == notice_id)]
    assert households == [first["id"]]


async def test_draft_unless_publish_is_true(client, tenant):
    token = (await create_token(role="chair", association_slug="sakura")).secret
    response = await client.post("/api/v1/associations/sakura/notices", json={"title": "下書き"}, headers=bearer(token))
    assert response.status_code == 201 and response.json()["status"] == "draft"
    assert await Delivery.count() == 0


async def test_bad_input_is_refused_in_both_languages_and_nothing_is_created(client, tenant):
    token = (await create_token(role="editor", association_slug="sakura")).secret
    for body in ({"title": ""}, {"title": "x", "audience": {"han": ["9班"]}}, {"title": "x", "visibility": "secret"},
                 {"title": "x", "publish": "yes"}, ["not", "an", "object"]):
        response = await client.post("/api/v1/associations/sakura/notices", json=body, headers=bearer(token))
        assert response.status_code == 400, body
        assert "(" in response.json()["detail"]  # Japanese, then English in brackets
    assert await Notice.count() == 0


async def test_tokens_without_the_right_or_for_elsewhere_are_refused(client, city, tenant):
    await make_association(city, slug="kawa")
    treasurer = (await create_token(role="treasurer", association_slug="sakura")).secret
    other = (await create_token(role="chair", association_slug="kawa")).secret
    body = {"title": "x", "publish": True}
    assert (await client.post("/api/v1/associations/sakura/notices", json=body)).status_code == 401
    assert (await client.post("/api/v1/associations/sakura/notices", json=body, headers=bearer(treasurer))).status_code == 403
    assert (await client.post("/api/v1/associations/sakura/notices", json=body, headers=bearer(other))).status_code == 403
    assert await Notice.count() == 0
