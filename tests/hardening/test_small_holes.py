"""Small holes from issue 14 (Low): each answered 500 or a silent wrong answer before."""

from __future__ import annotations

from tests.delivery.helpers import make_notice


async def test_a_huge_page_number_on_the_board_is_not_found(client, tenant):
    await make_notice(tenant, "公園の清掃", visibility="public")
    for page in ("99999999999999999999", "9223372036854775808", "2147483648", "0", "-1"):
        response = await client.get(f"/a/sakura/notices/?page={page}", headers={"accept": "text/html"})
        assert response.status_code in (400, 404), (page, response.status_code)
    assert (await client.get("/a/sakura/notices/?page=1")).status_code == 200


async def test_head_answers_like_get_without_a_body(client, tenant):
    for path in ("/", "/a/sakura/", "/healthz"):
        get = await client.get(path)
        head = await client.head(path)
        assert head.status_code == get.status_code == 200, path
        assert head.content == b"" and head.headers["content-type"] == get.headers["content-type"]


async def test_head_of_a_read_link_records_nothing(client, tenant):
    from chonaikai.delivery.outbox import create_deliveries
    from chonaikai.delivery.tables import Delivery
    from tests.factories import make_household

    await make_household(tenant, "山田", han="1班", channel="email", email="y@example.jp")
    notice = await make_notice(tenant, "回覧")
    await create_deliveries(notice)
    token = (await Delivery.select(Delivery.token).first())["token"]
    assert (await client.head(f"/r/{token}")).status_code == 405  # a link checker opens nothing
    assert (await Delivery.select(Delivery.opened_at).first())["opened_at"] is None


async def test_production_answers_carry_hsts(settings, tenant):
    import dataclasses

    import httpx

    from chonaikai.app import create_app, create_asgi_app

    production = dataclasses.replace(settings, env="production", secret_key="x" * 40)
    app = create_asgi_app(production, create_app(production))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver") as browser:
        response = await browser.get("/")
        assert response.status_code == 200
        assert response.headers["strict-transport-security"].startswith("max-age=")
        assert int(response.headers["strict-transport-security"].split("=")[1].split(";")[0]) >= 31536000
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_asgi_app(settings)), base_url="http://testserver") as dev:
        assert "strict-transport-security" not in (await dev.get("/")).headers  # not on plain-http dev and test
