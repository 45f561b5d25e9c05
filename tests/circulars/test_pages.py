"""City staff pages and the association inbox, through the real app, sessions and CSRF."""

from __future__ import annotations

import csv
import html
import io
from datetime import UTC, datetime, timedelta

from chonaikai.accounts.api_tokens import create_token
from chonaikai.accounts.roles import Role
from chonaikai.circulars import logic
from chonaikai.circulars.tables import Circular, CircularEntry, CircularReminder
from chonaikai.notices.tables import Notice, NoticeHan
from chonaikai.roster.tables import Han, Household
from tests.auth import csrf_headers, make_account, sign_in_as
from tests.circulars.helpers import make_city_associations, send
from tests.factories import make_association, make_city, make_household
from tests.mailsink import text_of

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


async def confirm_send(client, asked):
    """The 「送信してよいですか」 page: press 「送信する」 with what it carries (the files too)."""
    import re

    assert asked.status_code == 200 and "送信してよいですか" in asked.text, asked.text[:500]
    form = asked.text.split('action="/c/', 1)[1]
    fields: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form):
        if name != "_csrf_token":
            fields.setdefault(name, []).append(html.unescape(value))
    action = "/c/" + form.split('"', 1)[0]
    return await client.post(action, data={**fields, "confirmed": "1"}, headers=await csrf_headers(client))


async def test_city_staff_creates_a_circular_with_a_pdf_and_sees_the_dashboard(client, city):
    await make_city_associations(city)
    await sign_in_as(client, "staff@city.example", Role.CITY_STAFF, city_id=city["id"])
    page = await client.get(f"/c/{city['slug']}/circulars/new")
    assert page.status_code == 200 and "東部地区" in page.text
    response = await client.post(
        f"/c/{city['slug']}/circulars/",
        data={"title": "ごみ出しの変更", "summary": "4月から燃えるごみは火曜と金曜です。", "category": "ごみ",
              "target_kind": "districts", "districts": ["東部地区"], "when": "now"},
        files={"attachments": ("案内.pdf", PDF, "application/pdf")},
        headers=await csrf_headers(client),
    )
    response = await confirm_send(client, response)
    assert response.status_code == 303, response.text
    circular = await Circular.select().first()
    assert response.headers["location"].startswith(f"/c/{city['slug']}/circulars/{circular['id']}")
    assert circular["status"] == "sent"
    assert await CircularEntry.count() == 2  # the two associations of 東部地区
    dashboard = await client.get(response.headers["location"])
    assert dashboard.status_code == 200
    assert "東一町内会" in dashboard.text and "西一自治会" not in dashboard.text
    assert "<svg" in dashboard.text or "まだ届いた世帯はありません" in dashboard.text
    # The forwarded notice links the PDF, and the link works without signing in.
    notice = await Notice.select(Notice.body).first()
    assert "/circular-files/" in notice["body"]
    link = notice["body"].split("(http://testserver", 1)[1].split(")", 1)[0]
    pdf = await client.get(link)
    assert pdf.status_code == 200 and pdf.content == PDF


async def test_bad_form_input_changes_nothing_and_says_why_in_japanese(client, city):
    await make_city_associations(city)
    await sign_in_as(client, "staff@city.example", Role.CITY_STAFF, city_id=city["id"])
    response = await client.post(
        f"/c/{city['slug']}/circulars/",
        data={"title": "", "summary": "本文", "target_kind": "all", "when": "now"},
        files={"attachments": ("virus.pdf", b"MZ\x90\x00", "application/pdf")},
        headers=await csrf_headers(client),
    )
    assert response.status_code == 400
    assert "題名を入れてください" in response.text and "PDFではありません" in response.text
    assert await Circular.count() == 0


async def test_city_staff_cannot_see_another_citys_circulars(client, city):
    await make_city_associations(city)
    circular_id = await send(city)
    other = await make_city(slug="othercity", name="他市", code="012025")
    await sign_in_as(client, "staff@other.example", Role.CITY_STAFF, city_id=other["id"])
    assert (await client.get(f"/c/{city['slug']}/circulars/")).status_code == 403
    assert (await client.get(f"/c/{city['slug']}/circulars/{circular_id}")).status_code == 403
    assert (await client.get(f"/c/{city['slug']}/circulars/{circular_id}/export.csv")).status_code == 403
    # Their own city's path with our circular's id: not found, not shown.
    assert (await client.get(f"/c/othercity/circulars/{circular_id}")).status_code == 404
    assert (await client.get(f"/c/othercity/circulars/{circular_id}/export.csv")).status_code == 404


async def test_city_staff_cannot_read_households_or_association_inboxes(client, city):
    east_auto, *_ = await make_city_associations(city)
    await make_household(east_auto, "個人 情報子", han="1班", email="secret-person@example.jp", phone="090-0000-1111")
    circular_id = await send(city)
    await sign_in_as(client, "staff@city.example", Role.CITY_STAFF, city_id=city["id"])
    dashboard = await client.get(f"/c/{city['slug']}/circulars/{circular_id}")
    exported = await client.get(f"/c/{city['slug']}/circulars/{circular_id}/export.csv")
    for body in (dashboard.text, exported.text):
        assert "個人 情報子" not in body and "secret-person@example.jp" not in body and "090-0000-1111" not in body
    # Association pages refuse city staff: the inbox, the roster, who-has-read of the forwarded notice.
    notice_id = (await east_auto.select(CircularEntry, CircularEntry.notice).first())["notice"]
    household_id = (await east_auto.select(Household, Household.id).first())["id"]
    for path in (
        f"/a/{east_auto.slug}/circulars/",
        f"/a/{east_auto.slug}/circulars/1",
        f"/a/{east_auto.slug}/roster",
        f"/a/{east_auto.slug}/roster/{household_id}",
        f"/a/{east_auto.slug}/roster/export.csv",
        f"/a/{east_auto.slug}/notices/{notice_id}/receipts",
        f"/a/{east_auto.slug}/notices/{notice_id}/receipts.csv",
        f"/a/{east_auto.slug}/notices/{notice_id}/receipts.json",
    ):
        response = await client.get(path)
        assert response.status_code == 403, path
        assert "secret-person@example.jp" not in response.text
    # A city token on the association receipts API: refused too.
    token = await create_token(role="city_staff", city_slug=city["slug"])
    api = await client.get(f"/api/v1/notices/{notice_id}/receipts", headers={"Authorization": f"Bearer {token.secret}"})
    assert api.status_code in (403, 404) and "secret-person@example.jp" not in api.text


async def test_review_association_opens_forwards_to_chosen_han(client, city):
    _, east_review, _ = await make_city_associations(city)
    circular_id = await send(city, needs_confirmation=True)
    entry = await east_review.select(CircularEntry).first()
    await sign_in_as(client, "chair@east-review.example", Role.CHAIR, east_review)
    inbox = await client.get(f"/a/{east_review.slug}/circulars/")
    assert inbox.status_code == 200 and "防災訓練のお知らせ" in inbox.text and "未開封" in inbox.text
    page = await client.get(f"/a/{east_review.slug}/circulars/{entry['id']}")
    assert page.status_code == 200
    opened = await east_review.select(CircularEntry).first()
    assert opened["state"] == "opened" and opened["opened_at"] is not None
    han2 = await east_review.select(Han, Han.id).where(Han.name == "2班").first()
    response = await client.post(
        f"/a/{east_review.slug}/circulars/{entry['id']}/forward",
        data={"cover_note": "集合場所は公民館です。", "audience": "han", "han": [str(han2["id"])]},
        headers=await csrf_headers(client),
    )
    assert response.status_code == 303, response.text
    forwarded = await east_review.select(CircularEntry).first()
    assert forwarded["state"] == "forwarded" and forwarded["opened_at"] == opened["opened_at"]
    notice = await east_review.select(Notice).where(Notice.id == forwarded["notice"]).first()
    assert notice["audience"] == "han" and notice["source_city"] == city["id"] and notice["category"] == "回覧"
    assert "集合場所は公民館です。" in notice["body"] and "防災訓練" in notice["body"]
    assert [row["han"] for row in await east_review.select(NoticeHan, NoticeHan.han)] == [han2["id"]]
    # The city sees it.
    board = await logic.dashboard(circular_id)
    state = {row["slug"]: row["state"] for row in board["rows"]}
    assert state == {"east-auto": "forwarded", "east-review": "forwarded", "west-review": "pending"}
    # Forwarding twice is refused.
    again = await client.post(
        f"/a/{east_review.slug}/circulars/{entry['id']}/forward", data={"audience": "all"},
        headers=await csrf_headers(client),
    )
    assert again.status_code == 400 and "処理済み" in again.text
    assert await east_review.count(Notice) == 1


async def test_decline_needs_a_reason_which_the_city_sees(client, city):
    _, _, west_review = await make_city_associations(city)
    circular_id = await send(city)
    entry = await west_review.select(CircularEntry).first()
    await sign_in_as(client, "vice@west.example", Role.VICE_CHAIR, west_review)
    url = f"/a/{west_review.slug}/circulars/{entry['id']}/decline"
    empty = await client.post(url, data={"reason": "  "}, headers=await csrf_headers(client))
    assert empty.status_code == 400 and "理由を書いてください" in empty.text
    assert (await west_review.select(CircularEntry).first())["state"] == "pending"
    response = await client.post(url, data={"reason": "当地区には該当する道路がありません"}, headers=await csrf_headers(client))
    assert response.status_code == 303
    assert await west_review.count(Notice) == 0
    await sign_in_as(client, "staff@city.example", Role.CITY_STAFF, city_id=city["id"])
    dashboard = await client.get(f"/c/{city['slug']}/circulars/{circular_id}")
    assert "当地区には該当する道路がありません" in dashboard.text and "回覧しない" in dashboard.text


async def test_officers_see_only_their_own_associations_state(client, city):
    east_auto, east_review, west_review = await make_city_associations(city)
    await send(city)
    west_entry = await west_review.select(CircularEntry).first()
    await logic.decline_entry(west_review, west_entry["id"], "西の秘密の理由")
    await sign_in_as(client, "chair@east-review.example", Role.CHAIR, east_review)
    inbox = await client.get(f"/a/{east_review.slug}/circulars/")
    assert inbox.status_code == 200
    assert "西の秘密の理由" not in inbox.text and "西一自治会" not in inbox.text and "東一町内会" not in inbox.text
    # Another association's inbox, their entry through our path, and the city dashboard: all refused.
    assert (await client.get(f"/a/{west_review.slug}/circulars/")).status_code == 403
    assert (await client.get(f"/a/{east_review.slug}/circulars/{west_entry['id']}")).status_code == 404
    forward = await client.post(
        f"/a/{east_review.slug}/circulars/{west_entry['id']}/forward", data={"audience": "all"},
        headers=await csrf_headers(client),
    )
    assert forward.status_code == 404
    assert (await client.get(f"/c/{city['slug']}/circulars/")).status_code == 403
    assert (await west_review.select(CircularEntry).first())["state"] == "declined"


async def test_members_and_han_leaders_cannot_review(client, city):
    _, east_review, _ = await make_city_associations(city)
    await send(city)
    await sign_in_as(client, "han@east.example", Role.HAN_LEADER, east_review)
    assert (await client.get(f"/a/{east_review.slug}/circulars/")).status_code == 403


async def test_reminder_at_most_once_per_24_hours_per_association(client, city):
    east_auto, east_review, west_review = await make_city_associations(city)
    chair = await make_account("chair@east-review.example", Role.CHAIR, east_review)
    await make_account("vice@east-review.example", Role.VICE_CHAIR, east_review)
    await make_account("treasurer@east-review.example", Role.TREASURER, east_review)
    assert chair
    circular_id = await send(city)
    now = datetime.now(UTC)
    first = await logic.remind(circular_id, now=now)
    assert sorted(first.reminded) == sorted([east_review.id, west_review.id])  # east-auto already forwarded
    again = await logic.remind(circular_id, now=now + timedelta(hours=23))
    assert again.reminded == [] and again.skipped_recent == 2
    # One of them forwards meanwhile; a day later only the other is reminded.
    entry = await east_review.select(CircularEntry).first()
    await logic.forward_entry(east_review, entry["id"])
    later = await logic.remind(circular_id, now=now + timedelta(hours=24, minutes=1))
    assert later.reminded == [west_review.id]
    reminders = await CircularReminder.select().order_by(CircularReminder.id)
    assert len(reminders) == 3
    east = [r for r in reminders if r["association"] == east_review.id][0]
    assert sorted(east["recipients"] if isinstance(east["recipients"], list) else __import__("json").loads(east["recipients"])) == [
        "chair@east-review.example", "vice@east-review.example"]
    # Through the page: the button reports how many were reminded and records nothing new inside 24 h.
    await sign_in_as(client, "staff@city.example", Role.CITY_STAFF, city_id=city["id"])
    response = await client.post(f"/c/{city['slug']}/circulars/{circular_id}/remind", headers=await csrf_headers(client))
    assert response.status_code == 303
    followed = await client.get(response.headers["location"])
    assert "0の町内会に催促しました" in followed.text
    assert await CircularReminder.count() == 3


async def test_csv_export_of_the_per_association_table(client, city):
    _, _, west_review = await make_city_associations(city)
    circular_id = await send(city)
    entry = await west_review.select(CircularEntry).first()
    await logic.decline_entry(west_review, entry["id"], "=HYPERLINK(\"http://evil\")")
    await sign_in_as(client, "staff@city.example", Role.CITY_STAFF, city_id=city["id"])
    response = await client.get(f"/c/{city['slug']}/circulars/{circular_id}/export.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][0].startswith("町内会") and len(rows) == 4
    by_slug = {row[1]: row for row in rows[1:]}
    assert by_slug["east-auto"][3] == "転送済み" and by_slug["east-auto"][5]
    assert by_slug["west-review"][3] == "回覧しない"
    assert by_slug["west-review"][7].startswith("'=")  # not a live formula in a spreadsheet
    assert by_slug["east-review"][3] == "未開封"


async def test_city_invite_command_grants_city_staff_and_prints_a_link(city, capsys):
    from chonaikai.accounts.principal import load_principal
    from chonaikai.accounts.signin import find_account_by_email
    from chonaikai.circulars.commands import invite_city_staff

    link = await invite_city_staff(city["slug"], "New.Staff@City.example")
    assert link.startswith("http://testserver/signin/") and link.endswith(f"?next=/c/{city['slug']}/circulars/")
    await invite_city_staff(city["slug"], "new.staff@city.example")  # twice: still one grant
    account = await find_account_by_email("new.staff@city.example")
    principal = await load_principal(account["id"])
    assert [g.role for g in principal.grants] == [Role.CITY_STAFF]
    assert principal.city_ids(logic_permission()) == {city["id"]}


def logic_permission():
    from chonaikai.accounts.roles import Permission

    return Permission.CITY_CIRCULAR_SEND


async def test_auto_forward_association_inbox_shows_forwarded(client, city):
    east_auto, *_ = await make_city_associations(city)
    await send(city)
    await sign_in_as(client, "chair@east-auto.example", Role.CHAIR, east_auto)
    inbox = await client.get(f"/a/{east_auto.slug}/circulars/")
    assert "自動で会員にお知らせ" in inbox.text and "転送済み" in inbox.text


async def test_other_city_association_is_never_targeted(city):
    other = await make_city(slug="othercity", name="他市", code="012025")
    await make_association(other, "far", auto_forward_circulars=True)
    await make_city_associations(city)
    await send(city, target_kind="all")
    assert await Notice.count() == 1  # only east-auto of our city


async def test_reminder_button_emails_chair_and_vice_chair_once(client, city, mail_sink):
    _, east_review, _ = await make_city_associations(city)
    await make_account("chair@east-review.example", Role.CHAIR, east_review)
    await make_account("vice@east-review.example", Role.VICE_CHAIR, east_review)
    await make_account("editor@east-review.example", Role.EDITOR, east_review)
    circular_id = await send(city, associations=["east-review"], target_kind="associations")
    entry = await east_review.select(CircularEntry).first()
    await sign_in_as(client, "staff@city.example", Role.CITY_STAFF, city_id=city["id"])
    url = f"/c/{city['slug']}/circulars/{circular_id}/remind"
    response = await client.post(url, headers=await csrf_headers(client))
    assert response.status_code == 303
    assert "1の町内会に催促しました" in (await client.get(response.headers["location"])).text
    messages = await mail_sink.wait_for(2)
    assert sorted(m["To"].addresses[0].addr_spec for m in messages) == [
        "chair@east-review.example", "vice@east-review.example"
    ]
    body = text_of(messages[0])
    assert "防災訓練のお知らせ" in body and f"/a/east-review/circulars/{entry['id']}" in body
    assert [row["status"] for row in await CircularReminder.select(CircularReminder.status)] == ["sent"]
    again = await client.post(url, headers=await csrf_headers(client))
    assert again.status_code == 303
    assert len(mail_sink.messages) == 2 and await CircularReminder.count() == 1


async def test_scheduled_from_the_form_in_japan_time_and_past_times_refused(client, city):
    await make_city_associations(city)
    await sign_in_as(client, "staff@city.example", Role.CITY_STAFF, city_id=city["id"])
    url = f"/c/{city['slug']}/circulars/"
    form = {"title": "予約の回覧", "summary": "あとで送ります。", "target_kind": "all", "when": "later"}
    past = await client.post(url, data={**form, "publish_at": "2020-01-01T09:00"}, headers=await csrf_headers(client))
    assert past.status_code == 400 and "送る日時が過ぎています" in past.text
    later = (datetime.now(UTC) + timedelta(days=2)).astimezone(__import__("zoneinfo").ZoneInfo("Asia/Tokyo"))
    response = await client.post(
        url, data={**form, "publish_at": later.strftime("%Y-%m-%dT%H:%M")}, headers=await csrf_headers(client)
    )
    assert await Circular.count() == 0  # asked first
    response = await confirm_send(client, response)
    assert response.status_code == 303
    circular = await Circular.select().first()
    assert circular["status"] == "scheduled"
    assert abs((circular["publish_at"] - later).total_seconds()) < 60  # 09:00 in the form is 09:00 JST
    assert await CircularEntry.count() == 0


async def test_reminder_mail_refused_for_now_is_tried_again(city, mail_sink):
    _, east_review, _ = await make_city_associations(city)
    await make_account("chair@east-review.example", Role.CHAIR, east_review)
    circular_id = await send(city, associations=["east-review"], target_kind="associations")
    await logic.remind(circular_id)
    mail_sink.refuse("chair@east-review.example", 451)
    assert await logic.send_recorded_reminders() == 0
    assert (await CircularReminder.select(CircularReminder.status).first())["status"] == "recorded"
    mail_sink.refusals.clear()
    assert await logic.send_recorded_reminders() == 1
    assert (await CircularReminder.select(CircularReminder.status).first())["status"] == "sent"
    assert await logic.send_recorded_reminders() == 0  # nothing sent twice


async def test_sending_asks_first_with_the_number_of_associations_and_households(client, city):
    east_auto, east_review, west = await make_city_associations(city)  # 東部: 3 + 2 households, 西部: 2
    await make_household(east_review, "転出 済", moved_out=True)  # moved out: not reached
    await sign_in_as(client, "staff@city.example", Role.CITY_STAFF, city_id=city["id"])
    asked = await client.post(
        f"/c/{city['slug']}/circulars/",
        data={"title": "防災訓練", "summary": "9月1日に訓練をします。", "category": "防災",
              "target_kind": "districts", "districts": ["東部地区"], "when": "now"},
        files={"attachments": ("案内.pdf", PDF, "application/pdf")},
        headers=await csrf_headers(client),
    )
    assert asked.status_code == 200 and "送信してよいですか" in asked.text
    assert '<strong class="reach-associations">2</strong>' in asked.text
    assert '<strong class="reach-households">5</strong>' in asked.text
    assert await Circular.count() == 0 and await CircularEntry.count() == 0 and await Notice.count() == 0
    # 「戻って直す」 keeps what was typed and the PDF, and still creates nothing.
    back = await client.post(
        f"/c/{city['slug']}/circulars/",
        data={"title": "防災訓練", "summary": "9月1日に訓練をします。", "category": "防災",
              "target_kind": "districts", "districts": ["東部地区"], "when": "now", "action": "edit",
              "carried_name": "案内.pdf", "carried_data": __import__("base64").b64encode(PDF).decode()},
        headers=await csrf_headers(client),
    )
    assert back.status_code == 200 and 'value="防災訓練"' in back.text and "案内.pdf（そのまま送ります）" in back.text
    assert await Circular.count() == 0
    sent = await confirm_send(client, asked)
    assert sent.status_code == 303
    assert await CircularEntry.count() == 2
    notice = await Notice.select(Notice.body).first()
    assert "/circular-files/" in notice["body"]  # the PDF came through the confirmation step


async def test_a_draft_is_saved_without_asking(client, city):
    await make_city_associations(city)
    await sign_in_as(client, "staff@city.example", Role.CITY_STAFF, city_id=city["id"])
    response = await client.post(
        f"/c/{city['slug']}/circulars/",
        data={"title": "下書き", "summary": "まだ送りません。", "target_kind": "all", "when": "draft"},
        headers=await csrf_headers(client),
    )
    assert response.status_code == 303 and await Circular.count() == 1
