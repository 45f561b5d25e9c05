"""The read page /r/{token} under load: what its readers share, what stays theirs, and "opened"
written in batches (a crash loses at most the last second's visits)."""

from __future__ import annotations

import asyncio

import httpx

from chonaikai.delivery import readlink
from chonaikai.delivery.outbox import create_deliveries
from chonaikai.delivery.tables import Delivery
from tests.auth import csrf_headers
from tests.delivery.helpers import make_notice
from tests.factories import make_household
from tests.test_page_cache import cached_app


async def _token(notice_id: int, household_id: int) -> str:
    row = await Delivery.select(Delivery.token).where(
        (Delivery.notice == notice_id) & (Delivery.household == household_id)
    ).first()
    return row["token"]


async def test_readers_of_one_notice_share_the_page_but_never_a_token_or_an_answer(settings, tenant):
    app, _ = cached_app(settings)  # pages kept as in production
    readlink.shared_reads.clear()
    first = await make_household(tenant, "青木", han="1班", channel="email", email="a@example.jp")
    second = await make_household(tenant, "上田", han="1班", channel="email", email="u@example.jp")
    notice = await make_notice(tenant, title="防災訓練のお知らせ", body="9時に小学校へ")
    await create_deliveries(notice)
    tokens = [await _token(notice, first["id"]), await _token(notice, second["id"])]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as one, \
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as two:
        page_one = await one.get(f"/r/{tokens[0]}")
        page_two = await two.get(f"/r/{tokens[1]}")
        for page, token, other, client in ((page_one, tokens[0], tokens[1], one), (page_two, tokens[1], tokens[0], two)):
            assert page.status_code == 200 and "防災訓練のお知らせ" in page.text
            assert f'action="/r/{token}/confirm"' in page.text and other not in page.text
            csrf = client.cookies["chonaikai_csrf"]
            assert f'value="{csrf}"' in page.text  # this reader's own CSRF value
        assert one.cookies["chonaikai_csrf"] != two.cookies["chonaikai_csrf"]
        assert (await one.post(f"/r/{tokens[0]}/confirm", headers=await csrf_headers(one))).status_code in (200, 303)
        assert "受け付けました" in (await one.get(f"/r/{tokens[0]}")).text
        again = await two.get(f"/r/{tokens[1]}")
        assert "受け付けました" not in again.text and 'class="button button-big button-read"' in again.text

        # The notice is corrected (as another process would) and then the association is written
        # to through this app (a notice posted by the API): the kept page is forgotten at once.
        from chonaikai.accounts.api_tokens import create_token
        from chonaikai.notices.tables import Notice

        await Notice.update({Notice.title: "防災訓練（場所が変わりました）"}).where(Notice.id == notice)
        token = await create_token(role="chair", association_slug=tenant.slug)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as api:
            posted = await api.post(f"/api/v1/associations/{tenant.slug}/notices",
                                    json={"title": "別のお知らせ", "body": "本文", "category": "行事"},
                                    headers={"authorization": f"Bearer {token.secret}"})
            assert posted.status_code == 201, posted.text
        assert "場所が変わりました" in (await two.get(f"/r/{tokens[1]}")).text
    readlink.shared_reads.clear()


async def test_opens_are_written_in_batches_and_a_crash_loses_at_most_the_last_second(client, tenant):
    households = [await make_household(tenant, f"世帯{n}", han="1班", channel="email", email=f"h{n}@example.jp")
                  for n in range(2)]
    notice = await make_notice(tenant)
    await create_deliveries(notice)
    early, late = [await _token(notice, household["id"]) for household in households]

    assert (await client.get(f"/r/{early}")).status_code == 200
    await asyncio.sleep(readlink.OPEN_SECONDS + 0.5)  # the batch that carries it has run
    assert (await client.get(f"/r/{late}")).status_code == 200
    # The process dies now: what waits in memory is lost (no drain), nothing else.
    writer = readlink.receipt_writer()
    if writer.open_timer is not None:
        writer.open_timer.cancel()
        writer.open_timer = None
    lost = dict(writer.opens)
    writer.opens.clear()
    assert set(lost) == {late}
    opened = {row["token"]: row["opened_at"] for row in await Delivery.select(Delivery.token, Delivery.opened_at)}
    assert opened[early] is not None and opened[late] is None
