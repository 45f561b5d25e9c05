"""Building personalised notice e-mails: our pre-rendered template against a fresh
``EmailMessage`` per recipient, in the same run.

Both produce the same message (multipart/alternative, text + large-type HTML, Japanese
subject and names, per-household read and one-click unsubscribe links, Message-ID); the
reference is what the standard library's ``email`` package does when used the usual way.
Prints messages per second for each and the ratio (ours ÷ reference; higher is better).

    .venv/bin/python bench/mail_build.py               # 20,000 messages each
    .venv/bin/python bench/mail_build.py --count 5000
"""

from __future__ import annotations

import argparse
import email.policy
import os
import secrets
import time
from email.headerregistry import Address
from email.message import EmailMessage

os.environ.setdefault("CHONAIKAI_ENV", "test")  # no dev-key warning; nothing is sent

from chonaikai.mail.compose import NoticeMail, _render  # noqa: E402
from chonaikai.settings import get_settings  # noqa: E402

TITLE = "秋の一斉清掃と防災訓練のお知らせ"
ASSOCIATION = "桜ケ丘町内会"
BODY = (
    "日ごろより町内会の活動にご協力いただき、ありがとうございます。\n"
    "11月30日（日）午前8時から、一斉清掃をおこないます。集合は集会所前です。\n"
    "軍手とごみ袋は町内会で用意します。雨の場合は12月7日に延期します。\n\n"
    "清掃のあと、午前10時から防災訓練（消火器の使い方、避難経路の確認）をおこないます。\n"
    "ご家族おそろいでご参加ください。\n"
) * 3
ATTACHMENTS = [("地図（集合場所）.pdf", "/a/sakuragaoka/files/1"), ("訓練の流れ.pdf", "/a/sakuragaoka/files/2")]


def recipients(count: int) -> list[tuple[str, str, str]]:
    return [(f"household{i:06d}@example.jp", f"見本 太郎{i}", secrets.token_urlsafe(24)) for i in range(count)]


def ours(people: list[tuple[str, str, str]]) -> tuple[float, int]:
    started = time.perf_counter()
    mail = NoticeMail(TITLE, ASSOCIATION, BODY, attachments=ATTACHMENTS)
    total = 0
    for address, name, token in people:
        total += len(mail.for_recipient(address, token, name=name))
    elapsed = time.perf_counter() - started
    assert total > 0
    return len(people) / elapsed, total // len(people)


def reference(people: list[tuple[str, str, str]]) -> tuple[float, int]:
    """The usual way: render once, then one EmailMessage per household."""
    settings = get_settings()
    base = settings.base_url
    context = {
        "title": TITLE, "association_name": ASSOCIATION, "body": BODY, "body_html": None,
        "truncated": False, "attachments": [type("L", (), {"label": n, "url": base + u})() for n, u in ATTACHMENTS],
        "read_url": "@@READ@@", "unsubscribe_url": "@@UNSUB@@",
    }
    started = time.perf_counter()
    subject, text = _render("email_text.j2", context)
    _, html = _render("email_html.j2", context)
    total = 0
    for address, name, token in people:
        read, unsubscribe = f"{base}/r/{token}", f"{base}/u/{token}"
        message = EmailMessage(policy=email.policy.SMTP)
        message["From"] = Address(ASSOCIATION, addr_spec="noreply@chonaikai.invalid")
        message["To"] = Address(name, addr_spec=address)
        message["Subject"] = subject
        message["Date"] = email.utils.formatdate()
        message["Message-ID"] = email.utils.make_msgid(domain="chonaikai.invalid")
        message["List-Unsubscribe"] = f"<{unsubscribe}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message.set_content(text.replace("@@READ@@", read).replace("@@UNSUB@@", unsubscribe))
        message.add_alternative(html.replace("@@READ@@", read).replace("@@UNSUB@@", unsubscribe), subtype="html")
        total += len(message.as_bytes())
    elapsed = time.perf_counter() - started
    assert total > 0
    return len(people) / elapsed, total // len(people)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    args = parser.parse_args()
    people = recipients(args.count)
    ours(people[:500]), reference(people[:500])  # warm up: imports, template cache
    reference_rate, reference_size = reference(people)
    our_rate, our_size = ours(people)
    print(f"messages built: {args.count:,} each")
    print(f"EmailMessage per recipient : {reference_rate:>10,.0f} msg/s ({1e3 / reference_rate:.3f} ms each, {reference_size:,} bytes)")
    print(f"NoticeMail.for_recipient   : {our_rate:>10,.0f} msg/s ({1e3 / our_rate:.3f} ms each, {our_size:,} bytes)")
    print(f"ratio ours / reference     : {our_rate / reference_rate:.1f}x")


if __name__ == "__main__":
    main()
