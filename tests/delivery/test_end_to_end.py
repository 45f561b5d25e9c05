"""Publish → worker → a real SMTP server gets one message per e-mail household → the read link
in it works → 「読みました」 → the officer's page and the JSON show it; paper ticks count."""

from __future__ import annotations

import re

from chonaikai.accounts.roles import Role
from chonaikai.channels.email import EmailChannel
from chonaikai.delivery.outbox import create_deliveries
from chonaikai.delivery.worker import Worker
from tests.auth import csrf_headers, sign_in_as
from tests.delivery.helpers import make_notice
from tests.factories import make_household
from tests.mailsink import text_of


async def test_publish_send_read_confirm_and_see_it(client, tenant, mail_sink):
    email_households = [
        await make_household(tenant, f"メール{i}", han="1班", channel="email", email=f"m{i}@example.jp")
        for i in range(3)
    ]
    paper = await make_household(tenant, "紙の家", han="2班", channel="paper")
    notice = await make_notice(tenant, title="ごみ当番の変更", body="来月から火曜日になります。")

    assert await create_deliveries(notice) == 4
    assert await create_deliveries(notice) == 0  # publishing twice
    await Worker([EmailChannel()]).run(once=True)
    await Worker([EmailChannel()]).run(once=True)  # a second run sends nothing more

    assert sorted(m["To"].addresses[0].addr_spec for m in mail_sink.messages) == [
        "m0@example.jp", "m1@example.jp", "m2@example.jp"
    ]
    message = mail_sink.to("m1@example.jp")[0]
    link = re.search(r"http://testserver(/r/[A-Za-z0-9_-]+)", text_of(message)).group(1)
    assert link in text_of(message, "html")

    page = await client.get(link)
    assert page.status_code == 200 and "ごみ当番の変更" in page.text and "来月から火曜日" in page.text
    confirm = await client.post(link + "/confirm", headers={**await csrf_headers(client), "HX-Request": "true"})
    assert confirm.status_code == 200

    officer = await sign_in_as(client, "han@example.jp", Role.CHAIR, tenant)
    assert officer
    # The paper household is on the paper-only print sheet; the e-mail ones are not.
    sheet = await client.get(f"/a/{tenant.slug}/notices/{notice}/print?han=all&paper=1")
    assert sheet.status_code == 200
    assert "紙の家" in sheet.text and "メール1" not in sheet.text
    tick = await client.post(
        f"/a/{tenant.slug}/notices/{notice}/receipts/{paper['id']}/tick", headers=await csrf_headers(client)
    )
    assert tick.status_code == 303

    data = (await client.get(f"/a/{tenant.slug}/notices/{notice}/receipts.json")).json()
    assert data["totals"]["households"] == 4 and data["totals"]["confirmed"] == 2
    assert data["totals"]["by_status"] == {"sent": 3, "pending": 1}
    by_household = {h["household_id"]: h for h in data["households"]}
    assert by_household[email_households[1]["id"]]["confirmed_via"] == "web"
    assert by_household[email_households[1]["id"]]["opened_at"] is not None
    assert by_household[email_households[0]["id"]]["confirmed_at"] is None
    assert by_household[paper["id"]]["confirmed_via"] == "officer"

    page = (await client.get(f"/a/{tenant.slug}/notices/{notice}/receipts")).text
    assert "<strong>2</strong> / 4 世帯が確認" in page
