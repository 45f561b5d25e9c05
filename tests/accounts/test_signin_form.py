import re
from datetime import UTC, datetime, timedelta

from chonaikai.accounts import signin_limits
from chonaikai.accounts.roles import Role
from chonaikai.accounts.tables import RateLimitHit, SignInToken
from tests.auth import csrf_headers, make_account
from tests.mailsink import text_of

LINK = re.compile(r"http://testserver(/signin/[A-Za-z0-9_-]+(?:\?next=\S+)?)")


async def ask(client, email: str, next: str | None = None):
    data = {"email": email}
    if next is not None:
        data["next"] = next
    return await client.post("/signin", data=data, headers=await csrf_headers(client))


def link_in(message) -> str:
    found = LINK.search(text_of(message))
    assert found, text_of(message)
    return found.group(1)


async def test_signin_page_has_a_big_email_field(client):
    page = await client.get("/signin?next=/a/sakura/")
    assert page.status_code == 200
    assert 'type="email"' in page.text and 'name="email"' in page.text and "メールを送る" in page.text
    assert 'value="/a/sakura/"' in page.text


async def test_known_address_gets_a_link_that_works_once(client, tenant, mail_sink):
    await make_account("kaicho@example.jp", Role.CHAIR, tenant)
    answer = await ask(client, "  Kaicho@Example.JP ", next="/a/sakura/")
    assert answer.status_code == 200 and "メールを送りました" in answer.text
    [message] = mail_sink.messages
    assert mail_sink.envelopes[0].rcpt_tos == ("kaicho@example.jp",)
    assert message["subject"] == "電子町内会 ログイン用のリンク"
    path = link_in(message)
    assert path.endswith("?next=/a/sakura/")

    assert (await client.get(path)).status_code == 200
    used = await client.post(path, headers=await csrf_headers(client))
    assert used.status_code == 303 and used.headers["location"] == "/a/sakura/"
    again = await client.post(path, headers=await csrf_headers(client))
    assert again.status_code == 410


async def test_full_width_address_typed_on_a_phone_is_understood(client, tenant, mail_sink):
    await make_account("hanako@example.jp")
    answer = await ask(client, "ｈａｎａｋｏ＠ｅｘａｍｐｌｅ．ｊｐ")
    assert answer.status_code == 200
    assert len(mail_sink.to("hanako@example.jp")) == 1


async def test_unknown_address_gets_the_same_page_and_no_mail(client, tenant, mail_sink):
    await make_account("known@example.jp")
    known = await ask(client, "known@example.jp")
    unknown = await ask(client, "nobody@example.jp")
    assert unknown.status_code == known.status_code == 200
    assert unknown.text.replace("nobody@example.jp", "X") == known.text.replace("known@example.jp", "X")
    assert len(mail_sink.messages) == 1 and not mail_sink.to("nobody@example.jp")
    assert await SignInToken.count() == 1


async def test_malformed_address_says_so_and_sends_nothing(client, tenant, mail_sink):
    answer = await ask(client, "taro.example.jp")
    assert answer.status_code == 400 and "メールアドレスの形" in answer.text
    assert 'value="taro.example.jp"' in answer.text
    assert not mail_sink.messages and await RateLimitHit.count() == 0


async def test_mails_per_address_are_spaced_out_and_the_form_answers_the_same(client, tenant, mail_sink):
    # (issue 14: the sixth request for an address answered 429 and locked its owner out for an hour)
    await make_account("many@example.jp")
    answers = [await ask(client, "many@example.jp") for _ in range(6)]
    assert {answer.status_code for answer in answers} == {200}
    assert len({answer.text for answer in answers}) == 1
    assert len(mail_sink.messages) == 1  # the first mail's link is alive for 15 minutes
    # Another address from the same place still gets its mail.
    await make_account("other@example.jp")
    assert (await ask(client, "other@example.jp")).status_code == 200
    assert len(mail_sink.to("other@example.jp")) == 1


async def test_the_gap_between_mails_doubles_and_stays_within_a_links_lifetime():
    gaps = [signin_limits.gap_after(n) for n in range(8)]
    assert gaps[:5] == [timedelta(0), timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4), timedelta(minutes=8)]
    assert max(gaps) == signin_limits.MAX_GAP < timedelta(minutes=15)


async def test_a_client_asking_very_often_is_slowed_down_not_refused(client, tenant, mail_sink, monkeypatch):
    import time

    monkeypatch.setattr(signin_limits, "SLOW_DOWN_SECONDS", 0.5)
    await make_account("last@example.jp")
    for i in range(signin_limits.REQUESTS_PER_CLIENT):
        assert (await ask(client, f"try{i}@example.jp")).status_code == 200
    started = time.monotonic()
    answer = await ask(client, "last@example.jp")
    assert answer.status_code == 200 and time.monotonic() - started >= 0.5
    assert len(mail_sink.to("last@example.jp")) == 1


async def test_a_mail_is_due_again_after_the_gap(client, tenant, mail_sink):
    await make_account("again@example.jp")
    await ask(client, "again@example.jp")
    await ask(client, "again@example.jp")
    assert len(mail_sink.messages) == 1
    await RateLimitHit.update({RateLimitHit.created_at: datetime.now(UTC) - timedelta(minutes=2)}, force=True)
    await ask(client, "again@example.jp")
    assert len(mail_sink.messages) == 2


async def test_link_expires_after_15_minutes(client, tenant, mail_sink):
    await make_account("slow@example.jp")
    await ask(client, "slow@example.jp")
    path = link_in(mail_sink.messages[0])
    token = await SignInToken.select().first()
    assert token["expires_at"] - token["created_at"] == timedelta(minutes=15)
    await SignInToken.update({SignInToken.expires_at: datetime.now(UTC) - timedelta(seconds=1)}, force=True)
    assert (await client.get(path)).status_code == 410
    assert (await client.post(path, headers=await csrf_headers(client))).status_code == 410


async def test_next_pointing_elsewhere_is_dropped(client, tenant, mail_sink):
    await make_account("safe@example.jp")
    await ask(client, "safe@example.jp", next="https://evil.example/")
    await ask(client, "safe@example.jp", next="//evil.example/")
    for message in mail_sink.messages:
        assert "?next=" not in link_in(message) and "evil" not in text_of(message)


async def test_post_without_csrf_is_refused(client, tenant, mail_sink):
    await make_account("csrf@example.jp")
    response = await client.post("/signin", data={"email": "csrf@example.jp"})
    assert response.status_code == 403 and not mail_sink.messages


async def test_strangers_on_officer_pages_land_on_the_signin_form(client, tenant):
    # The 401 handler sends browsers to /signin?next=…; that page must exist.
    response = await client.get("/signin?next=/a/sakura/officers")
    assert response.status_code == 200 and 'value="/a/sakura/officers"' in response.text
