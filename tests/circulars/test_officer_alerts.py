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
