"""What the paper 回覧板 writes: 「印刷しました」 marks paper deliveries printed, hand ticks record
confirmations on paper — each changes only the delivery rows it names."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chonaikai.accounts.roles import Role
from chonaikai.delivery.tables import Delivery
from chonaikai.printing.sheets import JST
from tests.auth import csrf_headers, sign_in_as
from tests.factories import make_association, make_household
from tests.print.rows import delivery_snapshot, make_delivery, make_notice, make_town


def changed_rows(before: dict, after: dict) -> dict[int, dict[str, tuple]]:
    """Per changed delivery id, {column: (before, after)}; rows added or removed count too."""
    assert before.keys() == after.keys(), "an action added or removed delivery rows"
    changes = {}
    for delivery_id, row in before.items():
        diff = {key: (value, after[delivery_id][key]) for key, value in row.items() if after[delivery_id][key] != value}
        if diff:
            changes[delivery_id] = diff
    return changes


async def delivery_id(town, name: str) -> int:
    row = await Delivery.select(Delivery.id).where(
        (Delivery.notice == town.notice["id"]) & (Delivery.household == town.households[name])
    ).first()
    return row["id"]


async def busy_town(tenant, city):
    """The town, plus a second notice and another association, so "nothing else" means something."""
    town = await make_town(tenant)
    second = await make_notice(tenant, title="別のお知らせ")
    await make_delivery(tenant, second["id"], town.households["青木"], "paper")
    other = await make_association(city, slug="other", han=["1班"])
    other_notice = await make_notice(other, title="よそ")
    stranger = await make_household(other, "佐藤", "1班", channel="paper")
    await make_delivery(other, other_notice["id"], stranger["id"], "paper")
    return town


def page(town, suffix="", **query):
    base = f"/a/{town.tenant.slug}/notices/{town.notice['id']}/print{suffix}"
    return base + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


async def test_printed_button_marks_only_that_hans_paper_deliveries(client, tenant, city):
    town = await busy_town(tenant, city)
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    before = await delivery_snapshot()
    # Looking at the sheet (and its PDF) marks nothing: only the button does.
    assert (await client.get(page(town, han=town.han["1班"]))).status_code == 200
    assert changed_rows(before, await delivery_snapshot()) == {}

    response = await client.post(
        page(town, "/printed"), data={"han": str(town.han["1班"])}, headers=await csrf_headers(client)
    )
    assert response.status_code == 303
    assert response.headers["location"] == page(town, han=town.han["1班"], printed=2)
    changes = changed_rows(before, await delivery_snapshot())
    assert changes == {
        await delivery_id(town, "青木"): {"status": ("pending", "printed")},
        await delivery_id(town, "上田"): {"status": ("pending", "printed")},
    }
    shown = await client.get(response.headers["location"])
    assert "紙の世帯 2 世帯へのお届けを「印刷済み」にしました" in shown.text

    # Pressing again changes nothing more.
    again_before = await delivery_snapshot()
    await client.post(page(town, "/printed"), data={"han": str(town.han["1班"])}, headers=await csrf_headers(client))
    assert changed_rows(again_before, await delivery_snapshot()) == {}


async def test_printed_with_htmx_answers_a_fragment(client, tenant):
    town = await make_town(tenant)
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    response = await client.post(
        page(town, "/printed"),
        data={"han": "all", "paper": "1"},
        headers={**await csrf_headers(client), "HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "紙の世帯 4 世帯" in response.text and "<html" not in response.text
    statuses = {row["household"]: row["status"] for row in await Delivery.select()}
    assert statuses[town.households["大野"]] == "printed" and statuses[town.households["木村"]] == "printed"
    assert statuses[town.households["井上"]] == "pending"  # e-mail: not for the paper


async def test_han_leader_cannot_mark_another_hans_sheet(client, tenant, city):
    town = await busy_town(tenant, city)
    await sign_in_as(client, "hancho2@example.jp", Role.HAN_LEADER, tenant, han_id=town.han["2班"])
    before = await delivery_snapshot()
    headers = await csrf_headers(client)
    response = await client.post(page(town, "/printed"), data={"han": str(town.han["1班"])}, headers=headers)
    assert response.status_code == 403
    response = await client.post(
        page(town, "/confirmations"),
        data={"han": str(town.han["1班"]), "confirmed": str(town.households["青木"])},
        headers=headers,
    )
    assert response.status_code == 403
    # Naming a 1班 household on their own 2班 form is refused too.
    response = await client.post(
        page(town, "/confirmations"),
        data={"han": str(town.han["2班"]), "confirmed": str(town.households["青木"])},
        headers=headers,
    )
    assert response.status_code == 400 and "この班の回覧板にない世帯" in response.text
    assert changed_rows(before, await delivery_snapshot()) == {}


async def test_ticks_confirm_on_paper_and_change_nothing_else(client, tenant, city):
    town = await busy_town(tenant, city)
    # 井上 already confirmed by the read link: a paper tick page must not undo that.
    await Delivery.update({Delivery.confirmed_at: datetime.now(UTC), Delivery.confirmed_via: "web"}).where(
        Delivery.id == await delivery_id(town, "井上")
    )
    await sign_in_as(client, "hancho1@example.jp", Role.HAN_LEADER, tenant, han_id=town.han["1班"])
    form = await client.get(page(town, "/confirmations", han=town.han["1班"]))
    assert form.status_code == 200
    assert f'name="confirmed" value="{town.households["青木"]}"' in form.text
    assert "ウェブで確認済み" in form.text
    assert "大野" not in form.text

    before = await delivery_snapshot()
    day = (datetime.now(JST) - timedelta(days=2)).date()
    response = await client.post(
        page(town, "/confirmations"),
        data={"han": str(town.han["1班"]), "confirmed": [str(town.households["青木"]), str(town.households["上田"])],
              "day": day.isoformat()},
        headers=await csrf_headers(client),
    )
    assert response.status_code == 303
    changes = changed_rows(before, await delivery_snapshot())
    assert set(changes) == {await delivery_id(town, "青木"), await delivery_id(town, "上田")}
    for change in changes.values():
        assert set(change) == {"confirmed_at", "confirmed_via"}
        assert change["confirmed_via"] == ("", "paper")
        assert change["confirmed_at"][1].astimezone(JST).date() == day
    shown = await client.get(response.headers["location"])
    assert "新しく確認 2 世帯" in shown.text

    # The box for 上田 was ticked by mistake: taking it back clears only that paper tick.
    before = await delivery_snapshot()
    await client.post(
        page(town, "/confirmations"),
        data={"han": str(town.han["1班"]), "confirmed": str(town.households["青木"])},
        headers=await csrf_headers(client),
    )
    changes = changed_rows(before, await delivery_snapshot())
    assert list(changes) == [await delivery_id(town, "上田")]
    assert changes[await delivery_id(town, "上田")]["confirmed_via"] == ("paper", "")
    web = await Delivery.select().where(Delivery.id == await delivery_id(town, "井上")).first()
    assert web["confirmed_via"] == "web" and web["confirmed_at"] is not None


async def test_bad_tick_input_changes_nothing(client, tenant, city):
    town = await busy_town(tenant, city)
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    before = await delivery_snapshot()
    headers = await csrf_headers(client)
    tomorrow = (datetime.now(JST) + timedelta(days=1)).date().isoformat()
    cases = [
        ({"han": str(town.han["1班"]), "confirmed": str(town.households["青木"]), "day": tomorrow}, "今日より後"),
        ({"han": str(town.han["1班"]), "confirmed": "abc"}, "入力が正しくありません"),
        ({"han": str(town.han["1班"]), "confirmed": str(town.households["大野"])}, "この班の回覧板にない世帯"),
        ({"han": str(town.han["1班"]), "confirmed": str(town.households["青木"]), "day": "2026-13-40"}, "入力が正しくありません"),
        ({"han": "all", "confirmed": str(town.households["青木"])}, "班ごとに"),
    ]
    for data, message in cases:
        response = await client.post(page(town, "/confirmations"), data=data, headers=headers)
        assert response.status_code == 400, data
        assert message in response.text, data
    assert changed_rows(before, await delivery_snapshot()) == {}


async def test_treasurer_may_print_but_not_tick(client, tenant):
    town = await make_town(tenant)
    await sign_in_as(client, "kaikei@example.jp", Role.TREASURER, tenant)
    assert (await client.get(page(town, han=town.han["1班"]))).status_code == 200
    assert (await client.get(page(town, "/confirmations", han=town.han["1班"]))).status_code == 403
    before = await delivery_snapshot()
    response = await client.post(
        page(town, "/confirmations"),
        data={"han": str(town.han["1班"]), "confirmed": str(town.households["青木"])},
        headers=await csrf_headers(client),
    )
    assert response.status_code == 403
    assert changed_rows(before, await delivery_snapshot()) == {}


async def test_posts_without_csrf_token_are_refused(client, tenant):
    town = await make_town(tenant)
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    before = await delivery_snapshot()
    response = await client.post(page(town, "/printed"), data={"han": str(town.han["1班"])})
    assert response.status_code == 403
    assert changed_rows(before, await delivery_snapshot()) == {}


async def test_mark_printed_leaves_other_channels_and_finished_rows(tenant, city):
    from chonaikai.printing import receipts

    town = await busy_town(tenant, city)
    await Delivery.update({Delivery.status: "sending"}).where(Delivery.id == await delivery_id(town, "大野"))
    before = await delivery_snapshot()
    everyone = list(town.households.values())
    count = await receipts.mark_printed(tenant, town.notice["id"], everyone)
    changes = changed_rows(before, await delivery_snapshot())
    # Paper rows only (not 井上's or 加藤's e-mail), not one a worker holds (大野), this notice only.
    assert set(changes) == {await delivery_id(town, name) for name in ("青木", "上田", "木村")}
    assert count == 3


async def test_household_that_joined_after_publishing_gets_its_delivery_from_the_outbox(client, tenant):
    town = await make_town(tenant)
    newcomer = await make_household(tenant, "新井", "1班", channel="paper", kana="あらい")
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    html = (await client.get(page(town, han=town.han["1班"]))).text
    assert "新井" in html  # on the sheet already; no delivery row yet
    assert await Delivery.count().where(Delivery.household == newcomer["id"]) == 0

    response = await client.post(
        page(town, "/printed"), data={"han": str(town.han["1班"])}, headers=await csrf_headers(client)
    )
    assert response.headers["location"].endswith("printed=3")
    row = await Delivery.select().where(Delivery.household == newcomer["id"]).first()
    assert row["channel"] == "paper" and row["status"] == "printed" and len(row["token"]) >= 22
    # The outbox made rows only for the newcomer: nobody else got a second one.
    assert await Delivery.count().where(Delivery.notice == town.notice["id"]) == 7

    later = await make_household(tenant, "荒木", "1班", channel="email", email="araki@example.jp", kana="あらき")
    response = await client.post(
        page(town, "/confirmations"),
        data={"han": str(town.han["1班"]), "confirmed": str(later["id"])},
        headers=await csrf_headers(client),
    )
    assert response.status_code == 303
    row = await Delivery.select().where(Delivery.household == later["id"]).first()
    assert row["confirmed_via"] == "paper" and row["confirmed_at"] is not None


async def test_draft_notice_previews_but_records_nothing(client, tenant):
    town = await make_town(tenant, status="draft", published_at=None)
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    preview = await client.get(page(town, han=town.han["1班"]))
    assert preview.status_code == 200 and "印刷しました" not in preview.text
    before = await delivery_snapshot()
    headers = await csrf_headers(client)
    response = await client.post(page(town, "/printed"), data={"han": str(town.han["1班"])}, headers=headers)
    assert response.status_code == 400 and "まだ公開されていない" in response.text
    response = await client.post(
        page(town, "/confirmations"),
        data={"han": str(town.han["1班"]), "confirmed": str(town.households["青木"])},
        headers=headers,
    )
    assert response.status_code == 400
    assert changed_rows(before, await delivery_snapshot()) == {}
    form = await client.get(page(town, "/confirmations", han=town.han["1班"]))
    assert "まだ公開されていない" in form.text and 'name="confirmed"' not in form.text
