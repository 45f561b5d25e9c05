"""Sign-in and sign-out pages."""

from __future__ import annotations

from litestar import Request, Router, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from chonaikai.accounts import signin
from chonaikai.web import safe_next


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
    request.clear_session()
    request.set_session({"account_id": result.account_id, "household_id": result.household_id})
    return Redirect(path=safe_next(next), status_code=303)


@post("/signout", name="signout", status_code=303)
async def signout(request: Request) -> Redirect:
    request.clear_session()
    return Redirect(path="/", status_code=303)


router = Router(path="/", route_handlers=[signin_confirm_page, signin_use, signout])
