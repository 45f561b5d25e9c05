import email
import email.policy

import pytest

from chonaikai.mail.compose import (
    EXCERPT_CHARS,
    InvalidAddress,
    NoticeMail,
    encode_words,
    invitation_message,
    signin_message,
)

TOKEN = "tok_ABCdef-0123456789xyz"
TITLE = "一斉清掃のお知らせ　11月30日（日）午前8時から集会所前に集合してください"


def parse(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)


def content(part) -> str:
    # Text in base64 is in canonical form (CRLF line ends, RFC 2045); mail readers show lines.
    return part.get_content().replace("\r\n", "\n")


def notice(**kw) -> NoticeMail:
    values = {
        "title": TITLE,
        "association_name": "テスト桜町内会",
        "body_text": "軍手とごみ袋をお持ちください。\n雨天の場合は12月7日に延期します。",
        "attachments": [("地図（集合場所）.pdf", "/a/sakura/files/1"), ("回覧表", "https://example.jp/x.pdf")],
    }
    values.update(kw)
    return NoticeMail(**values)


def test_notice_mail_parses_back_into_japanese_subject_and_bodies():
    data = notice().for_recipient("Taro@Example.jp", TOKEN, "<id-1@chonaikai.invalid>", name="見本 太郎")
    assert data.isascii()  # every byte is 7-bit: nothing depends on 8BITMIME
    message = parse(data)
    assert message["subject"] == f"【テスト桜町内会】{TITLE}"
    assert message["from"].addresses[0].display_name == "テスト桜町内会"
    assert message["to"].addresses[0].display_name == "見本 太郎"
    assert message["to"].addresses[0].addr_spec == "Taro@Example.jp"
    assert message["message-id"] == "<id-1@chonaikai.invalid>"
    assert message.get_content_type() == "multipart/alternative"
    plain, html = message.get_payload()
    for part in (plain, html):
        assert part.get_content_charset() == "utf-8"
        assert part["content-transfer-encoding"] == "base64"
    text = content(plain)
    assert "軍手とごみ袋をお持ちください。\n雨天の場合は12月7日に延期します。" in text
    assert f"http://testserver/r/{TOKEN}" in text
    assert "http://testserver/a/sakura/files/1" in text and "https://example.jp/x.pdf" in text
    page = content(html)
    assert f'href="http://testserver/r/{TOKEN}"' in page
    assert "地図（集合場所）.pdf" in page and "font-size:20px" in page
    assert not [part.defects for part in message.walk() if part.defects]
    assert not message.defects


def test_one_click_unsubscribe_headers():
    message = parse(notice().for_recipient("a@example.jp", TOKEN))
    assert message["list-unsubscribe"] == f"<http://testserver/u/{TOKEN}>"
    assert message["list-unsubscribe-post"] == "List-Unsubscribe=One-Click"
    assert message["message-id"].endswith("@chonaikai.invalid>")
    assert message["date"].datetime is not None


def test_attachments_are_links_not_parts():
    message = parse(notice().for_recipient("a@example.jp", TOKEN))
    assert [part.get_content_type() for part in message.walk()] == [
        "multipart/alternative", "text/plain", "text/html",
    ]


def test_header_lines_stay_short():
    data = notice(association_name="とても長い名前の見本市中央第三丁目東地区町内会連合会").for_recipient(
        "a@example.jp", TOKEN, name="見本 太郎右衛門之介"
    )
    head = data.split(b"\r\n\r\n", 1)[0]
    assert max(len(line) for line in head.split(b"\r\n")) <= 78
    assert parse(data)["subject"].startswith("【とても長い名前の見本市中央第三丁目東地区町内会連合会】")


def test_each_recipient_gets_only_their_own_link():
    mail = notice()
    first = parse(mail.for_recipient("a@example.jp", "token_for_household_a"))
    second = parse(mail.for_recipient("b@example.jp", "token_for_household_b"))
    assert "token_for_household_a" in content(first.get_body(("plain",)))
    assert "token_for_household_a" not in second.as_string()
    assert first["message-id"] != second["message-id"]


def test_a_body_cannot_smuggle_in_a_slot():
    # NUL-marked slots are stripped from the text an officer typed.
    message = parse(notice(body_text="見て \x00read_url\x00 ここ").for_recipient("a@example.jp", TOKEN))
    assert "見て read_url ここ" in content(message.get_body(("plain",)))


def test_html_in_the_body_text_is_escaped_in_the_html_part():
    message = parse(notice(body_text="<script>alert(1)</script> & 会費").for_recipient("a@example.jp", TOKEN))
    page = content(message.get_body(("html",)))
    assert "<script>" not in page and "&lt;script&gt;" in page and "&amp; 会費" in page
    assert "<script>alert(1)</script> & 会費" in content(message.get_body(("plain",)))


def test_long_bodies_are_cut_to_an_excerpt():
    text = content(parse(notice(body_text="あ" * (EXCERPT_CHARS + 500)).for_recipient("a@example.jp", TOKEN)).get_body(("plain",)))
    assert "あ" * EXCERPT_CHARS + "…" in text and "あ" * (EXCERPT_CHARS + 1) not in text
    assert "続きは" in text


@pytest.mark.parametrize(
    "address", ["no-at-sign", "a@b", "taro@例え.jp", "a@example.jp\r\nBcc: x@example.jp", "a b@example.jp", ""]
)
def test_bad_addresses_are_refused(address):
    with pytest.raises(InvalidAddress):
        notice().for_recipient(address, TOKEN)


def test_bad_token_or_message_id_is_refused():
    with pytest.raises(ValueError):
        notice().for_recipient("a@example.jp", "short")
    with pytest.raises(ValueError):
        notice().for_recipient("a@example.jp", "abc/def\r\nX: y")
    with pytest.raises(ValueError):
        notice().for_recipient("a@example.jp", TOKEN, "<x@y>\r\nBcc: z@example.jp")


def test_encoded_words_split_between_whole_characters():
    value = "町内会" * 40
    folded = encode_words(value)
    assert all(len(line) <= 76 for line in folded.split("\r\n"))
    assert str(email.message_from_string(f"Subject: {folded}\n\n", policy=email.policy.default)["subject"]) == value
    assert encode_words("Plain ASCII") == "Plain ASCII"


def test_signin_message():
    message = parse(signin_message("hanako@example.jp", "http://testserver/signin/SECRET?next=/a/sakura/"))
    assert message["subject"] == "電子町内会 ログイン用のリンク"
    assert message["to"] == "hanako@example.jp"
    assert message["auto-submitted"] == "auto-generated"
    text = content(message)
    assert "http://testserver/signin/SECRET?next=/a/sakura/" in text and "15分" in text


def test_invitation_message():
    message = parse(invitation_message("kaikei@example.jp", "テスト桜町内会", "会計", "http://testserver/signin/S"))
    assert message["subject"] == "【テスト桜町内会】会計のご案内"
    assert message["from"].addresses[0].display_name == "テスト桜町内会"
    text = content(message)
    assert "会計として登録されました" in text and "http://testserver/signin/S" in text and "7日" in text
