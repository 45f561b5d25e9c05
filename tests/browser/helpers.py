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


async def wait_for_mail(mail_sink, address: str, subject_part: str = "", seconds: float = 20.0) -> EmailMessage:
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


def run_worker_once(live_server) -> str:
    """The real `chonaikai worker --once` process, with the live server's address for read links."""
    import os
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "chonaikai", "worker", "--once"],
        env={**os.environ, "CHONAIKAI_BASE_URL": live_server.url},
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, f"worker failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def small_pdf(title: str = "chonaikai test") -> bytes:
    """A one-page PDF with a correct cross-reference table, made here so no file is committed."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        None,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    stream = f"BT /F1 24 Tf 72 760 Td ({title}) Tj ET".encode()
    objects[3] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


async def sign_in_quickly(page, account_id: int, next_path: str) -> None:
    """Sign in through the real confirm page with a link made here (the e-mail part is tested elsewhere)."""
    from chonaikai.accounts import signin

    secret = await signin.create_email_link_secret(account_id)
    await page.goto(f"/signin/{secret}?next={next_path}")
    async with page.expect_navigation():
        await page.get_by_role("button", name="ログインする").click()
