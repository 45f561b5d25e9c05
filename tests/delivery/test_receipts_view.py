"""The officers' who-has-read page, ticks by hand, resend to the unconfirmed, CSV and JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chonaikai.accounts.roles import Role
from chonaikai.channels.email import EmailChannel
from chonaikai.delivery.outbox import create_deliveries
from chonaikai.delivery.tables import Delivery
from chonaikai.delivery.worker import Worker
from chonaikai.roster.tables import Han
from tests.auth import csrf_headers, sign_in_as
from tests.delivery.helpers import make_notice
from tests.factories import make_household


async def han_id(tenant, name):
    return (await tenant.select(Han, Han.id).where(Han.name == name).first())["id"]


async def setup_notice(tenant):
    """1班: two e-mail households (one confirmed), 2班: one paper household."""
    a = await make_household(tenant, "青木", han="1班", channel="email", email="aoki@example.jp", kana="アオキ")
    b = await make_household(tenant, "伊藤", han="1班", channel="email", email="ito@example.jp", kana="イトウ")
    c = await make_household(tenant, "上田", han="2班", channel="paper", kana="ウエダ")
    notice = await make_notice(tenant, title="総会のお知らせ")
    await create_deliveries(notice)
    now = datetime.now(UTC)
    await Delivery.update({Delivery.status: "sent", Delivery.sent_at: now}).where(Delivery.channel == "email")
    await Delivery.update({Delivery.confirmed_at: now, Delivery.confirmed_via: "web"}).where(
        Delivery.household == a["id"]
    )
    return notice, a, b, c


async def test_officer_sees_progress_counts_and_every_household(client, tenant):
    notice, a, b, c = await setup_notice(tenant)
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    response = await client.get(f"/a/{tenant.slug}/notices/{notice}/receipts")
    assert response.status_code == 200
    page = response.text
    assert "総会のお知らせ" in page
    assert "<strong>1</strong> / 3 世帯が確認" in page
    assert 'max="3" value="1"' in page  # the progress bar
    assert "1 / 2" in page and "0 / 1" in page  # per 班
    for name in ("青木", "伊藤", "上田"):
        assert name in page
    assert "印刷待ち" in page  # paper not yet printed
    assert "未確認の世帯に再送" in page

    unconfirmed = (await client.get(f"/a/{tenant.slug}/notices/{notice}/receipts?unconfirmed=1")).text
    assert "伊藤" in unconfirmed and "上田" in unconfirmed and "青木" not in unconfirmed
    by_han = (await client.get(f"/a/{tenant.slug}/notices/{notice}/receipts?han={await han_id(tenant, '2班')}")).text
    assert "上田" in by_han and "伊藤" not in by_han
    by_channel = (await client.get(f"/a/{tenant.slug}/notices/{notice}/receipts?channel=email")).text
    assert "伊藤" in by_channel and "上田" not in by_channel

    fragment = await client.get(f"/a/{tenant.slug}/notices/{notice}/receipts?fragment=progress")
    assert 'hx-trigger="every 5s"' in fragment.text and "<html" not in fragment.text


async def test_han_leader_sees_only_their_han(client, tenant):
    notice, a, b, c = await setup_notice(tenant)
    await sign_in_as(client, "han2@example.jp", Role.HAN_LEADER, tenant, han_id=await han_id(tenant, "2班"))
    page = (await client.get(f"/a/{tenant.slug}/notices/{notice}/receipts")).text
    assert "上田" in page and "青木" not in page and "伊藤" not in page
    assert "<strong>0</strong> / 1 世帯が確認" in page
    data = (await client.get(f"/a/{tenant.slug}/notices/{notice}/receipts.json")).json()
    assert [h["household_id"] for h in data["households"]] == [c["id"]]
    # Cannot tick a household of another 班.
    response = await client.post(
        f"/a/{tenant.slug}/notices/{notice}/receipts/{b['id']}/tick", headers=await csrf_headers(client)
    )
    assert response.status_code == 404
    assert (await Delivery.select().where(Delivery.household == b["id"]).first())["confirmed_at"] is None
    # Can tick their own: the paper 回覧板 came back signed.
    response = await client.post(
        f"/a/{tenant.slug}/notices/{notice}/receipts/{c['id']}/tick",
        headers={**await csrf_headers(client), "HX-Request": "true"},
    )
    assert response.status_code == 200 and "確認済み" in response.text and "<html" not in response.text
    row = await Delivery.select().where(Delivery.household == c["id"]).first()
    assert row["confirmed_via"] == "officer" and row["confirmed_at"] is not None


async def test_members_and_strangers_cannot_see_receipts(client, tenant):
    notice, a, b, c = await setup_notice(tenant)
    url = f"/a/{tenant.slug}/notices/{notice}/receipts"
    response = await client.get(url)
    assert response.status_code == 303 and response.headers["location"].startswith("/signin")
    api = await client.get(f"/api/v1/associations/{tenant.slug}/notices/{notice}/receipts")
    assert api.status_code == 401
    assert (await client.get(f"/api/v1/notices/{notice}/receipts")).status_code == 401
    await sign_in_as(client, "member@example.jp", Role.MEMBER, tenant, household_id=a["id"])
    assert (await client.get(url)).status_code == 403
    assert (await client.get(url + ".csv")).status_code == 403
    assert (await client.get(url + ".json")).status_code == 403
    assert (await client.post(f"{url}/{b['id']}/tick", headers=await csrf_headers(client))).status_code == 403
    assert (await client.post(f"{url}/resend", headers=await csrf_headers(client))).status_code == 403


async def test_officer_of_another_association_sees_nothing(client, city, tenant):
    from tests.factories import make_association

    notice, *_ = await setup_notice(tenant)
    other = await make_association(city, slug="other", han=["1班"])
    await sign_in_as(client, "chair@other.jp", Role.CHAIR, other)
    assert (await client.get(f"/a/{tenant.slug}/notices/{notice}/receipts")).status_code == 403
    # Their own address with our notice id: not found, not our data.
    assert (await client.get(f"/a/{other.slug}/notices/{notice}/receipts")).status_code == 404
    assert (await client.get(f"/a/{tenant.slug}/notices/{notice}/receipts.json")).status_code == 403


async def test_tick_by_hand_as_a_plain_form_post_counts(client, tenant):
    notice, a, b, c = await setup_notice(tenant)
    await sign_in_as(client, "vice@example.jp", Role.VICE_CHAIR, tenant)
    response = await client.post(
        f"/a/{tenant.slug}/notices/{notice}/receipts/{c['id']}/tick", headers=await csrf_headers(client)
    )
    assert response.status_code == 303
    data = (await client.get(f"/a/{tenant.slug}/notices/{notice}/receipts.json")).json()
    assert data["totals"]["confirmed"] == 2 and data["totals"]["households"] == 3
    assert data["totals"]["confirmed_by_channel"] == {"email": 1, "paper": 1}
    assert data["totals"]["by_channel"] == {"email": 2, "paper": 1}
    [paper] = [h for h in data["households"] if h["household_id"] == c["id"]]
    assert paper["confirmed_via"] == "officer" and paper["channel"] == "paper"


async def test_resend_to_unconfirmed_email_households_once_per_day(client, tenant, mail_sink):
    notice, a, b, c = await setup_notice(tenant)
    await sign_in_as(client, "editor@example.jp", Role.EDITOR, tenant)
    url = f"/a/{tenant.slug}/notices/{notice}/receipts/resend"

    # Sent an hour ago: too soon to send again.
    response = await client.post(url, headers={**await csrf_headers(client), "HX-Request": "true"})
    assert "もう一度送るお宅はありませんでした" in response.text and "1世帯は24時間以内" in response.text

    await Delivery.update({Delivery.sent_at: datetime.now(UTC) - timedelta(hours=25)}).where(
        Delivery.channel == "email"
    )
    response = await client.post(url, headers=await csrf_headers(client))
    assert response.status_code == 303 and "resent=1" in response.headers["location"]
    await Worker([EmailChannel()]).run(once=True)
    [message] = mail_sink.messages
    assert message["To"].addresses[0].addr_spec == "ito@example.jp"  # not 青木: confirmed already
    assert "【再送】" in message["subject"]
    row = await Delivery.select().where(Delivery.household == b["id"]).first()
    assert row["status"] == "sent" and row["reminded_at"] is not None

    # Right after: nobody twice within 24 hours.
    response = await client.post(url, headers=await csrf_headers(client))
    assert "resent=0" in response.headers["location"]
    await Worker([EmailChannel()]).run(once=True)
    assert len(mail_sink.messages) == 1


async def test_csv_export(client, tenant):
    notice, a, b, c = await setup_notice(tenant)
    await sign_in_as(client, "treasurer@example.jp", Role.TREASURER, tenant)
    response = await client.get(f"/a/{tenant.slug}/notices/{notice}/receipts.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    lines = response.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("世帯,班,届け方,状態")
    assert len(lines) == 4 and any(line.startswith("青木,1班,メール,送りました") for line in lines)


async def test_unknown_notice_is_404(client, tenant):
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    assert (await client.get(f"/a/{tenant.slug}/notices/999999/receipts")).status_code == 404


async def test_receipts_api_with_bearer_tokens(client, tenant):
    from chonaikai.accounts.api_tokens import create_token

    notice, a, b, c = await setup_notice(tenant)
    chair = (await create_token(role="chair", association_slug=tenant.slug, label="集計")).secret
    response = await client.get(
        f"/api/v1/associations/{tenant.slug}/notices/{notice}/receipts", headers={"Authorization": f"Bearer {chair}"}
    )
    assert response.status_code == 200
    data = response.json()
    assert data["totals"]["households"] == 3 and data["totals"]["confirmed"] == 1
    assert {h["channel"] for h in data["households"]} == {"email", "paper"}
    by_id = await client.get(f"/api/v1/notices/{notice}/receipts", headers={"Authorization": f"Bearer {chair}"})
    assert by_id.json()["totals"] == data["totals"]

    han2 = (await create_token(role="han_leader", association_slug=tenant.slug, han_name="2班")).secret
    narrowed = (await client.get(
        f"/api/v1/notices/{notice}/receipts", headers={"Authorization": f"Bearer {han2}"}
    )).json()
    assert [h["household_id"] for h in narrowed["households"]] == [c["id"]]
    bad = await client.get(f"/api/v1/notices/{notice}/receipts", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
