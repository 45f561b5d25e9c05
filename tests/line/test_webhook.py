"""The webhook: signatures, redeliveries, follow, link codes, 読みました, unfollow — events signed and
sent by the fake LINE server to the app, replies going back to the fake through the real SDK."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from chonaikai.accounts.tables import AuditEntry, SignInToken
from chonaikai.delivery.tables import Delivery
from chonaikai.line import messages
from chonaikai.line.links import find_code, hash_code, issue_code
from chonaikai.line.tables import LineLink, LineWebhookEvent
from chonaikai.roster.tables import Household
from tests.delivery.helpers import make_notice
from tests.factories import make_household
from tests.line.conftest import CHANNEL_ID
from tests.line.helpers import line_jobs, linked_households

URL = f"/line/webhook/{CHANNEL_ID}"


def channel(fake):
    return next(iter(fake.state.channels.values()))


async def send(fake, client, kind, user_id, **kw):
    status, body = await fake.send_event(channel(fake), fake.event(kind, user_id, **kw), client=client)
    return status, (json.loads(body) if status == 200 else body)


def last_texts(fake, user_id):
    received = fake.messages_for(user_id)
    assert received, "no reply"
    out = []
    for message in received[-1].messages:
        out.append(message.get("text") or message.get("template", {}).get("text", ""))
    return out


async def test_bad_or_missing_signature_is_refused_and_nothing_recorded(client, line_tenant, fake_line):
    user = fake_line.add_friend()
    event = fake_line.event("follow", user)
    status, _ = await fake_line.send_event(channel(fake_line), event, client=client, signature="AAAA")
    assert status == 400
    status, _ = await fake_line.send_event(channel(fake_line), event, client=client, signature="")
    assert status == 400
    assert await LineWebhookEvent.count() == 0
    assert fake_line.messages_for(user) == []
    # The same event, correctly signed, is accepted.
    status, _ = await fake_line.send_event(channel(fake_line), event, client=client)
    assert status == 200 and await LineWebhookEvent.count() == 1


async def test_unknown_channel_is_404(client, line_tenant, fake_line):
    response = await client.post("/line/webhook/999", content=b"{}", headers={"X-Line-Signature": "x"})
    assert response.status_code == 404


async def test_follow_gets_a_welcome_explaining_how_to_link(client, line_tenant, fake_line):
    user = fake_line.add_friend()
    status, body = await send(fake_line, client, "follow", user)
    assert status == 200 and body["handled"] == 1
    (text,) = last_texts(fake_line, user)
    assert "LINE登録コード" in text and "友だち追加ありがとうございます" in text


async def test_link_code_links_the_household_once(client, line_tenant, fake_line):
    household = await make_household(line_tenant, "見本 太郎", han="1班", channel="paper")
    code, expires = await issue_code(line_tenant, household["id"])
    assert expires - datetime.now(UTC) > timedelta(days=13)
    user = fake_line.add_friend()
    # Typed the way people type: full-width, lower case, with a space.
    typed = "コードは " + code.lower().replace("-", " ").translate(str.maketrans("abcdefghjkmnpqrstuvwxyz23456789", "ａｂｃｄｅｆｇｈｊｋｍｎｐｑｒｓｔｕｖｗｘｙｚ２３４５６７８９")) + " です"
    status, _ = await send(fake_line, client, "message", user, text=typed)
    assert status == 200
    texts = last_texts(fake_line, user)
    assert "見本 太郎 様のお宅とLINEがつながりました" in texts[0]
    link = await LineLink.select().where(LineLink.line_user_id == user).first()
    assert link["household"] == household["id"] and link["active"] and link["association"] == line_tenant.id
    row = await line_tenant.select(Household, Household.channel).where(Household.id == household["id"]).first()
    assert row["channel"] == "line"

    # The same code again, from another phone: used up, said kindly.
    other = fake_line.add_friend()
    await send(fake_line, client, "message", other, text=code)
    assert "もう使われています" in last_texts(fake_line, other)[0]
    assert await LineLink.count().where(LineLink.line_user_id == other) == 0


async def test_wrong_and_expired_codes_are_refused_kindly(client, line_tenant, fake_line):
    household = await make_household(line_tenant, "仮野 花子", han="1班")
    code, _ = await issue_code(line_tenant, household["id"])
    await SignInToken.update({SignInToken.expires_at: datetime.now(UTC) - timedelta(minutes=1)}).where(
        SignInToken.secret_hash == hash_code(code.replace("-", ""))
    )
    user = fake_line.add_friend()
    await send(fake_line, client, "message", user, text=code)
    assert "期限" in last_texts(fake_line, user)[0]
    await send(fake_line, client, "message", user, text="ZZZZ-9999")
    assert "見つかりませんでした" in last_texts(fake_line, user)[0]
    await send(fake_line, client, "message", user, text="こんにちは")
    assert "LINE登録コード" in last_texts(fake_line, user)[0]
    assert await LineLink.count() == 0


async def test_wrong_codes_are_limited_per_user(client, line_tenant, fake_line):
    user = fake_line.add_friend()
    for _ in range(10):
        await send(fake_line, client, "message", user, text="ZZZZ-9999")
    household = await make_household(line_tenant, "例田 一郎", han="1班")
    code, _ = await issue_code(line_tenant, household["id"])
    await send(fake_line, client, "message", user, text=code)
    assert "1時間ほど" in last_texts(fake_line, user)[0]
    assert await LineLink.count() == 0


def test_find_code_reads_what_people_type():
    assert find_code("abcd-2345") == "ABCD2345"
    assert find_code("ＡＢＣＤー２３４５") == "ABCD2345"
    assert find_code("コードはABCD 2345です") == "ABCD2345"
    assert find_code("こんにちは") is None


async def test_postback_reads_becomes_the_receipt_and_is_thanked(client, line_tenant, fake_line):
    ((household_id, (user,)),) = await linked_households(line_tenant, fake_line, 1)
    notice_id = await make_notice(line_tenant, title="防災訓練")
    await line_jobs(line_tenant, notice_id)  # creates the deliveries
    data = messages.postback_data("read", notice_id)
    event = fake_line.event("postback", user, data=data)
    status, body = await fake_line.send_event(channel(fake_line), event, client=client)
    assert status == 200
    row = await line_tenant.select(Delivery).where((Delivery.notice == notice_id) & (Delivery.household == household_id)).first()
    assert row["confirmed_at"] is not None and row["confirmed_via"] == "line"
    assert "読みました" in last_texts(fake_line, user)[0]

    # LINE redelivers the same event: acted on once, no second reply.
    replies = len(fake_line.messages_for(user))
    event["deliveryContext"]["isRedelivery"] = True
    status, body = await fake_line.send_event(channel(fake_line), event, client=client)
    assert status == 200 and json.loads(body) == {"handled": 0, "duplicates": 1}
    assert len(fake_line.messages_for(user)) == replies
    assert await LineWebhookEvent.count() == 1


async def test_forged_postback_data_confirms_nothing(client, line_tenant, fake_line):
    ((household_id, (user,)),) = await linked_households(line_tenant, fake_line, 1)
    notice_id = await make_notice(line_tenant)
    await line_jobs(line_tenant, notice_id)
    await send(fake_line, client, "postback", user, data=f"read:{notice_id}:AAAAAAAAAAAAAAAA")
    row = await line_tenant.select(Delivery).where(Delivery.notice == notice_id).first()
    assert row["confirmed_at"] is None


async def test_open_button_replies_with_a_password_free_link_to_the_notice(client, line_tenant, fake_line):
    ((household_id, (user,)),) = await linked_households(line_tenant, fake_line, 1)
    notice_id = await make_notice(line_tenant)
    await line_jobs(line_tenant, notice_id)
    await send(fake_line, client, "postback", user, data=messages.postback_data("open", notice_id))
    reply = fake_line.messages_for(user)[-1].messages[0]
    uri = reply["template"]["actions"][0]["uri"]
    assert uri.startswith("http://testserver/line/go/")
    response = await client.get(uri.removeprefix("http://testserver"))
    token = (await line_tenant.select(Delivery, Delivery.token).where(Delivery.notice == notice_id).first())["token"]
    assert response.status_code == 303 and response.headers["location"] == f"/r/{token}"
    assert (await client.get(f"/r/{token}")).status_code == 200  # the household's own read link
    # The browser is now that household (a member of the association), with no password.
    from chonaikai.accounts.principal import load_principal  # noqa: PLC0415
    assert (await load_principal(household_id=household_id)).household_in(line_tenant.id) == household_id
    assert "chonaikai_session" in client.cookies
    # A tampered link is refused.
    assert (await client.get(uri.removeprefix("http://testserver")[:-2] + "xx")).status_code == 410


async def test_unfollow_falls_back_to_email_or_paper_and_officers_see_it(client, line_tenant, fake_line):
    (with_mail,) = await linked_households(line_tenant, fake_line, 1, email=True)
    notice_id = await make_notice(line_tenant)
    await line_jobs(line_tenant, notice_id)  # a pending LINE delivery
    status, _ = await send(fake_line, client, "unfollow", with_mail[1][0])
    assert status == 200
    link = await LineLink.select().where(LineLink.line_user_id == with_mail[1][0]).first()
    assert link["active"] is False
    household = await line_tenant.select(Household).where(Household.id == with_mail[0]).first()
    assert household["channel"] == "email"
    delivery = await line_tenant.select(Delivery).where(Delivery.household == with_mail[0]).first()
    assert delivery["channel"] == "email"
    entry = await line_tenant.select(AuditEntry).where(AuditEntry.action == "line.fallback").first()
    assert entry["household"] == with_mail[0] and "メール" in entry["detail"]

    # Following again (unblocking) restores the old link without a new code.
    await send(fake_line, client, "follow", with_mail[1][0])
    assert "おかえりなさい" in last_texts(fake_line, with_mail[1][0])[0]
    household = await line_tenant.select(Household).where(Household.id == with_mail[0]).first()
    assert household["channel"] == "line"


async def test_unfollow_without_email_falls_back_to_paper(client, line_tenant, fake_line):
    ((household_id, (user,)),) = await linked_households(line_tenant, fake_line, 1)
    await send(fake_line, client, "unfollow", user)
    household = await line_tenant.select(Household).where(Household.id == household_id).first()
    assert household["channel"] == "paper"
