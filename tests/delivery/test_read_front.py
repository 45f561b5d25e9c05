"""The read front (delivery/read_front.py): most visits of /r/{token} are answered from the page
every reader of the notice shares, with one lookup and without the framework — and nothing of one
household, nor a stale page, ever reaches another."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from chonaikai.delivery import readlink
from chonaikai.delivery.outbox import create_deliveries
from chonaikai.delivery.tables import Delivery
from chonaikai.roster.tables import Household
from tests.answers.helpers import publish_question
from tests.auth import csrf_headers, sign_in_as
from tests.delivery.helpers import make_notice
from tests.factories import make_household
from tests.test_page_cache import cached_app


async def _token(notice_id: int, household_id: int) -> str:
    row = await Delivery.select(Delivery.token).where(
        (Delivery.notice == notice_id) & (Delivery.household == household_id)
    ).first()
    return row["token"]


@pytest.fixture
def renders(monkeypatch):
    """How many visits reached the route (the framework) instead of the front."""
    calls: list[str] = []
    original = readlink.open_by_token

    async def counted(token, *args, **kwargs):
        calls.append(token)
        return await original(token, *args, **kwargs)

    monkeypatch.setattr(readlink, "open_by_token", counted)
    return calls


@pytest.fixture
def front_app(settings):
    readlink.shared_reads.clear()
    app, _ = cached_app(settings)  # read pages kept as in production
    yield app
    readlink.shared_reads.clear()


def _client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def _households(tenant, count: int) -> list[dict]:
    return [await make_household(tenant, f"世帯{n}", han="1班", channel="email", email=f"h{n}@example.jp")
            for n in range(count)]


async def test_the_next_readers_get_the_shared_page_with_their_own_token_and_csrf_cookie(front_app, tenant, renders):
    first, second, third = await _households(tenant, 3)
    notice = await make_notice(tenant, title="防災訓練のお知らせ", body="9時に小学校へ")
    await create_deliveries(notice)
    tokens = [await _token(notice, household["id"]) for household in (first, second, third)]
    async with _client(front_app) as one, _client(front_app) as two, _client(front_app) as three:
        rendered = await one.get(f"/r/{tokens[0]}")
        assert rendered.status_code == 200 and renders == [tokens[0]]  # the first visit renders
        fronted = await two.get(f"/r/{tokens[1]}", headers={"accept-encoding": "gzip"})
        assert renders == [tokens[0]]  # the second is answered by the front
        assert fronted.status_code == 200 and fronted.headers["content-encoding"] == "gzip"
        assert "防災訓練のお知らせ" in fronted.text
        assert f'action="/r/{tokens[1]}/confirm"' in fronted.text and tokens[0] not in fronted.text
        for header in ("referrer-policy", "x-robots-tag", "cache-control", "x-content-type-options"):
            assert fronted.headers[header] == rendered.headers[header]
        # The CSRF cookie as the framework's middleware sets it (same attributes), this reader's own.
        assert fronted.headers["set-cookie"].split(";", 1)[1] == rendered.headers["set-cookie"].split(";", 1)[1]
        csrf = two.cookies["chonaikai_csrf"]
        assert csrf != one.cookies["chonaikai_csrf"] and f'value="{csrf}"' in fronted.text
        # …and the framework accepts it: 「読みました」 from the front's page goes through.
        confirmed = await two.post(f"/r/{tokens[1]}/confirm", headers={**await csrf_headers(two), "HX-Request": "true"})
        assert confirmed.status_code == 200 and "受け付けました" in confirmed.text
        # A reader who already has a CSRF cookie keeps it (no new cookie).
        again = await three.get(f"/r/{tokens[2]}")
        assert "set-cookie" in again.headers
        kept = await three.get(f"/r/{tokens[2]}")
        assert "set-cookie" not in kept.headers and f'value="{three.cookies["chonaikai_csrf"]}"' in kept.text
        # The confirmed reader's page says so (its own key: rendered once, then shared too).
        after = await two.get(f"/r/{tokens[1]}")
        assert "受け付けました" in after.text and 'class="button button-big button-read"' not in after.text
        assert (await three.get(f"/r/{tokens[2]}")).text.count("button-read") == 1
    await readlink.drain_receipts()
    opened = await Delivery.select(Delivery.token).where(Delivery.opened_at.is_not_null())
    assert {row["token"] for row in opened} == set(tokens)  # visits the front answered are recorded


async def test_each_text_size_has_its_own_shared_page(front_app, tenant):
    households = await _households(tenant, 4)
    notice = await make_notice(tenant)
    await create_deliveries(notice)
    tokens = [await _token(notice, household["id"]) for household in households]
    for token, size in zip(tokens, ("xlarge", "normal", "large", "xlarge"), strict=True):
        async with _client(front_app) as client:
            client.cookies.set("chonaikai_text", size)
            page = await client.get(f"/r/{token}")
            html_tag = page.text[page.text.index("<html"): page.text.index(">", page.text.index("<html"))]
            assert (f"text-{size}" in html_tag) == (size != "normal"), (size, html_tag)
            assert ("text-" in html_tag) == (size != "normal")


async def test_a_question_is_shared_only_by_those_who_have_not_answered(front_app, tenant, renders):
    first, second, third = await _households(tenant, 3)
    async with _client(front_app) as officer:
        notice = await publish_question(officer, tenant, {
            "kind": "attendance", "deadline": (datetime.now(UTC) + timedelta(days=3)).isoformat()})
    tokens = [await _token(notice, household["id"]) for household in (first, second, third)]
    async with _client(front_app) as one, _client(front_app) as two:
        assert (await one.get(f"/r/{tokens[0]}")).status_code == 200
        page = await two.get(f"/r/{tokens[1]}")
        assert renders == [tokens[0]]
        assert f'action="/r/{tokens[1]}/answer"' in page.text and tokens[0] not in page.text
        answered = await one.post(f"/r/{tokens[0]}/answer", data={"choice": "出席", "people": "2"},
                                  headers=await csrf_headers(one))
        assert answered.status_code == 303
        mine = await one.get(f"/r/{tokens[0]}")
        assert "いまのお返事：<strong>出席（2人）</strong>" in mine.text  # its own page, not the shared one
        assert renders[-1] == tokens[0]
        theirs = await two.get(f"/r/{tokens[1]}")
        assert "いまのお返事" not in theirs.text and "出席（2人）" not in theirs.text
        assert f'action="/r/{tokens[1]}/answer"' in theirs.text


async def test_a_shared_question_page_closes_at_its_deadline(front_app, tenant, renders):
    first, second = await _households(tenant, 2)
    async with _client(front_app) as officer:
        notice = await publish_question(officer, tenant, {
            "kind": "attendance", "deadline": (datetime.now(UTC) + timedelta(seconds=3)).isoformat()})
    tokens = [await _token(notice, household["id"]) for household in (first, second)]
    async with _client(front_app) as client:
        assert 'action="/r/' in (await client.get(f"/r/{tokens[0]}")).text
        assert 'action="/r/' in (await client.get(f"/r/{tokens[1]}")).text and len(renders) == 1
        await asyncio.sleep(3.5)
        closed = await client.get(f"/r/{tokens[1]}")
        assert "締め切りを過ぎたので" in closed.text and f"/r/{tokens[1]}/answer" not in closed.text


async def test_the_front_never_answers_a_withdrawn_link_or_a_signed_in_reader(front_app, tenant, renders):
    first, second = await _households(tenant, 2)
    notice = await make_notice(tenant)
    await create_deliveries(notice)
    tokens = [await _token(notice, household["id"]) for household in (first, second)]
    async with _client(front_app) as client:
        assert (await client.get(f"/r/{tokens[0]}")).status_code == 200
        await Household.update({Household.moved_out: True}).where(Household.id == second["id"])
        withdrawn = await client.get(f"/r/{tokens[1]}")
        assert withdrawn.status_code == 410 and "防災" not in withdrawn.text
        assert (await client.get("/r/no-such-token-at-all")).status_code == 404
    async with _client(front_app) as member:
        await sign_in_as(member, "officer@example.jp", "chair", tenant)
        before = len(renders)
        page = await member.get(f"/r/{tokens[0]}")
        assert page.status_code == 200 and len(renders) == before + 1  # rendered for them


async def test_visits_arriving_together_are_looked_up_with_one_statement(tenant, monkeypatch):
    households = await _households(tenant, 30)
    notice = await make_notice(tenant)
    await create_deliveries(notice)
    tokens = [await _token(notice, household["id"]) for household in households]
    statements: list[int] = []
    original = readlink._look_up

    async def counted(batch):
        statements.append(len(batch))
        return await original(batch)

    monkeypatch.setattr(readlink, "_look_up", counted)
    links = await asyncio.gather(*(readlink.lookup(token) for token in [*tokens, tokens[0], "no-such-token"]))
    assert statements == [31]  # 30 tokens, one of them asked twice, and an unknown one
    assert [link.household_id for link in links[:30]] == [household["id"] for household in households]
    assert links[30] == links[0] and links[31] is None
    assert all(link.current and not link.opened and not link.own for link in links[:30])


async def test_read_confirmation_by_htmx_is_taken_by_the_front_with_the_same_csrf_rule(front_app, tenant, monkeypatch):
    first, second = await _households(tenant, 2)
    notice = await make_notice(tenant)
    await create_deliveries(notice)
    tokens = [await _token(notice, household["id"]) for household in (first, second)]
    routed: list[str] = []
    original = readlink.link_state

    async def counted(token):
        routed.append(token)
        return await original(token)

    monkeypatch.setattr(readlink, "link_state", counted)
    async with _client(front_app) as reader, _client(front_app) as stranger:
        await reader.get(f"/r/{tokens[0]}")
        htmx = {"HX-Request": "true"}
        # Without the CSRF value, or with another visitor's, refused as the framework refuses it.
        assert (await reader.post(f"/r/{tokens[0]}/confirm", headers=htmx)).status_code == 403
        await stranger.get(f"/r/{tokens[1]}")
        foreign = {**htmx, "x-chonaikai-csrf": stranger.cookies["chonaikai_csrf"]}
        assert (await reader.post(f"/r/{tokens[0]}/confirm", headers=foreign)).status_code == 403
        assert (await Delivery.select(Delivery.confirmed_at).where(Delivery.token == tokens[0]).first())["confirmed_at"] is None
        routed.clear()
        answer = await reader.post(f"/r/{tokens[0]}/confirm", headers={**htmx, **await csrf_headers(reader)})
        assert answer.status_code == 200 and "受け付けました" in answer.text and "<html" not in answer.text
        assert answer.headers["referrer-policy"] == "no-referrer" and routed == []  # the front's answer
        assert (await Delivery.select(Delivery.confirmed_at).where(Delivery.token == tokens[0]).first())["confirmed_at"]
        # A withdrawn link gets the route's kind page.
        await Household.update({Household.moved_out: True}).where(Household.id == second["id"])
        gone = await stranger.post(f"/r/{tokens[1]}/confirm", headers={**htmx, **await csrf_headers(stranger)})
        assert gone.status_code == 410 and routed == [tokens[1]]
        # A plain form post (no JavaScript) goes to the route and is sent back to the page.
        plain = await reader.post(f"/r/{tokens[0]}/confirm", headers=await csrf_headers(reader))
        assert plain.status_code == 303 and plain.headers["location"] == f"/r/{tokens[0]}"
