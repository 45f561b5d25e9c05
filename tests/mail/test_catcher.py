import re
from dataclasses import replace

import httpx
import pytest

from chonaikai.accounts.roles import Role
from chonaikai.devtools import mail_catcher as catcher
from chonaikai.mail.compose import NoticeMail, signin_message
from chonaikai.mail.smtp import SMTPSender
from chonaikai.settings import get_settings
from tests.auth import csrf_headers, make_account
from tests.mailsink import free_port


@pytest.fixture
def mailbox(tmp_path, monkeypatch):
    monkeypatch.setattr(catcher, "DEV_MAIL_DIR", tmp_path / "dev-mail")
    port = free_port()
    controller = catcher.start_catcher("127.0.0.1", port)
    yield replace(get_settings(), smtp_port=port)
    controller.stop()


@pytest.fixture
async def dev_client():
    from chonaikai.app import create_app, create_asgi_app

    app = create_asgi_app(app=create_app(replace(get_settings(), env="dev")))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        yield client


async def test_caught_mail_is_listed_and_its_link_signs_in(mailbox, dev_client, tenant):
    account_id = await make_account("kaicho@example.jp", Role.CHAIR, tenant)
    from chonaikai.accounts import signin

    secret = await signin.create_email_link_secret(account_id)
    async with SMTPSender(mailbox) as sender:
        result = await sender.send(
            "kaicho@example.jp", signin_message("kaicho@example.jp", signin.signin_link(secret, "/a/sakura/"))
        )
    assert result.ok
    [caught] = catcher.list_caught()
    assert caught.subject == "電子町内会 ログイン用のリンク" and caught.to == "kaicho@example.jp"

    listing = await dev_client.get("/dev/mail")
    assert listing.status_code == 200 and f'href="/dev/mail/{caught.id}"' in listing.text
    page = await dev_client.get(f"/dev/mail/{caught.id}")
    assert page.status_code == 200
    link = re.search(r'<a href="(http://testserver/signin/[^"]+)"', page.text).group(1)
    path = link.removeprefix("http://testserver").replace("&amp;", "&")
    assert (await dev_client.get(path)).status_code == 200
    used = await dev_client.post(path, headers=await csrf_headers(dev_client))
    assert used.status_code == 303 and used.headers["location"] == "/a/sakura/"


async def test_html_part_is_shown_sandboxed(mailbox, dev_client):
    data = NoticeMail("回覧", "テスト桜町内会", "本文<b>です</b>").for_recipient("a@example.jp", "token_abcdefgh")
    async with SMTPSender(mailbox) as sender:
        assert (await sender.send("a@example.jp", data)).ok
    [caught] = catcher.list_caught()
    page = await dev_client.get(f"/dev/mail/{caught.id}")
    assert "&lt;b&gt;" in page.text and "<b>です" not in page.text
    html = await dev_client.get(f"/dev/mail/{caught.id}/html")
    assert html.status_code == 200 and "font-size:20px" in html.text
    assert html.headers["content-security-policy"].startswith("sandbox")


async def test_unknown_or_crafted_ids_are_not_found(mailbox, dev_client):
    for message_id in ("1234", "..%2F..%2Fetc%2Fpasswd", "0000000000000000000-deadbeef"):
        assert (await dev_client.get(f"/dev/mail/{message_id}")).status_code == 404


async def test_no_mailbox_outside_dev(client):
    assert (await client.get("/dev/mail")).status_code == 404


def test_demo_starts_the_catcher_only_when_no_mail_server_is_named(tmp_path, monkeypatch):
    monkeypatch.setattr(catcher, "DEV_MAIL_DIR", tmp_path / "dev-mail")
    assert catcher.start_demo_mail({"CHONAIKAI_ENV": "production"}) is None
    assert catcher.start_demo_mail({"CHONAIKAI_ENV": "dev", "CHONAIKAI_SMTP_HOST": "mail.example.jp"}) is None
    busy = free_port()
    env = {"CHONAIKAI_SMTP_PORT": str(busy)}
    blocker = catcher.start_catcher("127.0.0.1", busy)  # the usual port is taken: another is chosen
    try:
        started = catcher.start_demo_mail(env)
        assert started is not None
        controller, port = started
        controller.stop()
        assert port != busy and env["CHONAIKAI_SMTP_HOST"] == "127.0.0.1" and env["CHONAIKAI_SMTP_PORT"] == str(port)
    finally:
        blocker.stop()
