"""Circular → auto-forward → e-mail through a real SMTP server (aiosmtpd) and LINE through the fake
LINE server → members confirm → the city's dashboard, CSV and API show the confirmations."""

from __future__ import annotations

import re

from chonaikai.accounts.api_tokens import create_token
from chonaikai.accounts.roles import Role
from chonaikai.channels.email import EmailChannel
from chonaikai.circulars.tables import CircularEntry
from chonaikai.delivery.worker import Worker
from chonaikai.line.channel import LineChannelSender
from chonaikai.tenancy.tables import Association
from tests.auth import csrf_headers, sign_in_as
from tests.circulars.helpers import send
from tests.factories import make_association, make_household
from tests.line.conftest import fake_line, line_tenant  # noqa: F401  (fixtures)
from tests.line.helpers import linked_households
from tests.mailsink import text_of


async def test_circular_reaches_households_by_email_and_line_and_the_city_sees_confirmations(
    client, city, line_tenant, fake_line, mail_sink  # noqa: F811
):
    await Association.update({Association.auto_forward_circulars: True}).where(Association.id == line_tenant.id)
    for i in range(2):
        await make_household(line_tenant, f"メール世帯{i}", han="1班", channel="email", email=f"resident{i}@example.jp")
    await make_household(line_tenant, "紙の世帯", han="2班", channel="paper")
    ((line_household, (line_user,)),) = await linked_households(line_tenant, fake_line, 1)
    review = await make_association(city, "review-town", han=["1班"])
    await make_household(review, "待つ世帯", han="1班", channel="email", email="waiting@example.jp")

    circular_id = await send(city, title="断水のお知らせ", summary="3日の夜に断水します。", needs_confirmation=True)
    entry = await line_tenant.select(CircularEntry).first()
    assert entry["state"] == "forwarded"

    sender = LineChannelSender()
    try:
        await Worker([EmailChannel(), sender], publish_due=False).run(once=True)
    finally:
        await sender.close()

    # E-mail: only the forwarding association's households, none from the one still reviewing.
    assert sorted(m["To"].addresses[0].addr_spec for m in mail_sink.messages) == [
        "resident0@example.jp", "resident1@example.jp"
    ]
    message = mail_sink.to("resident0@example.jp")[0]
    assert "断水のお知らせ" in str(message["Subject"])
    link = re.search(r"http://testserver(/r/[A-Za-z0-9_-]+)", text_of(message)).group(1)
    page = await client.get(link)
    assert page.status_code == 200 and "3日の夜に断水します" in page.text
    confirm = await client.post(link + "/confirm", headers=await csrf_headers(client))
    assert confirm.status_code in (200, 303)

    # LINE: the member presses 「読みました」 in the message they got.
    (received,) = fake_line.messages_for(line_user)
    action = received.messages[0]["contents"]["footer"]["contents"][0]["action"]
    channel = next(iter(fake_line.state.channels.values()))
    status, _ = await fake_line.send_event(channel, fake_line.event("postback", line_user, data=action["data"]), client=client)
    assert status == 200

    # The city's API: counts only, confirmations included.
    token = await create_token(role="city_staff", city_slug=city["slug"])
    api = await client.get(f"/api/v1/circulars/{circular_id}/status", headers={"Authorization": f"Bearer {token.secret}"})
    assert api.status_code == 200
    data = api.json()
    row = next(r for r in data["associations"] if r["slug"] == line_tenant.slug)
    assert row["households"] == 4 and row["reached"] == 3 and row["confirmed"] == 2  # paper not printed yet
    assert row["confirmation_rate"] == 50.0
    assert data["counts"]["confirmed"] == 2 and data["counts"]["forwarded"] == 1 and data["counts"]["pending"] == 1
    assert "resident0@example.jp" not in api.text and "メール世帯0" not in api.text

    # The dashboard page and its chart.
    await sign_in_as(client, "staff@city.example", Role.CITY_STAFF, city_id=city["id"])
    dashboard = await client.get(f"/c/{city['slug']}/circulars/{circular_id}")
    assert dashboard.status_code == 200
    assert "2（50.0%）" in dashboard.text and "<polyline" in dashboard.text
    assert "resident0@example.jp" not in dashboard.text and "メール世帯0" not in dashboard.text
    exported = await client.get(f"/c/{city['slug']}/circulars/{circular_id}/export.csv")
    assert f"{line_tenant.slug},," in exported.text or line_tenant.slug in exported.text
    assert ",4,3,2,50.0" in exported.text
