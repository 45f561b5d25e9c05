"""Nobody can lock a member out of sign-in (issue 14, Medium). Guessing a card code stays
infeasible because each code dies after a few wrong tries against it (docs/roles.md has the
arithmetic); addresses that try many codes are slowed down, never refused; the sign-in form
limits the mails sent to an address, not the requests accepted, and always answers the same."""

from __future__ import annotations

import re
import secrets
import time

import httpx

from chonaikai.accounts.principal import Principal
from chonaikai.roster import cards
from tests.auth import csrf_headers, make_account
from tests.factories import make_household
from tests.mailsink import text_of

OFFICER = Principal(account_id=None)


def wrong_code() -> str:
    return "".join(secrets.choice(cards.CODE_ALPHABET) for _ in range(cards.CODE_LENGTH))


def from_address(asgi_app, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=asgi_app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def type_code(client: httpx.AsyncClient, code: str) -> httpx.Response:
    return await client.post("/card", data={"code": code}, headers=await csrf_headers(client))


async def test_a_valid_code_is_accepted_right_after_500_wrong_guesses_from_other_addresses(asgi_app, tenant):
    household = await make_household(tenant, "山田", han="1班", channel="paper")
    card = await cards.issue_card(tenant, OFFICER, household["id"])
    for number in range(50):
        async with from_address(asgi_app, f"198.51.100.{number}") as guesser:
            for _ in range(10):
                assert (await type_code(guesser, wrong_code())).status_code == 400
    async with from_address(asgi_app, "203.0.113.7") as owner:
        started = time.monotonic()
        answer = await type_code(owner, cards.format_code(card.code))
        assert answer.status_code == 303 and answer.headers["location"] == "/a/sakura/my"
        assert time.monotonic() - started < 10  # slowed down at most, never refused
        async with from_address(asgi_app, "203.0.113.8") as qr:
            assert (await qr.post(f"/card/{card.secret}", headers=await csrf_headers(qr))).status_code == 303


async def test_a_valid_code_is_accepted_after_10_wrong_ones_from_the_same_address(asgi_app, tenant):
    household = await make_household(tenant, "山田", han="1班", channel="paper")
    card = await cards.issue_card(tenant, OFFICER, household["id"])
    async with from_address(asgi_app, "192.0.2.10") as shared:  # a carrier's shared address
        for _ in range(10):
            wrong = await type_code(shared, wrong_code())
            assert wrong.status_code == 400 and "このコードは使えません" in wrong.text
        answer = await type_code(shared, card.code.lower())
        assert answer.status_code == 303
        assert (await shared.post(f"/card/{card.secret}", headers=await csrf_headers(shared))).status_code == 303


async def test_a_code_dies_after_a_few_wrong_tries_against_it_and_the_qr_still_works(asgi_app, tenant):
    household = await make_household(tenant, "山田", han="1班", channel="paper")
    card = await cards.issue_card(tenant, OFFICER, household["id"])
    card_id = card.code[: cards.CODE_ID_LENGTH]
    async with from_address(asgi_app, "192.0.2.20") as guesser:
        for _ in range(cards.WRONG_TRIES_PER_CODE):
            guess = card_id + wrong_code()[cards.CODE_ID_LENGTH:]
            if guess != card.code:
                assert (await type_code(guesser, guess)).status_code == 400
        # the right code no longer signs in: guessing against this card has ended
        assert (await type_code(guesser, card.code)).status_code == 400
    async with from_address(asgi_app, "203.0.113.9") as owner:
        assert (await owner.post(f"/card/{card.secret}", headers=await csrf_headers(owner))).status_code == 303
    fresh = await cards.issue_card(tenant, OFFICER, household["id"])
    async with from_address(asgi_app, "203.0.113.10") as owner:
        assert (await type_code(owner, fresh.code)).status_code == 303


async def test_the_code_space_makes_guessing_infeasible():
    assert cards.CODE_LENGTH == 10 and cards.CODE_ID_LENGTH == 5 and cards.WRONG_TRIES_PER_CODE <= 5
    # at most WRONG_TRIES_PER_CODE secrets tried per card, out of 22^5
    assert cards.WRONG_TRIES_PER_CODE / len(cards.CODE_ALPHABET) ** (cards.CODE_LENGTH - cards.CODE_ID_LENGTH) < 1e-6


LINK = re.compile(r"http://testserver(/signin/[A-Za-z0-9_-]+)")
CSRF = re.compile(r'(value="|"x-chonaikai-csrf": ?"|&#34;x-chonaikai-csrf&#34;: ?&#34;)[^"&]+')


async def test_a_victims_sign_in_mail_still_arrives_after_others_asked_for_it(asgi_app, tenant, mail_sink):
    await make_account("victim@example.jp")
    answers = []
    for number in range(6):
        async with from_address(asgi_app, f"198.51.100.{number}") as other:
            answers.append(await other.post("/signin", data={"email": "victim@example.jp"}, headers=await csrf_headers(other)))
    async with from_address(asgi_app, "203.0.113.50") as victim:
        mine = await victim.post("/signin", data={"email": "victim@example.jp"}, headers=await csrf_headers(victim))
        assert {answer.status_code for answer in [*answers, mine]} == {200}
        # the same answer every time (apart from each browser's own CSRF token)
        assert len({CSRF.sub("", answer.text) for answer in [*answers, mine]}) == 1
        received = mail_sink.to("victim@example.jp")
        assert 1 <= len(received) <= 2  # mails sent per address are limited, not requests
        path = LINK.search(text_of(received[-1])).group(1)
        signed_in = await victim.post(path, headers=await csrf_headers(victim))
        assert signed_in.status_code == 303
