"""Webhook events from LINE: follow, text messages (link codes), postbacks (読みました), unfollow.

Each event is acted on once: its ``webhookEventId`` is recorded in the same transaction as
its effects (LINE redelivers events it thinks were lost, and then the id is already there).
Replies are sent after the transaction commits; they are free of quota and best-effort.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from linebot.v3.webhook import WebhookParser
from linebot.v3.webhooks import (
    Event,
    FollowEvent,
    MessageEvent,
    PostbackEvent,
    TextMessageContent,
    UnfollowEvent,
)

from chonaikai.db import write_transaction
from chonaikai.delivery import api as delivery
from chonaikai.line import links, messages
from chonaikai.line.config import LineChannel
from chonaikai.line.tables import LineLink, LineWebhookEvent
from chonaikai.roster.tables import Household
from chonaikai.settings import get_settings

log = logging.getLogger(__name__)


class BadSignature(Exception):
    pass


class BadBody(Exception):
    """Correctly signed, but not a JSON object with a list of events: answered 400."""


# Texts other parts answer themselves (安否確認: 「無事」 counts as safe): (tenant, household id,
# text) → the reply, or None when the text is not theirs. Registered at import, so this module
# needs nothing from above it.
TextAnswer = Callable[[Any, int, str], Awaitable[str | None]]
TEXT_ANSWERS: list[TextAnswer] = []


def register_text_answer(handler: TextAnswer) -> TextAnswer:
    TEXT_ANSWERS.append(handler)
    return handler


@dataclass
class Reply:
    token: str
    messages: list[dict[str, Any]]


@dataclass
class WebhookResult:
    handled: int = 0
    duplicates: int = 0
    replies: list[Reply] = field(default_factory=list)


def parse(channel: LineChannel, body: str, signature: str) -> list[Any]:
    """Events of a request, after checking ``X-Line-Signature`` with the channel secret.

    BadSignature: not signed by LINE. BadBody: signed, but no JSON object with an ``events``
    list. An event this app cannot use (no ``type`` or ``webhookEventId``, a type the SDK does
    not know, fields of the wrong kind) is skipped and logged; the others are handled."""
    if not signature:
        raise BadSignature("missing X-Line-Signature")
    parser = WebhookParser(channel.secret)
    if not parser.signature_validator.validate(body, signature):
        raise BadSignature("bad X-Line-Signature")
    try:
        payload = json.loads(body)
    except ValueError:
        raise BadBody("the body is not JSON") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        raise BadBody("the body has no list of events")
    events = []
    for raw in payload["events"]:
        if not (isinstance(raw, dict) and isinstance(raw.get("type"), str) and isinstance(raw.get("webhookEventId"), str)
                and raw["webhookEventId"]):
            log.warning("LINE webhook (channel %s): event skipped, no type or webhookEventId: %.200r", channel.channel_id, raw)
            continue
        try:
            event = Event.from_dict(raw)
        except Exception as error:  # an unknown type (ValueError) or fields of the wrong kind
            log.warning("LINE webhook (channel %s): %s event skipped: %s", channel.channel_id, raw["type"], error)
            continue
        if event is None or not getattr(event, "webhook_event_id", None):
            log.warning("LINE webhook (channel %s): %s event skipped", channel.channel_id, raw["type"])
            continue
        events.append(event)
    return events


async def _first_time(channel_id: str, event: Any) -> bool:
    rows = await LineWebhookEvent.insert(
        LineWebhookEvent(webhook_event_id=event.webhook_event_id, channel_id=channel_id,
                         event_type=str(event.type)[:30], received_at=datetime.now(UTC))
    ).on_conflict(action="DO NOTHING").returning(LineWebhookEvent.id)
    return bool(rows)


def _url(path: str) -> str:
    return get_settings().base_url + path


def _home_button(household_id: int, message: str) -> dict:
    return messages.link_button(message, "わが家のページ", _url(messages.signed_link(household_id)))


async def _on_follow(channel: LineChannel, user_id: str) -> list[dict]:
    household = await links.reactivate(channel.channel_id, user_id)
    if household is not None:
        return [_home_button(household["id"], "おかえりなさい。また町内会のお知らせをこのLINEでお届けします。")]
    if await links.active_link(channel.channel_id, user_id):
        return [messages.text("町内会のお知らせをこのLINEでお届けしています。")]
    return [messages.text(messages.WELCOME)]


async def _on_text(channel: LineChannel, user_id: str, text: str) -> list[dict]:
    code = links.find_code(text)
    link = await links.active_link(channel.channel_id, user_id)
    if code is None:
        if link is None:
            return [messages.text(messages.HOW_TO_LINK)]
        if TEXT_ANSWERS:
            tenant = await links.tenant_by_id(link["association"])
            for answer in TEXT_ANSWERS:
                reply = await answer(tenant, link["household"], text)
                if reply:
                    return [messages.text(reply)]
        return [_home_button(link["household"], "わが家のページを開くには、下のボタンを押してください。")]
    result = await links.link_with_code(channel.channel_id, user_id, code)
    if not result.ok:
        return [messages.text({
            "wrong": messages.CODE_WRONG,
            "expired": messages.CODE_EXPIRED,
            "used": messages.CODE_USED,
            "other_channel": messages.CODE_OTHER_CHANNEL,
            "too_many": messages.TOO_MANY_TRIES,
        }[result.reason])]
    household = result.household or {}
    return [
        messages.text(
            f"{household.get('name', '')} 様のお宅とLINEがつながりました。\n"
            f"これから「{result.association_name}」のお知らせがこのLINEに届きます。\n"
            "お知らせを読んだら「読みました」のボタンを押してください。"
        ),
        _home_button(household["id"], "わが家のページは、下のボタンから開けます（パスワードはいりません）。"),
    ]


async def _on_postback(channel: LineChannel, user_id: str, data: str) -> list[dict]:
    postback = messages.parse_postback(data)
    link = await links.active_link(channel.channel_id, user_id)
    if postback is None:
        return [messages.text("このボタンは使えなくなりました。新しいお知らせのボタンを押してください。")]
    if link is None:
        return [messages.text(messages.HOW_TO_LINK)]
    tenant = await links.tenant_by_id(link["association"])
    row = await delivery.delivery_of(tenant.id, postback.notice_id, link["household"])
    if row is None:
        return [messages.text("このお知らせは見つかりませんでした。")]
    now = datetime.now(UTC)
    if postback.action == "ans":  # a choice of the notice's question (出欠, アンケート, 総会)
        from chonaikai.line.answers import answer_postback

        reply = await answer_postback(tenant, row, postback,
                                      lambda token: _url(messages.signed_link(link["household"], token)))
        await delivery.confirm_by_household(tenant.id, postback.notice_id, link["household"], "line", now=now)
        return reply
    if postback.action == "open":
        await delivery.open_by_household(tenant.id, row["id"], now)
        return [messages.link_button("お知らせを開くには、下のボタンを押してください。", "お知らせを開く",
                                     _url(messages.signed_link(link["household"], row["token"])))]
    # 読みました: the first press counts; later presses only get the thanks again.
    await delivery.confirm_by_household(tenant.id, postback.notice_id, link["household"], "line", now=now)
    return [messages.text(f"ありがとうございます。「読みました」を{tenant.name}に伝えました。")]


async def handle_events(channel: LineChannel, events: list[Any]) -> WebhookResult:
    result = WebhookResult()
    for event in events:
        user_id = getattr(getattr(event, "source", None), "user_id", None)
        async with write_transaction():
            if not await _first_time(channel.channel_id, event):
                result.duplicates += 1
                continue
            result.handled += 1
            if not user_id:
                continue  # group chats and the like: nothing to do
            reply: list[dict] = []
            if isinstance(event, FollowEvent):
                reply = await _on_follow(channel, user_id)
            elif isinstance(event, UnfollowEvent):
                await links.deactivate(channel.channel_id, user_id, "LINEでブロックされました")
            elif isinstance(event, MessageEvent) and isinstance(event.message, TextMessageContent):
                reply = await _on_text(channel, user_id, event.message.text)
            elif isinstance(event, PostbackEvent):
                reply = await _on_postback(channel, user_id, event.postback.data)
        token = getattr(event, "reply_token", None)
        if reply and token:
            result.replies.append(Reply(token, reply))
    return result


async def household_for_signed_link(value: str) -> tuple[dict[str, Any], str] | None:
    """(household row, target) for ``/line/go/{value}``: the household must still be linked."""
    parsed = messages.read_signed_link(value)
    if parsed is None:
        return None
    household_id, target = parsed
    household = await Household.select().where(Household.id == household_id).first()
    if household is None or household["moved_out"]:
        return None
    # An old button must not sign in a household that unfollowed or was unlinked since.
    tenant = await links.tenant_by_id(household["association"])
    if not await tenant.count(LineLink).where((LineLink.household == household_id) & (LineLink.active == True)):  # noqa: E712
        return None
    return household, target
