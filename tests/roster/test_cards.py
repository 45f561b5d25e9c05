"""Printed sign-in cards: QR address and short code, stored hashed, valid 30 days until replaced,
rate-limited, giving the household member access to their own page only."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from chonaikai.accounts.principal import Principal
from chonaikai.accounts.roles import Role
from chonaikai.accounts.signin import hash_secret
from chonaikai.accounts.tables import AuditEntry, SignInToken
from chonaikai.roster import cards
from chonaikai.roster.tables import Household
from tests.auth import csrf_headers, sign_in_as

OFFICER = Principal(account_id=None)


async def print_card(client, household_id: int) -> tuple[str, str]:
    page = await client.post(f"/a/sakura/roster/{household_id}/card", headers=await csrf_headers(client))
    assert page.status_code == 200, page.text
    assert "<svg" in page.text and "no-store" in page.headers["cache-control"]
    secret = re.search(r"/card/([A-Za-z0-9_\-]+)", page.text).group(1)
    code = re.search(r'class="card-code">([A-Z0-9]{5}-[A-Z0-9]{5})<', page.text).group(1)
    return secret, code


async def test_officer_prints_a_card_and_the_member_signs_in_with_the_qr(client, tenant, roster):
    await sign_in_as(client, "kaicho@example.jp", Role.CHAIR, tenant)
    hid = roster["hanako"]["id"]
    secret, code = await print_card(client, hid)
    # Only hashes are stored, both with purpose "card" and the household.
    stored = await SignInToken.select().where(SignInToken.household == hid)
    assert len(stored) == 2 and {row["purpose"] for row in stored} == {"card"}
    assert hash_secret(secret) in {row["secret_hash"] for row in stored}
    assert not any(code.replace("-", "") in row["secret_hash"] for row in stored)
    assert all(row["expires_at"] - datetime.now(UTC) > timedelta(days=29) for row in stored)

    await client.post("/signout", headers=await csrf_headers(client))
    confirm = await client.get(f"/card/{secret}")
    assert confirm.status_code == 200 and "ログインする" in confirm.text
    used = await client.post(f"/card/{secret}", headers=await csrf_headers(client))
    assert used.status_code == 303 and used.headers["location"] == "/a/sakura/my"
    my = await client.get("/a/sakura/my")
    assert my.status_code == 200 and "仮野 花子" in my.text
    # A card gives the household's own page, not the roster.
    assert (await client.get("/a/sakura/roster")).status_code == 403
    assert await AuditEntry.count().where(AuditEntry.action == "card.signin") == 1


async def test_short_code_signs_in_typed_loosely(client, tenant, roster):
    await sign_in_as(client, "kaicho@example.jp", Role.CHAIR, tenant)
    hid = roster["hanako"]["id"]
    _, code = await print_card(client, hid)
    await client.post("/signout", headers=await csrf_headers(client))
    typed = " " + code.lower().replace("-", " ") + " "
    response = await client.post("/card", data={"code": typed}, headers=await csrf_headers(client))
    assert response.status_code == 303 and response.headers["location"] == "/a/sakura/my"
    # Usable again (a card on the fridge works next month too), until replaced.
    await client.post("/signout", headers=await csrf_headers(client))
    again = await client.post("/card", data={"code": code}, headers=await csrf_headers(client))
    assert again.status_code == 303


async def test_a_new_card_replaces_the_old_one(tenant, roster):
    hid = roster["hanako"]["id"]
    first = await cards.issue_card(tenant, OFFICER, hid)
    assert await cards.household_for_code(first.code) == (hid, tenant.id)
    second = await cards.issue_card(tenant, OFFICER, hid)
    assert await cards.household_for_code(first.code) is None
    assert await cards.household_for_secret(first.secret) is None
    assert await cards.household_for_secret(second.secret) == (hid, tenant.id)


async def test_expired_or_moved_out_card_is_refused(client, tenant, roster):
    hid = roster["hanako"]["id"]
    card = await cards.issue_card(tenant, OFFICER, hid)
    await SignInToken.update({SignInToken.expires_at: datetime.now(UTC) - timedelta(seconds=1)}, force=True)
    assert (await client.get(f"/card/{card.secret}")).status_code == 410
    refused = await client.post(f"/card/{card.secret}", headers=await csrf_headers(client))
    assert refused.status_code == 410 and "使えません" in refused.text
    card = await cards.issue_card(tenant, OFFICER, hid)
    await tenant.update(Household, {Household.moved_out: True}).where(Household.id == hid)
    assert await cards.household_for_code(card.code) is None
    assert (await client.post("/card", data={"code": card.code}, headers=await csrf_headers(client))).status_code == 400


async def test_wrong_codes_slow_the_address_down_and_the_right_code_still_gets_in(client, tenant, roster, monkeypatch):
    import time

    monkeypatch.setattr(cards, "SLOW_DOWN_SECONDS", 0.5)
    card = await cards.issue_card(tenant, OFFICER, roster["hanako"]["id"])
    headers = await csrf_headers(client)
    for _ in range(cards.ATTEMPTS_PER_CLIENT):
        wrong = await client.post("/card", data={"code": "AAAAA-AAAAA"}, headers=headers)
        assert wrong.status_code == 400 and "このコードは使えません" in wrong.text
    started = time.monotonic()
    slowed = await client.post("/card", data={"code": "AAAAA-AAAAC"}, headers=headers)
    assert slowed.status_code == 400 and time.monotonic() - started >= 0.5  # slowed down, not refused
    # (issue 14: a 429 here locked out everyone behind a shared address, owners of valid cards too)
    assert (await client.post("/card", data={"code": card.code}, headers=headers)).status_code == 303
    assert (await client.post(f"/card/{card.secret}", headers=headers)).status_code == 303


async def test_code_alphabet_has_no_lookalikes():
    for _ in range(200):
        code = cards.new_code()
        assert len(code) == 10 and not set(code) & set("0O1IL2Z5S6G8B")
    assert cards.format_code("ACDEFHJKMN") == "ACDEF-HJKMN"
    assert cards.format_code("ACDEFHJK") == "ACDE-FHJK"  # cards printed before
    assert cards.normalize_code("ａｃｄｅｆ－ｈｊｋｍｎ") == "ACDEFHJKMN"


async def test_a_card_printed_before_codes_had_an_id_part_still_works(client, tenant, roster):
    from chonaikai.roster.cards import CARD_LIFETIME, hash_code

    hid = roster["hanako"]["id"]
    now = datetime.now(UTC)
    await SignInToken.insert(SignInToken(secret_hash=hash_code("ACDEFHJK"), purpose="card", household=hid,
                                         expires_at=now + CARD_LIFETIME, created_at=now))
    assert await cards.household_for_code("acde-fhjk") == (hid, tenant.id)


async def test_han_leader_prints_cards_only_for_their_han(client, tenant, roster):
    from tests.roster.conftest import han_id

    await sign_in_as(client, "hancho@example.jp", Role.HAN_LEADER, tenant, han_id=await han_id(tenant, "2班"))
    headers = await csrf_headers(client)
    assert (await client.post(f"/a/sakura/roster/{roster['hanako']['id']}/card", headers=headers)).status_code == 404
    assert (await client.post(f"/a/sakura/roster/{roster['ichiro']['id']}/card", headers=headers)).status_code == 200
