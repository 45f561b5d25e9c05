"""Every roster route tried as each role, as an officer of another association, as city staff
and as a stranger: allowed roles get the page, everyone else 403 (or the sign-in page), and no
personal data appears in a refusal."""

from __future__ import annotations

import pytest

from chonaikai.accounts.roles import ASSOCIATION_MATRIX, Permission, Role
from chonaikai.app import CSRF_HEADER
from tests.auth import csrf_headers, make_account, sign_in, sign_in_as
from tests.roster.conftest import han_id

SECRET_WORDS = ("見本 太郎", "taro@example.jp", "024-000-0001", "例田", "仮野")


def routes(household_id: int) -> list[tuple[str, str, Permission, dict | None]]:
    base = "/a/sakura"
    h = f"{base}/roster/{household_id}"
    return [
        ("GET", f"{base}/roster", Permission.ROSTER_VIEW, None),
        ("GET", f"{base}/roster?q=ミホン", Permission.ROSTER_VIEW, None),
        ("GET", h, Permission.ROSTER_VIEW, None),
        ("GET", f"{base}/roster/new", Permission.ROSTER_EDIT, None),
        ("POST", f"{base}/roster/new", Permission.ROSTER_EDIT, {"name": "新規 世帯", "channel": "paper"}),
        ("POST", h, Permission.ROSTER_EDIT, {"name": "見本 太郎", "kana": "ミホン タロウ", "channel": "paper"}),
        ("POST", f"{h}/members", Permission.ROSTER_EDIT, {"name": "見本 次郎"}),
        ("POST", f"{h}/moved-out", Permission.ROSTER_EDIT, {"moved_out": "0"}),
        ("POST", f"{h}/erase", Permission.ROSTER_ERASE, {}),
        ("GET", f"{h}/card", Permission.SIGNIN_CARD_ISSUE, None),
        ("POST", f"{h}/card", Permission.SIGNIN_CARD_ISSUE, {}),
        ("GET", f"{base}/roster/export.csv", Permission.ROSTER_EXPORT, None),
        ("GET", f"{base}/roster/import", Permission.ROSTER_IMPORT, None),
        ("GET", f"{base}/roster/sample.csv", Permission.ROSTER_IMPORT, None),
        ("POST", f"{base}/roster/import/confirm", Permission.ROSTER_IMPORT, {"payload": "!"}),
        ("GET", f"{base}/audit", Permission.AUDIT_VIEW, None),
        ("GET", f"{base}/my", Permission.OWN_HOUSEHOLD, None),
        ("GET", f"{base}/my/data.json", Permission.OWN_HOUSEHOLD, None),
        ("POST", f"{base}/my", Permission.OWN_HOUSEHOLD, {"channel": "paper"}),
    ]


async def call(client, method: str, path: str, data: dict | None):
    if method == "GET":
        return await client.get(path)
    headers = await csrf_headers(client)
    if path.endswith("/import/confirm"):
        return await client.post(path, files={"payload": (None, data["payload"])}, headers=headers)
    return await client.post(path, data=data, headers=headers)


async def sign_in_role(client, tenant, role: Role, roster) -> None:
    kw = {}
    if role == Role.HAN_LEADER:
        kw["han_id"] = await han_id(tenant, "1班")  # the household tried below is in 1班
    if role == Role.MEMBER:
        kw["household_id"] = roster["taro"]["id"]
    await sign_in_as(client, f"{role}@example.jp", role, tenant, **kw)


@pytest.mark.parametrize("role", [r for r in Role if r != Role.CITY_STAFF])
async def test_each_role_gets_exactly_what_the_matrix_allows(client, tenant, roster, role):
    await sign_in_role(client, tenant, role, roster)
    for method, path, permission, data in routes(roster["taro"]["id"]):
        response = await call(client, method, path, data)
        allowed = role in ASSOCIATION_MATRIX[permission]
        if allowed:
            assert response.status_code in (200, 303, 400), (role, method, path, response.status_code)
        else:
            assert response.status_code == 403, (role, method, path, response.status_code)
            if permission != Permission.OWN_HOUSEHOLD:
                assert not any(word in response.text for word in SECRET_WORDS), (role, path)


async def test_officer_of_another_association_gets_nothing(client, tenant, roster, other):
    await sign_in_as(client, "kawa-chair@example.jp", Role.CHAIR, other)
    for method, path, _, data in routes(roster["taro"]["id"]):
        response = await call(client, method, path, data)
        assert response.status_code == 403, (method, path)
        assert not any(word in response.text for word in SECRET_WORDS)
    # And their own roster never shows this association's households.
    own = await client.get("/a/kawa/roster")
    assert own.status_code == 200 and "川端 秘密" in own.text
    assert not any(word in own.text for word in SECRET_WORDS)
    # A household id of another association is not found through their own association either.
    response = await client.get(f"/a/kawa/roster/{roster['taro']['id']}")
    assert response.status_code == 404 and "見本" not in response.text


async def test_city_staff_never_see_personal_data(client, city, tenant, roster):
    await sign_in_as(client, "city@example.jp", Role.CITY_STAFF, city_id=city["id"])
    for method, path, _, data in routes(roster["taro"]["id"]):
        response = await call(client, method, path, data)
        assert response.status_code == 403, (method, path)
        assert not any(word in response.text for word in SECRET_WORDS)


async def test_strangers_are_sent_to_sign_in(client, tenant, roster):
    for method, path, _, data in routes(roster["taro"]["id"]):
        if method == "GET":
            response = await client.get(path)
            assert response.status_code == 303 and response.headers["location"].startswith("/signin"), path
        else:
            response = await call(client, method, path, data)
            assert response.status_code in (401, 303), path
        assert not any(word in response.text for word in SECRET_WORDS)
    api = await client.get("/a/sakura/roster", headers={"accept": "application/json"})
    assert api.status_code == 401


async def test_posts_without_csrf_are_refused(client, tenant, roster):
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    response = await client.post("/a/sakura/roster/new", data={"name": "x", "channel": "paper"})
    assert response.status_code == 403
    assert CSRF_HEADER  # the header name tests use elsewhere


async def test_public_homepage_shows_no_roster_data(client, tenant, roster):
    page = await client.get("/a/sakura/")
    assert page.status_code == 200
    assert not any(word in page.text for word in SECRET_WORDS)


async def test_member_without_household_grant_is_refused(client, tenant, roster):
    account_id = await make_account("loose@example.jp", Role.MEMBER, tenant)  # no household
    await sign_in(client, account_id)
    response = await client.get("/a/sakura/my")
    assert response.status_code == 403
