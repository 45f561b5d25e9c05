"""A city circular reaches the 会長 at once (issue 15, part 1): who is told, and what they read."""

from __future__ import annotations

from datetime import UTC, date, datetime

from chonaikai.accounts.roles import Role
from chonaikai.circulars import alerts
from chonaikai.line.tables import LineLink
from tests.auth import make_account
from tests.factories import make_household


async def test_recipients_are_the_chair_and_those_who_may_forward(tenant):
    chair = await make_account("kaicho@example.jp", Role.CHAIR, tenant)
    vice = await make_account("fuku@example.jp", Role.VICE_CHAIR, tenant)
    editor = await make_account("kouhou@example.jp", Role.EDITOR, tenant)
    await make_account("kaikei@example.jp", Role.TREASURER, tenant)
    await make_account("han@example.jp", Role.HAN_LEADER, tenant)
    both = await make_account("both@example.jp", Role.EDITOR, tenant)
    await make_account("both@example.jp", Role.HAN_LEADER, tenant)
    found = (await alerts.alert_recipients([tenant.id]))[tenant.id]
    assert [r.account_id for r in found] == [chair, vice, editor, both]
    assert found[0].role_label == "会長" and found[3].role_label == "広報"  # addressed by the role that forwards


async def test_officer_on_line_through_their_own_household(tenant):
    chair = await make_account("kaicho@example.jp", Role.CHAIR, tenant)
    own = await make_household(tenant, "会長 宅", "1班", email="kaicho@example.jp", channel="line")
    vice_household = await make_household(tenant, "副会長 宅", "1班", channel="line")
    vice = await make_account("fuku@example.jp", Role.VICE_CHAIR, tenant)
    await make_account("fuku@example.jp", Role.MEMBER, tenant, household_id=vice_household["id"])
    stranger = await make_household(tenant, "他人", "1班", channel="line")
    for household, user in ((own, "Uchair"), (vice_household, "Uvice"), (stranger, "Uother")):
        await LineLink.insert(tenant.new(LineLink, household=household["id"], channel_id="c", line_user_id=user,
                                         linked_at=datetime.now(UTC)))
    found = {r.account_id: r for r in (await alerts.alert_recipients([tenant.id]))[tenant.id]}
    assert found[chair].line_user_ids == ["Uchair"]
    assert found[vice].line_user_ids == ["Uvice"]


def test_mail_text_says_what_arrived_by_when_and_where_to_open_it():
    subject, text = alerts.alert_text(
        city_name="見本市", association_name="桜町内会", role_label="会長", title="断水のお知らせ",
        summary="3日の夜に断水します。", answer_by=date(2026, 12, 20),
        link="http://x/signin/abc?next=/a/sakura/circulars/7", forwarded=None,
    )
    assert subject == "【市からの回覧】断水のお知らせ"
    assert "2026年12月20日（日）" in text and "3日の夜に断水します。" in text
    assert "http://x/signin/abc?next=/a/sakura/circulars/7" in text and "桜町内会 会長さま" in text
    subject, text = alerts.alert_text(
        city_name="見本市", association_name="桜町内会", role_label="会長", title="断水のお知らせ",
        summary="", answer_by=None, link="http://x/l", forwarded=12,
    )
    assert subject == "【市からの回覧】断水のお知らせ（12世帯に転送しました）"
    assert "12 世帯" in text and "何もしなくてかまいません" in text and "締め切り" not in text


async def test_render_alert_for_an_entry_waiting_for_review(city, tenant):
    import re

    from chonaikai.accounts import signin
    from chonaikai.circulars import logic
    from chonaikai.circulars.tables import CircularEntry
    from tests.circulars.helpers import send

    chair = await make_account("kaicho@example.jp", Role.CHAIR, tenant)
    circular_id = await send(city, title="断水のお知らせ", summary="3日の夜に断水します。", needs_confirmation=True,
                             answer_by=date(2026, 12, 20))
    await logic.send_circular(circular_id)
    entry = await tenant.select(CircularEntry).first()
    message = await alerts.render_alert(entry["id"], chair)
    assert message.subject == "【市からの回覧】断水のお知らせ" and message.email == "kaicho@example.jp"
    assert "2026年12月20日（日）" in message.text and "3日の夜に断水します。" in message.text
    link = re.search(r"http://testserver/signin/([A-Za-z0-9_-]+)\?next=(\S+)", message.text)
    assert link.group(2) == f"/a/sakura/circulars/{entry['id']}"
    assert await signin.peek_secret(link.group(1))
    assert await alerts.render_alert(entry["id"], chair + 999) is None


# --- end to end: through the outbox, a real SMTP server and the fake LINE server -------------------

import re  # noqa: E402

import pytest  # noqa: E402

from chonaikai.tenancy.tables import Association  # noqa: E402
from tests.auth import csrf_headers  # noqa: E402
from tests.line.conftest import fake_line, line_tenant  # noqa: E402, F401  (fixtures)
from tests.mailsink import text_of  # noqa: E402


@pytest.fixture
def alert_transports():
    """The transports and the circular source, as chonaikai.wiring registers them at start-up."""
    from chonaikai.delivery import alerts as core_alerts
    from chonaikai.wiring import wire

    wire()
    yield core_alerts


async def send_and_deliver(city, core_alerts, **values) -> int:
    from chonaikai.circulars import logic
    from tests.circulars.helpers import send

    circular_id = await send(city, **values)
    await logic.send_circular(circular_id)
    await core_alerts.send_due_alerts()
    return circular_id


async def test_every_chair_gets_exactly_one_mail_with_a_working_inbox_link(
    client, city, tenant, mail_sink, alert_transports
):
    from chonaikai.circulars.tables import CircularEntry
    from tests.factories import make_association

    auto = await make_association(city, "auto-town", "自動町内会", han=["1班"], auto_forward_circulars=True)
    for i in range(3):
        await make_household(auto, f"世帯{i}", "1班", channel="paper")
    await make_account("kaicho@example.jp", Role.CHAIR, tenant)
    await make_account("kouhou@example.jp", Role.EDITOR, tenant)
    await make_account("auto-kaicho@example.jp", Role.CHAIR, auto)
    await make_account("kaikei@example.jp", Role.TREASURER, tenant)  # may not forward: not told
    await send_and_deliver(city, alert_transports, title="断水のお知らせ", summary="3日の夜に断水します。")
    await alert_transports.send_due_alerts()  # a second round sends nothing twice

    assert sorted(e.rcpt_tos[0] for e in mail_sink.envelopes) == [
        "auto-kaicho@example.jp", "kaicho@example.jp", "kouhou@example.jp"]
    [waiting] = mail_sink.to("kaicho@example.jp")
    assert str(waiting["subject"]) == "【市からの回覧】断水のお知らせ"
    [forwarded] = mail_sink.to("auto-kaicho@example.jp")
    assert str(forwarded["subject"]) == "【市からの回覧】断水のお知らせ（3世帯に転送しました）"

    entry = await tenant.select(CircularEntry).first()
    path = re.search(r"http://testserver(/signin/\S+)", text_of(waiting)).group(1)
    assert path.endswith(f"?next=/a/sakura/circulars/{entry['id']}")
    used = await client.post(path, headers=await csrf_headers(client))
    assert used.status_code == 303 and used.headers["location"] == f"/a/sakura/circulars/{entry['id']}"
    page = await client.get(used.headers["location"])
    assert page.status_code == 200 and "断水のお知らせ" in page.text


async def test_line_linked_officer_gets_a_push_from_the_fake_line_server(
    city, line_tenant, fake_line, mail_sink, alert_transports  # noqa: F811
):
    await make_account("line-kaicho@example.jp", Role.CHAIR, line_tenant)
    own = await make_household(line_tenant, "会長 宅", "1班", email="line-kaicho@example.jp", channel="line")
    user = fake_line.add_friend()
    await LineLink.insert(line_tenant.new(LineLink, household=own["id"], channel_id="1650000001", line_user_id=user,
                                          linked_at=datetime.now(UTC)))
    await send_and_deliver(city, alert_transports, title="防災訓練のお知らせ")
    [received] = fake_line.messages_for(user)
    assert received.messages[0]["text"].startswith("【市からの回覧】防災訓練のお知らせ")
    assert "/signin/" in received.messages[0]["text"]
    assert len(mail_sink.to("line-kaicho@example.jp")) == 1


async def test_city_dashboard_shows_officers_reached_and_flags_nobody_with_an_address(
    client, city, tenant, mail_sink, alert_transports
):
    from tests.auth import sign_in_as
    from tests.factories import make_association

    quiet = await make_association(city, "quiet-town", "静か町内会", han=["1班"])
    await make_account("kaicho@example.jp", Role.CHAIR, tenant)
    mail_sink.refuse("fuku@example.jp", 550)
    await make_account("fuku@example.jp", Role.VICE_CHAIR, tenant)
    circular_id = await send_and_deliver(city, alert_transports, title="回覧")
    await Association.select().where(Association.id == quiet.id)
    await sign_in_as(client, "shokuin@example.jp", Role.CITY_STAFF, city_id=city["id"])
    page = await client.get(f"/c/{city['slug']}/circulars/{circular_id}")
    assert page.status_code == 200
    row = page.text[page.text.index("テスト桜町内会"):]
    row = row[:row.index("</tr>")]
    assert "メール 1人に届けました" in row and "届かなかった 1人" in row
    quiet_row = page.text[page.text.index("静か町内会"):]
    quiet_row = quiet_row[:quiet_row.index("</tr>")]
    assert "役員のメールアドレスがありません" in quiet_row
