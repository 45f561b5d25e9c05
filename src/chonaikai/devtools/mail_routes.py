"""``/dev/mail``: the demo's mailbox (only when CHONAIKAI_ENV=dev)."""

from __future__ import annotations

import re

from litestar import Response, Router, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Template
from markupsafe import Markup, escape

from chonaikai.devtools import mail_catcher as catcher

_URL = re.compile(r"https?://[^\s<>\"']+")
# The HTML part of a caught message is shown as sent, but may run no script and load nothing.
HTML_PART_POLICY = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def linkify(text: str) -> Markup:
    """Escape ``text`` and make its web addresses clickable (sign-in and read links)."""
    escaped = str(escape(text))
    return Markup(_URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped))


@get("/", name="dev_mail")
async def dev_mail_list() -> Template:
    return Template("mail/dev_list.html", context={"messages": catcher.list_caught()})


@get("/{message_id:str}", name="dev_mail_view")
async def dev_mail_view(message_id: FromPath[str]) -> Template:
    found = catcher.read_caught(message_id)
    if found is None:
        raise NotFoundException()
    caught, message = found
    text = catcher.body_of(message, "plain")
    return Template(
        "mail/dev_view.html",
        context={
            "caught": caught,
            "text": linkify(text) if text is not None else None,
            "has_html": catcher.body_of(message, "html") is not None,
            "unsubscribe": str(message.get("list-unsubscribe", "")),
        },
    )


@get("/{message_id:str}/html", name="dev_mail_html")
async def dev_mail_html(message_id: FromPath[str]) -> Response:
    found = catcher.read_caught(message_id)
    html = catcher.body_of(found[1], "html") if found else None
    if html is None:
        raise NotFoundException()
    return Response(html, media_type="text/html", headers={"content-security-policy": HTML_PART_POLICY})


dev_mail_router = Router(path="/dev/mail", route_handlers=[dev_mail_list, dev_mail_view, dev_mail_html])


def dev_routes(env: str) -> list[Router]:
    """Pages that exist only in the demo / development (CHONAIKAI_ENV=dev)."""
    return [dev_mail_router] if env == "dev" else []
