"""Mail sent on an officer's or city staff's behalf is bounded per account per hour (issue 14,
Low): 催促 of a city circular and officer invitations could mail-bomb hundreds of associations
or any address."""

from __future__ import annotations

from chonaikai.accounts import officer_limits
from chonaikai.accounts.roles import Role
from chonaikai.circulars.tables import CircularReminder
from tests.auth import csrf_headers, sign_in_as
from tests.circulars.helpers import make_city_associations, send


async def test_city_reminders_are_bounded_per_account_per_hour(client, city, mail_sink):
    await make_city_associations(city)
    circulars = [await send(city, title=f"回覧{number}") for number in range(officer_limits.REMINDS_PER_HOUR + 2)]
    await sign_in_as(client, "staff@city.example", Role.CITY_STAFF, city_id=city["id"])
    headers = await csrf_headers(client)
    answers = [
        await client.post(f"/c/{city['slug']}/circulars/{circular_id}/remind", headers={**headers, "accept": "text/html"})
        for circular_id in circulars
    ]
    assert [a.status_code for a in answers[: officer_limits.REMINDS_PER_HOUR]] == [303] * officer_limits.REMINDS_PER_HOUR
    refused = answers[officer_limits.REMINDS_PER_HOUR]
    assert refused.status_code == 429 and "1時間" in refused.text
    reminded = {row["circular"] for row in await CircularReminder.select(CircularReminder.circular)}
    assert reminded == set(circulars[: officer_limits.REMINDS_PER_HOUR])


async def test_officer_invitations_are_bounded_per_account_per_hour(client, tenant, mail_sink):
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    headers = await csrf_headers(client)
    for number in range(officer_limits.INVITES_PER_HOUR):
        invited = await client.post("/a/sakura/officers/invite", data={"email": f"o{number}@example.jp", "role": "editor"},
                                    headers=headers)
        assert invited.status_code == 303, invited.text
    refused = await client.post("/a/sakura/officers/invite", data={"email": "more@example.jp", "role": "editor"},
                                headers={**headers, "accept": "text/html"})
    assert refused.status_code == 429 and "1時間" in refused.text
    assert not mail_sink.to("more@example.jp")
