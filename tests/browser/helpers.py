"""Steps the journeys share: what a person does, through the browser only."""

from __future__ import annotations

import re
from email.message import EmailMessage

from tests.browser.conftest import assert_accessible


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    assert part is not None, f"no text part in {message['subject']}"
    return part.get_content()


def link_in(message: EmailMessage, path: str) -> str:
    """The first link in the e-mail's text whose path starts with ``path`` (e.g. ``/signin/``, ``/r/``)."""
    body = text_of(message)
    match = re.search(r"https?://[^\s<>\"]+" + re.escape(path) + r"[^\s<>\"]*", body)
    assert match, f"no {path} link in the e-mail {message['subject']!r}:\n{body[:1500]}"
    return match.group(0)


async def wait_for_mail(mail_sink, address: str, subject_part: str = "", seconds: float = 10.0) -> EmailMessage:
    import asyncio
    import time

    deadline = time.monotonic() + seconds
    while True:
        found = [m for m in mail_sink.to(address) if subject_part in str(m["subject"])]
        if found:
            return found[-1]
        if time.monotonic() > deadline:
            subjects = [str(m["subject"]) for m in mail_sink.messages]
            raise AssertionError(f"no e-mail to {address} with {subject_part!r} in its subject; got {subjects}")
        await asyncio.sleep(0.05)


async def sign_in_by_email(page, mail_sink, address: str, next_path: str, *, check_a11y: bool = True) -> None:
    """Ask for a sign-in link on /signin, open it from the e-mail, press 「ログインする」."""
    await page.goto(f"/signin?next={next_path}")
    if check_a11y:
        await assert_accessible(page, "/signin")
    await page.get_by_label("メールアドレス").fill(address)
    await page.get_by_role("button", name="メールを送る").click()
    await page.get_by_role("heading", name="メールを送りました").wait_for()
    if check_a11y:
        await assert_accessible(page, "/signin (sent)")
    message = await wait_for_mail(mail_sink, address, "ログイン")
    link = link_in(message, "/signin/")
    await page.goto(link)
    if check_a11y:
        await assert_accessible(page, "/signin/{secret}")
    await page.get_by_role("button", name="ログインする").click()
    await page.wait_for_url(re.compile(re.escape(next_path.rstrip("/")) + r"/?(\?.*)?$"))
