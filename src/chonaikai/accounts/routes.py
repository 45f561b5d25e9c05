"""Sign-in and sign-out pages."""

from __future__ import annotations

import unicodedata

from litestar import Request, Router, get, post
from litestar.background_tasks import BackgroundTask
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect, Template

from chonaikai.accounts import signin, signin_limits
from chonaikai.accounts.landing import LANDING_PATH
from chonaikai.accounts.ratelimit import client_address
from chonaikai.accounts.sessions import begin_session
from chonaikai.mail.compose import InvalidAddress, check_address
from chonaikai.web import safe_next


@get("/signin", name="signin")
async def signin_page(next: FromQuery[str] = LANDING_PATH) -> Template:
    return Template("accounts/signin.html", context={"next": safe_next(next), "email": "", "error": ""})


@post("/signin", name="signin_request", status_code=200)
async def signin_request(request: Request, data: URLEncodedBody[dict[str, str]]) -> Template:
    next = safe_next(data.get("next"))
    # Phones with a Japanese keyboard often type full-width letters: ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ
    typed = unicodedata.normalize("NFKC", data.get("email", "")).strip()
    try:
        address = signin.normalize_email(check_address(typed))
    except InvalidAddress:
        return Template(
            "accounts/signin.html",
            context={
                "next": next,
                "email": typed[:254],
                "error": "メールアドレスの形が正しくないようです。例: taro@example.jp のように入れてください。",
            },
            status_code=400,
        )
    # Every request gets the same answer; the mail goes out only when one is due (signin_limits.py).
    await signin_limits.slow_down(client_address(request))
    send = await signin_limits.mail_due(address)
    return Template(
        "accounts/signin_sent.html",
        context={"email": address},
        background=BackgroundTask(signin.send_signin_link, address, next) if send else None,
    )


@get("/signin/{secret:str}", name="signin_confirm")
async def signin_confirm_page(secret: FromPath[str], next: FromQuery[str] = "/") -> Template:
    # A page with a button, not an instant sign-in: mail scanners that open links must not use them up.
    usable = await signin.peek_secret(secret)
    return Template(
        "accounts/signin_confirm.html",
        context={"secret": secret, "usable": usable, "next": safe_next(next)},
        status_code=200 if usable else 410,
    )


@post("/signin/{secret:str}", name="signin_use", status_code=303)
async def signin_use(request: Request, secret: FromPath[str], next: FromQuery[str] = "/") -> Redirect | Template:
    result = await signin.consume_email_link(secret)
    if result is None:
        return Template("accounts/signin_confirm.html", context={"secret": secret, "usable": False}, status_code=410)
    begin_session(request, {"account_id": result.account_id, "household_id": result.household_id})
    return Redirect(path=safe_next(next), status_code=303)


@post("/signout", name="signout", status_code=303)
async def signout(request: Request) -> Redirect:
    request.clear_session()
    return Redirect(path="/", status_code=303)


router = Router(path="/", route_handlers=[signin_page, signin_request, signin_confirm_page, signin_use, signout])
