"""A fake LINE Messaging API on loopback, for tests and the demo (there is no internet here,
and LINE's terms forbid load-testing their platform).

It speaks the documented endpoints chonaikai calls, the way LINE answers them:

- ``POST /v2/bot/message/multicast`` ``/push`` ``/reply``: bearer token checked; body checked
  (1-500 user ids, 1-5 messages, each with a ``type``); ``X-Line-Retry-Key`` honoured — a key
  already accepted answers 409 ``{"message": "The retry key is already accepted"}`` with
  ``X-Line-Accepted-Request-Id`` and sends nothing again; a full month answers 429
  ``You have reached your monthly limit.``. Like LINE, a multicast to a user who blocked the
  account (or never added it) answers 200 and delivers nothing.
- ``GET /v2/bot/message/quota`` and ``/quota/consumption``.
- ``GET /v2/bot/profile/{userId}``: 404 for unknown or blocking users.

Test controls live under ``/_fake/``: received messages, injected failures (429/500, timeouts
before or after accepting), quota, friends and blocks. ``send_event`` posts signed webhook events
(follow, unfollow, message, postback) to the app. ``GET /_fake/`` is a preview page for the demo:
what each user received, with working buttons.

Run for the demo: ``python -m chonaikai.devtools.fake_line_server --port 8090``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import html
import itertools
import json
import re
import secrets
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

USER_ID_RE = re.compile(r"^U[0-9a-f]{32}$")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
MESSAGE_TYPES = {"text", "sticker", "image", "video", "audio", "location", "imagemap", "template", "flex"}
MAX_MULTICAST = 500
MAX_MESSAGES = 5
_ULID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def make_user_id() -> str:
    return "U" + secrets.token_hex(16)


def _ulid() -> str:
    # A webhookEventId is a ULID: 26 characters of Crockford base32.
    return "".join(secrets.choice(_ULID_ALPHABET) for _ in range(26))


def sign(body: bytes, channel_secret: str) -> str:
    """``X-Line-Signature``: Base64 of HMAC-SHA256 of the raw body with the channel secret."""
    return base64.b64encode(hmac.new(channel_secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass
class Fault:
    """An injected failure for the next ``times`` calls to ``path`` (e.g. ``multicast``)."""

    status: int = 500
    times: int = 1
    delay: float = 0.0  # seconds to wait before answering (longer than the client's timeout = a timeout)
    accept: bool = False  # deliver the messages first, then fail / time out: "accepted, answer lost"


@dataclass
class Received:
    user_id: str
    messages: list[dict[str, Any]]
    via: str  # multicast | push | reply
    retry_key: str | None
    at: float


@dataclass
class FakeChannel:
    channel_id: str
    access_token: str
    secret: str
    webhook_url: str = ""


@dataclass
class FakeLineState:
    channels: dict[str, FakeChannel] = field(default_factory=dict)  # by access token
    friends: dict[str, dict[str, Any]] = field(default_factory=dict)  # user id -> profile
    blocked: set[str] = field(default_factory=set)
    inbox: dict[str, list[Received]] = field(default_factory=lambda: defaultdict(list))
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (user id, why): LINE says 200 anyway
    accepted_keys: dict[tuple[str, str], str] = field(default_factory=dict)  # (channel, key) -> request id
    faults: dict[str, list[Fault]] = field(default_factory=lambda: defaultdict(list))
    calls: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # path -> requests answered 2xx/4xx/5xx
    in_flight: int = 0  # multicast requests being answered now
    max_in_flight: int = 0  # the most at one moment (how many calls a sender really overlaps)
    quota_limit: int | None = None  # None: type "none" (no limit)
    usage: int = 0
    reply_tokens: dict[str, str] = field(default_factory=dict)  # token -> user id
    webhook_log: list[dict[str, Any]] = field(default_factory=list)

    def reset(self) -> None:
        channels = self.channels
        self.__init__()  # type: ignore[misc]
        self.channels = channels


def _error(status: int, message: str, details: list[dict[str, str]] | None = None, **headers: str) -> web.Response:
    body: dict[str, Any] = {"message": message}
    if details:
        body["details"] = details
    return web.json_response(body, status=status, headers={"x-line-request-id": str(uuid.uuid4()), **headers})


class FakeLineServer:
    def __init__(self, state: FakeLineState | None = None) -> None:
        self.state = state or FakeLineState()
        self.app = web.Application(client_max_size=4 * 1024 * 1024)
        self.app.add_routes(
            [
                web.post("/v2/bot/message/multicast", self.multicast),
                web.post("/v2/bot/message/push", self.push),
                web.post("/v2/bot/message/reply", self.reply),
                web.get("/v2/bot/message/quota", self.quota),
                web.get("/v2/bot/message/quota/consumption", self.consumption),
                web.get("/v2/bot/profile/{user_id}", self.profile),
                web.get("/_fake/", self.preview),
                web.get("/_fake/messages", self.fake_messages),
                web.post("/_fake/fault", self.fake_fault),
                web.post("/_fake/quota", self.fake_quota),
                web.post("/_fake/friend", self.fake_friend),
                web.post("/_fake/block", self.fake_block),
                web.post("/_fake/reset", self.fake_reset),
                web.post("/_fake/event", self.fake_event),
            ]
        )
        self._runner: web.AppRunner | None = None
        self.port: int = 0
        self._session: aiohttp.ClientSession | None = None

    # ---- set-up -------------------------------------------------------------------------

    def add_channel(self, channel_id: str, access_token: str, secret: str, webhook_url: str = "") -> FakeChannel:
        channel = FakeChannel(channel_id, access_token, secret, webhook_url)
        self.state.channels[access_token] = channel
        return channel

    def add_friend(self, user_id: str | None = None, display_name: str = "見本 利用者") -> str:
        user_id = user_id or make_user_id()
        self.state.friends[user_id] = {"userId": user_id, "displayName": display_name, "language": "ja"}
        self.state.blocked.discard(user_id)
        return user_id

    def block(self, user_id: str) -> None:
        self.state.blocked.add(user_id)

    def fail_next(self, path: str, status: int = 500, times: int = 1, delay: float = 0.0, accept: bool = False) -> None:
        self.state.faults[path].append(Fault(status=status, times=times, delay=delay, accept=accept))

    def set_quota(self, limit: int | None, used: int = 0) -> None:
        self.state.quota_limit, self.state.usage = limit, used

    def messages_for(self, user_id: str) -> list[Received]:
        return list(self.state.inbox.get(user_id, []))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> FakeLineServer:
        self._runner = web.AppRunner(self.app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._session:
            await self._session.close()
        if self._runner:
            await self._runner.cleanup()

    # ---- helpers ------------------------------------------------------------------------

    def _channel(self, request: web.Request) -> FakeChannel | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        return self.state.channels.get(header[len("Bearer ") :])

    async def _fault(self, path: str, before_accept: bool) -> Fault | None:
        queue = self.state.faults.get(path)
        if not queue:
            return None
        fault = queue[0]
        if fault.accept == before_accept:
            return None
        fault.times -= 1
        if fault.times <= 0:
            queue.pop(0)
        return fault

    async def _fault_response(self, fault: Fault) -> web.Response:
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.status == 429:
            return _error(429, "The API rate limit has been exceeded. Try again later.")
        return _error(fault.status, "An error occurred in the LINE Platform")

    async def _json(self, request: web.Request) -> dict[str, Any] | None:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        return body if isinstance(body, dict) else None

    @staticmethod
    def _check_messages(messages: Any) -> list[dict[str, str]]:
        if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
            return [{"message": f"Size must be between 1 and {MAX_MESSAGES}", "property": "messages"}]
        for index, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("type") not in MESSAGE_TYPES:
                return [{"message": "Invalid message type", "property": f"messages[{index}].type"}]
            if message["type"] == "text" and not (isinstance(message.get("text"), str) and 0 < len(message["text"]) <= 5000):
                return [{"message": "Length must be between 1 and 5000", "property": f"messages[{index}].text"}]
            if message["type"] in ("flex", "template") and not (
                isinstance(message.get("altText"), str) and 0 < len(message["altText"]) <= 400
            ):
                return [{"message": "Length must be between 1 and 400", "property": f"messages[{index}].altText"}]
        return []

    def _deliver(self, to: list[str], messages: list[dict[str, Any]], via: str, retry_key: str | None) -> None:
        now = time.time()
        for user_id in to:
            if user_id in self.state.blocked:
                self.state.dropped.append((user_id, "blocked"))
            elif via != "reply" and user_id not in self.state.friends:
                self.state.dropped.append((user_id, "not a friend"))
            else:
                self.state.inbox[user_id].append(Received(user_id, messages, via, retry_key, now))

    async def _send(self, request: web.Request, path: str) -> web.Response:
        channel = self._channel(request)
        if channel is None:
            return _error(401, "Authentication failed. Confirm that the access token in the authorization header is valid.")
        body = await self._json(request)
        if body is None:
            return _error(400, "The request body has 1 error(s)", [{"message": "Invalid JSON", "property": ""}])
        retry_key = request.headers.get("X-Line-Retry-Key")
        if retry_key is not None and not UUID_RE.match(retry_key):
            return _error(400, "The value for the 'X-Line-Retry-Key' header is invalid")
        if path == "multicast":
            to = body.get("to")
            if not isinstance(to, list) or not 1 <= len(to) <= MAX_MULTICAST:
                return _error(400, "The request body has 1 error(s)",
                              [{"message": f"Size must be between 1 and {MAX_MULTICAST}", "property": "to"}])
        else:
            to = [body.get("to")]
        if not all(isinstance(user_id, str) and USER_ID_RE.match(user_id) for user_id in to):
            return _error(400, "The request body has 1 error(s)", [{"message": "Invalid user id", "property": "to"}])
        details = self._check_messages(body.get("messages"))
        if details:
            return _error(400, "The request body has 1 error(s)", details)

        fault = await self._fault(path, before_accept=True)
        if fault is not None:
            return await self._fault_response(fault)
        if retry_key is not None and (channel.channel_id, retry_key) in self.state.accepted_keys:
            return _error(409, "The retry key is already accepted",
                          **{"x-line-accepted-request-id": self.state.accepted_keys[(channel.channel_id, retry_key)]})
        cost = len(to)
        if self.state.quota_limit is not None and self.state.usage + cost > self.state.quota_limit:
            return _error(429, "You have reached your monthly limit.")
        request_id = str(uuid.uuid4())
        if retry_key is not None:
            self.state.accepted_keys[(channel.channel_id, retry_key)] = request_id
        self.state.usage += cost
        self._deliver(to, body["messages"], path, retry_key)
        fault = await self._fault(path, before_accept=False)
        if fault is not None:
            return await self._fault_response(fault)
        if path == "multicast":
            return web.json_response({}, headers={"x-line-request-id": request_id})
        sent = [{"id": str(next(_message_ids)), "quoteToken": secrets.token_urlsafe(12)} for _ in body["messages"]]
        return web.json_response({"sentMessages": sent}, headers={"x-line-request-id": request_id})

    # ---- the documented API ---------------------------------------------------------------

    async def multicast(self, request: web.Request) -> web.Response:
        self.state.calls["multicast"] += 1
        self.state.in_flight += 1
        self.state.max_in_flight = max(self.state.max_in_flight, self.state.in_flight)
        try:
            return await self._send(request, "multicast")
        finally:
            self.state.in_flight -= 1

    async def push(self, request: web.Request) -> web.Response:
        self.state.calls["push"] += 1
        return await self._send(request, "push")

    async def reply(self, request: web.Request) -> web.Response:
        self.state.calls["reply"] += 1
        if self._channel(request) is None:
            return _error(401, "Authentication failed. Confirm that the access token in the authorization header is valid.")
        body = await self._json(request)
        if body is None:
            return _error(400, "The request body has 1 error(s)", [{"message": "Invalid JSON", "property": ""}])
        user_id = self.state.reply_tokens.pop(str(body.get("replyToken")), None)
        if user_id is None:
            return _error(400, "Invalid reply token")
        details = self._check_messages(body.get("messages"))
        if details:
            return _error(400, "The request body has 1 error(s)", details)
        self._deliver([user_id], body["messages"], "reply", None)  # replies cost no quota
        sent = [{"id": str(next(_message_ids)), "quoteToken": secrets.token_urlsafe(12)} for _ in body["messages"]]
        return web.json_response({"sentMessages": sent})

    async def quota(self, request: web.Request) -> web.Response:
        if self._channel(request) is None:
            return _error(401, "Authentication failed.")
        if self.state.quota_limit is None:
            return web.json_response({"type": "none"})
        return web.json_response({"type": "limited", "value": self.state.quota_limit})

    async def consumption(self, request: web.Request) -> web.Response:
        if self._channel(request) is None:
            return _error(401, "Authentication failed.")
        return web.json_response({"totalUsage": self.state.usage})

    async def profile(self, request: web.Request) -> web.Response:
        self.state.calls["profile"] += 1
        if self._channel(request) is None:
            return _error(401, "Authentication failed.")
        user_id = request.match_info["user_id"]
        if user_id in self.state.blocked or user_id not in self.state.friends:
            return _error(404, "Not found")
        return web.json_response(self.state.friends[user_id])

    # ---- webhook events to the app ----------------------------------------------------------

    def event(self, kind: str, user_id: str, *, text: str = "", data: str = "",
              event_id: str | None = None, redelivery: bool = False) -> dict[str, Any]:
        """One webhook event as LINE shapes it (kind: follow, unfollow, message, postback)."""
        event: dict[str, Any] = {
            "type": kind,
            "mode": "active",
            "timestamp": int(time.time() * 1000),
            "source": {"type": "user", "userId": user_id},
            "webhookEventId": event_id or _ulid(),
            "deliveryContext": {"isRedelivery": redelivery},
        }
        if kind != "unfollow":
            token = secrets.token_hex(16)
            self.state.reply_tokens[token] = user_id
            event["replyToken"] = token
        if kind == "follow":
            event["follow"] = {"isUnblocked": False}
        elif kind == "message":
            event["message"] = {"type": "text", "id": str(next(_message_ids)), "quoteToken": secrets.token_urlsafe(12), "text": text}
        elif kind == "postback":
            event["postback"] = {"data": data}
        return event

    async def send_event(self, channel: FakeChannel, event: dict[str, Any], *, webhook_url: str = "",
                         signature: str | None = None, client: Any = None) -> tuple[int, str]:
        """Post one event to the app's webhook, signed with the channel secret (as LINE does).

        ``client`` may be an httpx.AsyncClient (tests talk to the app in-process); otherwise an
        aiohttp session posts to ``webhook_url`` or the channel's own.
        """
        if event.get("type") == "follow":
            self.add_friend(event["source"]["userId"]) if event["source"]["userId"] not in self.state.friends else None
            self.state.blocked.discard(event["source"]["userId"])
        if event.get("type") == "unfollow":
            self.block(event["source"]["userId"])
        body = json.dumps({"destination": "U" + "0" * 32, "events": [event]}, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "X-Line-Signature": signature if signature is not None else sign(body, channel.secret)}
        url = webhook_url or channel.webhook_url
        self.state.webhook_log.append(event)
        if client is not None:
            response = await client.post(url, content=body, headers=headers)
            return response.status_code, response.text
        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.post(url, data=body, headers=headers) as response:
            return response.status, await response.text()

    # ---- test controls ----------------------------------------------------------------------

    async def fake_messages(self, request: web.Request) -> web.Response:
        user_id = request.query.get("user")
        users = [user_id] if user_id else list(self.state.inbox)
        return web.json_response(
            {
                "messages": {
                    uid: [{"via": r.via, "retry_key": r.retry_key, "messages": r.messages} for r in self.state.inbox.get(uid, [])]
                    for uid in users
                },
                "calls": dict(self.state.calls),
                "dropped": self.state.dropped,
                "usage": self.state.usage,
            }
        )

    async def fake_fault(self, request: web.Request) -> web.Response:
        body = await self._json(request) or {}
        self.fail_next(str(body.get("path", "multicast")), int(body.get("status", 500)), int(body.get("times", 1)),
                       float(body.get("delay", 0)), bool(body.get("accept", False)))
        return web.json_response({"ok": True})

    async def fake_quota(self, request: web.Request) -> web.Response:
        body = await self._json(request) or {}
        self.set_quota(body.get("limit"), int(body.get("used", 0)))
        return web.json_response({"ok": True})

    async def fake_friend(self, request: web.Request) -> web.Response:
        body = await self._json(request) or {}
        return web.json_response({"user_id": self.add_friend(body.get("user_id"), body.get("display_name", "見本 利用者"))})

    async def fake_block(self, request: web.Request) -> web.Response:
        body = await self._json(request) or {}
        self.block(str(body.get("user_id")))
        return web.json_response({"ok": True})

    async def fake_reset(self, request: web.Request) -> web.Response:
        self.state.reset()
        return web.json_response({"ok": True})

    async def fake_event(self, request: web.Request) -> web.Response:
        """The preview page's buttons: send a follow / message / postback / unfollow to the app."""
        form = await request.post()
        channel = next(iter(self.state.channels.values()), None)
        if channel is None or not channel.webhook_url:
            return web.Response(status=400, text="no channel with a webhook address: start with --webhook")
        user_id = str(form.get("user") or "") or self.add_friend(display_name=str(form.get("name") or "見本 利用者"))
        event = self.event(str(form.get("kind", "message")), user_id, text=str(form.get("text", "")), data=str(form.get("data", "")))
        status, _ = await self.send_event(channel, event)
        raise web.HTTPSeeOther(f"/_fake/?user={user_id}&status={status}")

    async def preview(self, request: web.Request) -> web.Response:
        """What each LINE user received (demo): plain HTML, buttons post back through the webhook."""
        esc = html.escape
        parts = [
            "<!doctype html><html lang=ja><meta charset=utf-8><meta name=viewport content='width=device-width'>",
            "<title>LINE プレビュー (fake)</title><style>body{font:18px sans-serif;max-width:40em;margin:auto;padding:1em}"
            ".bubble{border:1px solid #ccc;border-radius:12px;padding:.8em;margin:.6em 0;background:#f5fff5}"
            "button{font-size:18px;min-height:44px;margin:.2em}</style>",
            "<h1>LINE プレビュー（練習用の偽サーバー）</h1>",
            "<form method=post action=/_fake/event><input type=hidden name=kind value=follow>"
            "名前 <input name=name value='見本 利用者'> <button>友だち追加する</button></form>",
        ]
        for user_id, profile in self.state.friends.items():
            parts.append(f"<h2>{esc(profile['displayName'])} <small>{esc(user_id)}</small>"
                         f"{' (ブロック中)' if user_id in self.state.blocked else ''}</h2>")
            parts.append(f"<form method=post action=/_fake/event><input type=hidden name=kind value=message>"
                         f"<input type=hidden name=user value={esc(user_id)}><input name=text placeholder='コードを入力'>"
                         f"<button>送信</button></form>")
            parts.append(f"<form method=post action=/_fake/event><input type=hidden name=kind value=unfollow>"
                         f"<input type=hidden name=user value={esc(user_id)}><button>ブロックする</button></form>")
            for received in reversed(self.state.inbox.get(user_id, [])[-20:]):
                for message in received.messages:
                    parts.append(f"<div class=bubble><small>{esc(received.via)}</small>{_render(message, user_id)}</div>")
        return web.Response(text="".join(parts), content_type="text/html")


_message_ids = itertools.count(600_000_000_000_000)


def _actions(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") == "button" and isinstance(node.get("action"), dict):
            found.append(node["action"])
        if "actions" in node and isinstance(node["actions"], list):
            found.extend(a for a in node["actions"] if isinstance(a, dict))
        for key, value in node.items():
            if key not in ("action", "actions"):
                found.extend(_actions(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_actions(item))
    return found


def _texts(node: Any) -> list[str]:
    if isinstance(node, dict):
        if node.get("type") == "text" and isinstance(node.get("text"), str):
            return [node["text"]]
        return [t for key, value in node.items() if key not in ("action", "actions", "altText") for t in _texts(value)]
    if isinstance(node, list):
        return [t for item in node for t in _texts(item)]
    return []


def _render(message: dict[str, Any], user_id: str) -> str:
    esc = html.escape
    texts = [message["text"]] if message.get("type") == "text" else _texts(message.get("contents") or message.get("template"))
    out = "".join(f"<p>{esc(t)}</p>" for t in texts)
    for action in _actions(message):
        if action.get("type") == "postback":
            out += (f"<form method=post action=/_fake/event><input type=hidden name=kind value=postback>"
                    f"<input type=hidden name=user value={esc(user_id)}><input type=hidden name=data value='{esc(action.get('data', ''))}'>"
                    f"<button>{esc(action.get('label', ''))}</button></form>")
        elif action.get("type") == "uri":
            out += f"<p><a href='{esc(action.get('uri', ''))}'>{esc(action.get('label', ''))}</a></p>"
    return out


def main(argv: list[str] | None = None) -> None:
    from chonaikai.devtools import line_demo as demo

    parser = argparse.ArgumentParser(description="fake LINE Messaging API for tests and the demo")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--channel-id", default=demo.CHANNEL_ID)
    parser.add_argument("--token", default=demo.ACCESS_TOKEN)
    parser.add_argument("--secret", default=demo.CHANNEL_SECRET)
    parser.add_argument("--webhook", default=f"http://127.0.0.1:8000/line/webhook/{demo.CHANNEL_ID}",
                        help="the app's webhook address the preview page posts events to")
    parser.add_argument("--quota", type=int, default=None, help="monthly message limit (default: none)")
    args = parser.parse_args(argv)

    server = FakeLineServer()
    server.add_channel(args.channel_id, args.token, args.secret, args.webhook)
    server.set_quota(args.quota)
    print(f"fake LINE API on http://{args.host}:{args.port}  (preview: http://{args.host}:{args.port}/_fake/)")
    web.run_app(server.app, host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
