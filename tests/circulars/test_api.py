"""The JSON API for city systems: bearer tokens (made like the CLI makes them) and validation."""

from __future__ import annotations

from chonaikai.accounts.api_tokens import TokenError, create_token, revoke_token
from chonaikai.accounts.roles import Role
from chonaikai.accounts.tables import ApiToken
from chonaikai.circulars.tables import Circular, CircularEntry
from tests.auth import sign_in_as
from tests.circulars.helpers import make_city_associations, send
from tests.factories import make_city


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def city_token(city) -> str:
    return (await create_token(role="city_staff", city_slug=city["slug"])).secret


async def test_create_circular_with_a_city_token_then_read_its_status(client, city):
    await make_city_associations(city)
    secret = await city_token(city)
    response = await client.post(
        f"/api/v1/cities/{city['slug']}/circulars",
        json={"title": "健診のお知らせ", "summary": "6月に集団健診があります。", "target": {"districts": ["東部地区"]},
              "publish": True},
        headers=bearer(secret),
    )
    assert response.status_code == 201, response.text
    circular_id = response.json()["id"]
    assert (await Circular.select(Circular.status).where(Circular.id == circular_id).first())["status"] == "sent"
    status = await client.get(f"/api/v1/circulars/{circular_id}/status", headers=bearer(secret))
    assert status.status_code == 200
    data = status.json()
    assert data["counts"]["targeted"] == 2 and data["counts"]["forwarded"] == 1 and data["counts"]["pending"] == 1
    states = {row["slug"]: row["state"] for row in data["associations"]}
    assert states == {"east-auto": "forwarded", "east-review": "pending"}
    east_auto = next(row for row in data["associations"] if row["slug"] == "east-auto")
    assert east_auto["households"] == 3  # paper households, delivered by the outbox
    assert set(east_auto) >= {"opened_at", "forwarded_at", "declined_at", "decline_reason", "reached", "confirmed"}
    token = await ApiToken.select(ApiToken.last_used_at, ApiToken.secret_hash).first()
    assert token["last_used_at"] is not None and secret not in token["secret_hash"]


async def test_target_by_association_list_and_draft(client, city):
    await make_city_associations(city)
    secret = await city_token(city)
    response = await client.post(
        f"/api/v1/cities/{city['slug']}/circulars",
        json={"title": "t", "summary": "s", "target": {"associations": ["west-review"]}, "publish": False},
        headers=bearer(secret),
    )
    assert response.status_code == 201 and response.json()["status"] == "draft"
    assert await CircularEntry.count() == 0  # a draft sends nothing


async def test_validation_errors_are_400_in_japanese_and_english(client, city):
    await make_city_associations(city)
    secret = await city_token(city)
    url = f"/api/v1/cities/{city['slug']}/circulars"
    cases = [
        ({"summary": "s"}, "title"),
        ({"title": "t", "summary": "s", "target": "everyone"}, "target"),
        ({"title": "t", "summary": "s", "target": {"districts": ["北部地区"]}}, "unknown districts"),
        ({"title": "t", "summary": "s", "target": {"associations": ["nowhere"]}}, "unknown associations"),
        ({"title": "t", "summary": "s", "publish": "yes"}, "publish"),
        ({"title": "", "summary": "s"}, "title is required"),
        ({"title": "t", "summary": "s", "publish_at": "2030-01-01T09:00"}, "publish_at"),
    ]
    for body, english in cases:
        response = await client.post(url, json=body, headers=bearer(secret))
        assert response.status_code == 400, (body, response.text)
        errors = response.json()["errors"]
        assert any(english in e["en"] for e in errors), errors
        assert all(e["ja"] and not e["ja"].isascii() for e in errors)
    broken = await client.post(url, content=b"{not json", headers={**bearer(secret), "content-type": "application/json"})
    assert broken.status_code == 400 and broken.json()["errors"][0]["en"] == "the body is not valid JSON"
    assert await Circular.count() == 0


async def test_tokens_are_checked(client, city):
    await make_city_associations(city)
    circular_id = await send(city)
    url = f"/api/v1/circulars/{circular_id}/status"
    assert (await client.get(url)).status_code == 401
    assert (await client.get(url, headers=bearer("ckt_not-a-real-token"))).status_code == 401
    assert (await client.get(url, headers={"Authorization": "Basic abc"})).status_code == 401
    # Another city's token: refused, for reading and for sending.
    other = await make_city(slug="othercity", name="他市", code="012025")
    other_secret = await city_token(other)
    assert (await client.get(url, headers=bearer(other_secret))).status_code == 403
    created = await client.post(
        f"/api/v1/cities/{city['slug']}/circulars", json={"title": "t", "summary": "s"}, headers=bearer(other_secret)
    )
    assert created.status_code == 403
    # An association chair's token cannot use the city API.
    chair = await create_token(role="chair", association_slug="east-review")
    assert (await client.get(url, headers=bearer(chair.secret))).status_code == 403
    # A revoked token stops working at once.
    created = await create_token(role="city_staff", city_slug=city["slug"])
    assert (await client.get(url, headers=bearer(created.secret))).status_code == 200
    await revoke_token(created.id)
    assert (await client.get(url, headers=bearer(created.secret))).status_code == 401
    assert (await client.get("/api/v1/circulars/999999/status", headers=bearer(other_secret))).status_code == 404


async def test_a_browser_session_is_not_enough_for_the_api(client, city):
    await make_city_associations(city)
    circular_id = await send(city)
    await sign_in_as(client, "staff@city.example", Role.CITY_STAFF, city_id=city["id"])
    assert (await client.get(f"/api/v1/circulars/{circular_id}/status")).status_code == 401
    response = await client.post(f"/api/v1/cities/{city['slug']}/circulars", json={"title": "t", "summary": "s"})
    assert response.status_code == 401
    assert await Circular.count() == 1


async def test_token_rules():
    city = await make_city()
    for kwargs in (
        {"role": "chair", "city_slug": city["slug"]},
        {"role": "city_staff", "association_slug": "nowhere"},
        {"role": "member", "city_slug": city["slug"]},
        {"role": "wizard", "city_slug": city["slug"]},
        {"role": "city_staff"},
    ):
        try:
            await create_token(**kwargs)
        except TokenError:
            continue
        raise AssertionError(f"accepted {kwargs}")
    assert await ApiToken.count() == 0


async def test_token_command_prints_the_secret_once(city):
    """The real command in its own process: the secret is printed, only its hash is stored."""
    import os
    import subprocess
    import sys

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "chonaikai", *args], capture_output=True, text=True,
                              env={**os.environ}, timeout=60)

    made = run("token", "create", "--city", city["slug"], "--role", "city_staff", "--label", "文書管理システム")
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip().splitlines()[-1]
    assert secret.startswith("ckt_")
    row = await ApiToken.select().first()
    assert row["city"] == city["id"] and row["role"] == "city_staff" and secret not in row["secret_hash"]
    refused = run("token", "create", "--city", "nowhere", "--role", "city_staff")
    assert refused.returncode == 2 and "no city" in refused.stderr
    assert await ApiToken.count() == 1


async def test_pages_ignore_other_authorization_schemes(client, city):
    """A Basic header (a proxy in front of a staging site) neither signs in nor breaks pages."""
    await make_city_associations(city)
    basic = {"Authorization": "Basic dXNlcjpwYXNz"}
    assert (await client.get(f"/c/{city['slug']}/circulars/", headers=basic)).status_code in (303, 401)
    await sign_in_as(client, "staff@city.example", Role.CITY_STAFF, city_id=city["id"])
    assert (await client.get(f"/c/{city['slug']}/circulars/", headers=basic)).status_code == 200
