import asyncio

import pytest

from chonaikai.mail.compose import NoticeMail, signin_message
from chonaikai.mail.smtp import SMTPSender, send_one
from chonaikai.settings import get_settings
from tests.mailsink import text_of


def batch(count: int, prefix: str = "h") -> list[tuple[str, bytes]]:
    mail = NoticeMail("回覧のお知らせ", "テスト桜町内会", "本文です。")
    return [
        (f"{prefix}{i}@example.jp", mail.for_recipient(f"{prefix}{i}@example.jp", f"token_{prefix}_{i:06d}"))
        for i in range(count)
    ]


async def test_send_many_over_parallel_reused_connections(mail_sink):
    async with SMTPSender(connections=3) as sender:
        results = await sender.send_many(batch(20))
        assert [r.ok for r in results] == [True] * 20
        assert mail_sink.sessions == 3  # three connections, each used for several messages
        again = await sender.send_many(batch(5, prefix="again"))
        assert all(r.ok for r in again)
        assert mail_sink.sessions == 3  # kept open between batches
    assert len(mail_sink.messages) == 25
    assert {e.rcpt_tos for e in mail_sink.envelopes} == {(f"h{i}@example.jp",) for i in range(20)} | {
        (f"again{i}@example.jp",) for i in range(5)
    }
    assert all(e.mail_from == "noreply@chonaikai.invalid" for e in mail_sink.envelopes)
    received = mail_sink.to("h7@example.jp")[0]
    assert received["subject"] == "【テスト桜町内会】回覧のお知らせ"
    assert "http://testserver/r/token_h_000007" in text_of(received)


async def test_permanent_and_temporary_failures_are_told_apart(mail_sink):
    mail_sink.refuse("h1@example.jp", 550)
    mail_sink.refuse("h2@example.jp", 451)
    async with SMTPSender(connections=2) as sender:
        results = await sender.send_many(batch(4))
    assert [r.ok for r in results] == [True, False, False, True]
    assert results[1].permanent and results[1].code == 550 and "No such user" in results[1].error
    assert results[2].temporary and results[2].code == 451
    assert sorted(e.rcpt_tos[0] for e in mail_sink.envelopes) == ["h0@example.jp", "h3@example.jp"]


async def test_a_dropped_connection_is_opened_again(mail_sink):
    async with SMTPSender(connections=1) as sender:
        assert (await sender.send_many(batch(1)))[0].ok
        mail_sink.stop()  # drops the kept connection
        mail_sink.start()
        results = await sender.send_many(batch(3, prefix="after"))
    assert all(r.ok for r in results), results
    assert len(mail_sink.to("after2@example.jp")) == 1


async def test_server_down_gives_temporary_failures_quickly(mail_sink):
    mail_sink.stop()
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with SMTPSender(connections=2) as sender:
        results = await sender.send_many(batch(50))
    assert loop.time() - started < 5
    assert all(r.temporary for r in results)
    assert "not usable" in results[-1].error
    mail_sink.start()
    async with SMTPSender(connections=2) as sender:  # back up: the same messages go through
        assert all(r.ok for r in await sender.send_many(batch(50)))
    assert len(mail_sink.messages) == 50


async def test_bad_envelope_address_is_permanent(mail_sink):
    async with SMTPSender() as sender:
        result = await sender.send("not an address", b"Subject: x\r\n\r\nx\r\n")
    assert result.permanent and not mail_sink.messages


async def test_send_one_uses_the_settings(mail_sink):
    assert get_settings().smtp_port == mail_sink.port
    result = await send_one("hanako@example.jp", signin_message("hanako@example.jp", "http://testserver/signin/S"))
    assert result.ok
    assert "http://testserver/signin/S" in text_of(mail_sink.to("hanako@example.jp")[0])


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_login_and_a_wrong_password():
    from dataclasses import replace

    from tests.mailsink import MailSink

    sink = MailSink(login=("chonaikai", "s3cret")).start()
    try:
        good = replace(get_settings(), smtp_port=sink.port, smtp_user="chonaikai", smtp_password="s3cret")
        async with SMTPSender(good) as sender:
            assert all(r.ok for r in await sender.send_many(batch(3)))
        assert len(sink.messages) == 3
        # A wrong password is our fault, not the households': temporary, so they are retried later.
        bad = replace(good, smtp_password="wrong")
        async with SMTPSender(bad) as sender:
            results = await sender.send_many(batch(3))
        assert all(r.temporary for r in results) and "not usable" in results[0].error
        assert len(sink.messages) == 3
    finally:
        sink.stop()
