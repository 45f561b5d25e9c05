"""Sessions and principals kept per web process for a second (accounts/signed_in_cache.py), with
the cache switched on (the rest of the suite runs with it off): revoking a credential still ends
the sessions it opened — at once through this process, within the second through any other."""

from __future__ import annotations

import time

import httpx
import pytest

from chonaikai.accounts.roles import Role
from chonaikai.accounts.signed_in_cache import SignedInCache, signed_in_cache
from chonaikai.accounts.tables import WebSession
from chonaikai.app import CSRF_COOKIE
from chonaikai.notices.logic import known_reads, read_marks
from chonaikai.roster.tables import Household
from tests.auth import csrf_headers, sign_in_as
from tests.factories import make_household
from tests.hardening.test_credential_sessions import card_session, signed_out


@pytest.fixture
def clock():
    """The cache switched on (1 s) with a clock the test moves."""
    now = [1000.0]
    signed_in_cache.seconds = 1.0
    signed_in_cache.clock = lambda: now[0]
    signed_in_cache.forget_all()
    yield now
    signed_in_cache.seconds = None
    signed_in_cache.clock = time.monotonic
    signed_in_cache.forget_all()
    known_reads.clear()
    read_marks.discard()


async def test_a_new_card_printed_through_this_process_ends_the_old_session_at_once(client, tenant, clock):
    household = await make_household(tenant, "山田", han="1班")
    await card_session(client, tenant, household["id"])
    assert len(signed_in_cache) > 0  # the session and its person are kept now
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as officer:
        await sign_in_as(officer, "chair@example.jp", Role.CHAIR, tenant)
        reprint = await officer.post(f"/a/{tenant.slug}/roster/{household['id']}/card", headers=await csrf_headers(officer))
        assert reprint.status_code == 200
    assert await signed_out(client, tenant)  # the clock has not moved: nothing kept was used


async def test_a_change_made_elsewhere_ends_the_session_within_the_second(client, tenant, clock):
    household = await make_household(tenant, "山田", han="1班")
    await card_session(client, tenant, household["id"])
    # Another process (a worker, another machine) marks the household moved out.
    await Household.update({Household.moved_out: True}).where(Household.id == household["id"])
    clock[0] += 0.5
    assert "世帯としてログイン中" in (await client.get(f"/a/{tenant.slug}/notices/")).text  # the kept second
    clock[0] += 0.5
    assert await signed_out(client, tenant)
    assert await WebSession.count() == 0  # ended for good: its row is gone


async def test_a_session_signed_out_through_this_process_opens_nothing_at_once(client, tenant, clock):
    await sign_in_as(client, "editor@example.jp", Role.EDITOR, tenant)
    assert (await client.get(f"/a/{tenant.slug}/notices/new")).status_code == 200
    stolen = dict(client.cookies)
    assert (await client.post("/signout", headers=await csrf_headers(client))).status_code == 303
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver", cookies=stolen) as thief:
        response = await thief.get(f"/a/{tenant.slug}/notices/new")
        assert response.status_code == 303 and response.headers["location"].startswith("/signin")


async def test_a_role_removed_through_this_process_is_gone_at_once(client, tenant, clock):
    from chonaikai.accounts.tables import RoleGrant

    await sign_in_as(client, "editor@example.jp", Role.EDITOR, tenant)
    assert (await client.get(f"/a/{tenant.slug}/notices/new")).status_code == 200
    await RoleGrant.delete().where(RoleGrant.role == "editor")  # as the chair's page does, but directly:
    assert (await client.get(f"/a/{tenant.slug}/notices/new")).status_code == 200  # kept (another process)
    # any write through this process (here the text-size switch) forgets what was kept
    await client.post("/prefs/text-size", data={"size": "normal", "next": "/"}, headers={"x-chonaikai-csrf": client.cookies[CSRF_COOKIE]})
    assert (await client.get(f"/a/{tenant.slug}/notices/new")).status_code == 403


def test_a_look_up_begun_before_a_forget_is_not_kept():
    cache = SignedInCache(seconds=1.0)
    generation = cache.generation  # a request starts reading a principal
    cache.forget_all()  # meanwhile a write (a new card) answers
    cache.keep(("principal", 1), "as read before the write", generation)
    assert cache.get(("principal", 1)) is None
    cache.keep(("principal", 1), "read after", cache.generation)
    assert cache.get(("principal", 1)) == "read after"


def test_nothing_is_kept_when_switched_off():
    cache = SignedInCache(seconds=0)
    cache.keep("key", "value", cache.generation)
    assert cache.get("key") is None


async def test_answers_through_read_links_keep_what_is_kept(client, tenant, clock):
    """A household's 「読みました」 or answer through its read link changes nobody's access: the
    officers' kept sessions stay (in a disaster these posts come by the thousand)."""
    from chonaikai.accounts.tables import RoleGrant
    from chonaikai.delivery.outbox import create_deliveries
    from chonaikai.delivery.tables import Delivery
    from tests.delivery.helpers import make_notice

    await sign_in_as(client, "editor@example.jp", Role.EDITOR, tenant)
    assert (await client.get(f"/a/{tenant.slug}/notices/new")).status_code == 200
    await RoleGrant.delete().where(RoleGrant.role == "editor")  # elsewhere: kept here for now
    await make_household(tenant, "読む世帯", han="1班", channel="email", email="reader@example.jp")
    notice_id = await make_notice(tenant, "確認のお願い", needs_confirmation=True)
    await create_deliveries(notice_id)
    (token,) = [row["token"] for row in await Delivery.select(Delivery.token).where(Delivery.notice == notice_id)]
    async with httpx.AsyncClient(transport=client._transport, base_url="http://testserver") as household:
        await household.get(f"/r/{token}")
        pressed = await household.post(f"/r/{token}/confirm", data={"_csrf_token": household.cookies[CSRF_COOKIE]})
        assert pressed.status_code in (200, 303)
    assert (await client.get(f"/a/{tenant.slug}/notices/new")).status_code == 200  # still kept
    await client.post("/prefs/text-size", data={"size": "normal", "next": "/"},
                      headers={"x-chonaikai-csrf": client.cookies[CSRF_COOKIE]})
    assert (await client.get(f"/a/{tenant.slug}/notices/new")).status_code == 403


def test_values_kept_with_a_spread_end_at_different_moments_never_later():
    """Read marks of a crowd read at one moment (spread 0.25): each ends within the last quarter
    of its time, not all at the same instant, and none after its full time."""
    now = [1000.0]
    cache = SignedInCache(seconds=1.0, clock=lambda: now[0])
    for reader in range(200):
        cache.keep(("read", reader), frozenset({1}), cache.generation, longer=5, spread=0.25)
    ends = []
    for step in range(1, 60):
        now[0] = 1000.0 + step * 0.1
        for reader in range(200):
            if ("read", reader) not in [key for key, _ in ends] and cache.get(("read", reader)) is None:
                ends.append((("read", reader), now[0]))
    moments = [moment - 1000.0 for _, moment in ends]
    assert len(moments) == 200
    assert min(moments) > 3.75 - 1e-9 and max(moments) <= 5.0 + 1e-9
    assert len({round(moment, 1) for moment in moments}) >= 8  # spread over the last quarter
