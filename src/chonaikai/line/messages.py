"""What a member sees in LINE, and the signed data behind its buttons.

A notice goes to every linked user of a channel as ONE identical message (so one multicast
call carries 500 recipients): the title, the association, the first lines, and two buttons —
「読みました」 and 「お知らせを見る」. Both are postbacks carrying the notice id, signed with
``CHONAIKAI_SECRET_KEY``. Who pressed comes from the webhook itself (LINE's ``source.userId``,
under LINE's signature), and our link table turns it into a household — so a forwarded
screenshot or a copied message cannot confirm for anyone else. 「お知らせを見る」 answers with
a reply (free of quota) holding that household's own read link.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass

from chonaikai.settings import get_settings

FIRST_LINES = 3
FIRST_LINES_CHARS = 180
HOME_LINK_SECONDS = 24 * 3600  # a reply's sign-in link works for a day


def _mac(purpose: str, payload: str, length: int = 16) -> str:
    key = get_settings().secret_key.encode()
    digest = hmac.new(key, f"line:{purpose}:{payload}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:length]


def postback_data(action: str, notice_id: int) -> str:
    """``read:12:<mac>`` / ``open:12:<mac>`` (LINE allows 300 characters)."""
    return f"{action}:{notice_id}:{_mac(action, str(notice_id))}"


def answer_data(notice_id: int, choice_index: int, people: int = 0) -> str:
    """``ans:12:0:0:<mac>``: the answer button for choice ``choice_index`` of notice 12 (the same
    for every recipient, so one multicast carries it; who pressed comes from the webhook)."""
    payload = f"{notice_id}:{choice_index}:{people}"
    return f"ans:{payload}:{_mac('ans', payload)}"


@dataclass(frozen=True)
class Postback:
    action: str
    notice_id: int
    choice_index: int | None = None  # "ans": which choice of the notice's question
    people: int = 0  # "ans" for 出席: how many (0: not said yet)


def parse_postback(data: str) -> Postback | None:
    answer = re.fullmatch(r"ans:(\d{1,12}):(\d{1,2}):(\d{1,2}):([A-Za-z0-9_-]{16})", data or "")
    if answer:
        notice, index, people, mac = answer.groups()
        if not hmac.compare_digest(mac, _mac("ans", f"{notice}:{index}:{people}")):
            return None
        return Postback("ans", int(notice), int(index), int(people))
    match = re.fullmatch(r"(read|open):(\d{1,12}):([A-Za-z0-9_-]{16})", data or "")
    if not match:
        return None
    action, notice, mac = match.groups()
    if not hmac.compare_digest(mac, _mac(action, notice)):
        return None
    return Postback(action, int(notice))


def signed_link(household_id: int, target: str = "", lifetime: int = HOME_LINK_SECONDS) -> str:
    """A path ``/line/go/…`` that signs the household in (no password) and goes to ``target``
    (a read-link token, or empty for the household's page)."""
    payload = base64.urlsafe_b64encode(
        json.dumps([household_id, int(time.time()) + lifetime, target], separators=(",", ":")).encode()
    ).decode().rstrip("=")
    return f"/line/go/{payload}.{_mac('go', payload, 22)}"


def read_signed_link(value: str) -> tuple[int, str] | None:
    """(household id, target) from a ``signed_link`` value, or None if forged or expired."""
    payload, _, mac = value.rpartition(".")
    if not payload or not hmac.compare_digest(mac, _mac("go", payload, 22)):
        return None
    try:
        household_id, expires, target = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, TypeError):
        return None
    if not isinstance(household_id, int) or not isinstance(target, str) or expires < time.time():
        return None
    return household_id, target


def first_lines(body: str) -> str:
    """The start of a notice for a phone screen: Markdown marks removed, a few lines, cut short."""
    lines = []
    for raw in (body or "").splitlines():
        line = re.sub(r"^\s{0,3}(#{1,6}\s+|[-*+]\s+|>\s?|\d+\.\s+)", "", raw)
        line = re.sub(r"[*_`]{1,3}", "", line)
        line = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", line).strip()
        if line:
            lines.append(line)
        if len(lines) == FIRST_LINES:
            break
    text = "\n".join(lines)
    return text if len(text) <= FIRST_LINES_CHARS else text[: FIRST_LINES_CHARS - 1] + "…"


def _text(text: str, **style: object) -> dict:
    return {"type": "text", "text": text, "wrap": True, **style}


def _button(action: dict, primary: bool = False) -> dict:
    return {"type": "button", "style": "primary" if primary else "secondary", "height": "md", "action": action}


BUTTON_CHOICES = 4  # a message shows at most 4 answer buttons; more go to quick replies
PEOPLE_QUICK_REPLIES = 10


def _postback(label: str, data: str) -> dict:
    return {"type": "postback", "label": label[:20], "data": data, "displayText": label[:300]}


def notice_message(association_name: str, notice_id: int, title: str, body: str, *, urgent: bool = False,
                   needs_confirmation: bool = False, choices: tuple[str, ...] | list[str] = (),
                   deadline: str = "") -> dict:
    """The one Flex message every recipient of a notice gets (identical, so multicast works).

    ``choices``: the notice's question — one postback button per choice (up to 4; with more,
    every choice is offered as a quick reply) instead of 「読みました」."""
    heading = f"【至急】{title}" if urgent else title
    contents = [
        _text(association_name, size="sm", color="#555555"),
        _text(heading, size="xl", weight="bold"),
    ]
    start = first_lines(body)
    if start:
        contents.append(_text(start, size="md"))
    open_button = _button({"type": "postback", "label": "お知らせを見る", "data": postback_data("open", notice_id),
                           "displayText": "お知らせを見る"})
    quick: list[dict] = []
    if choices:
        ask = "お返事をお願いします。下のボタンから選んでください。"
        if deadline:
            ask += f"（締め切り：{deadline}）"
        contents.append(_text(ask, size="md", color="#b00020"))
        buttons = [_button(_postback(choice, answer_data(notice_id, index)), primary=True)
                   for index, choice in enumerate(choices[:BUTTON_CHOICES])]
        if len(choices) > BUTTON_CHOICES:
            quick = [{"type": "action", "action": _postback(choice, answer_data(notice_id, index))}
                     for index, choice in enumerate(choices)]
        footer = [*buttons, open_button]
    else:
        if needs_confirmation:
            contents.append(_text("読んだら「読みました」を押してください。", size="md", color="#b00020"))
        footer = [
            _button({"type": "postback", "label": "読みました", "data": postback_data("read", notice_id),
                     "displayText": "読みました"}, primary=True),
            open_button,
        ]
    message = {
        "type": "flex",
        "altText": f"【{association_name}】{heading}"[:400],
        "contents": {
            "type": "bubble",
            "body": {"type": "box", "layout": "vertical", "spacing": "md", "contents": contents},
            "footer": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": footer},
        },
    }
    if quick:
        message["quickReply"] = {"items": quick}
    return message


def people_question(notice_id: int, choice_index: int, choice: str) -> dict:
    """「何人で出席しますか」 with quick replies 1–10 (each a signed answer postback)."""
    items = [{"type": "action", "action": _postback(f"{n}人", answer_data(notice_id, choice_index, n))}
             for n in range(1, PEOPLE_QUICK_REPLIES + 1)]
    return {"type": "text", "text": f"「{choice}」ですね。何人で{choice}しますか？下から選んでください。",
            "quickReply": {"items": items}}


def answer_thanks(association_name: str, answer_text: str, changed: bool = True) -> dict:
    if not changed:
        return text(f"お返事「{answer_text}」はもう受け付けています。ありがとうございます。")
    return text(f"ありがとうございます。お返事「{answer_text}」を{association_name}に伝えました。\n"
                "締め切りまでは、もう一度ボタンを押すと変えられます。")


def text(message: str) -> dict:
    return {"type": "text", "text": message}


def link_button(message: str, label: str, uri: str) -> dict:
    """A short text with one big button opening ``uri`` (a buttons template: plain and large)."""
    return {
        "type": "template",
        "altText": message[:400],
        "template": {"type": "buttons", "text": message[:160], "actions": [{"type": "uri", "label": label[:20], "uri": uri}]},
    }


WELCOME = (
    "友だち追加ありがとうございます。\n"
    "町内会のお知らせを、このLINEでお届けします。\n\n"
    "はじめに、町内会の役員からもらった「LINE登録コード」（英字と数字8文字、例: ABCD-2345）を、"
    "このトークにそのまま送ってください。\n\n"
    "コードがわからないときは、班長さんか町内会の役員にお尋ねください。"
)
HOW_TO_LINK = (
    "このLINEはまだ町内会とつながっていません。\n"
    "役員からもらった「LINE登録コード」（英字と数字8文字、例: ABCD-2345）を送ってください。"
)
CODE_WRONG = (
    "そのコードは見つかりませんでした。\n"
    "もう一度、8文字をよく確かめて送ってください（例: ABCD-2345）。"
)
CODE_EXPIRED = (
    "そのコードは期限（14日間）が過ぎています。\n"
    "お手数ですが、班長さんか役員に新しいコードをお願いしてください。"
)
CODE_USED = (
    "そのコードはもう使われています（コードは1回だけ使えます）。\n"
    "ご家族がすでに登録したかもしれません。わからないときは役員にお尋ねください。"
)
CODE_OTHER_CHANNEL = (
    "そのコードは別のLINEアカウント用です。\n"
    "コードと一緒にもらった案内のLINEアカウントに送ってください。"
)
TOO_MANY_TRIES = (
    "コードの入力が続けて間違っていました。\n"
    "1時間ほどしてから、もう一度送ってください。"
)
