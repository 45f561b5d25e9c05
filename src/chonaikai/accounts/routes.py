"""Sign-in and sign-out pages."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

from litestar import Request, Router, get, post
from litestar.background_tasks import BackgroundTask
from litestar.params import FromPath, FromQuery, URLEncodedBody
from litestar.response import Redirect, Template

from chonaikai.accounts import signin, signin_limits
from chonaikai.accounts.credentials import household_session
from chonaikai.accounts.landing import LANDING_PATH
from chonaikai.accounts.ratelimit import client_address
from chonaikai.accounts.sessions import begin_session
from chonaikai.accounts.tables import AuditEntry
from chonaikai.mail.compose import InvalidAddress, check_address
from chonaikai.params import ascii_int
from chonaikai.roster.tables import Household
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
        return Template("accounts/signin_confirm.html", context={"secret": secret, "usable": False, "next": safe_next(next)},
                        status_code=410)
    next = safe_next(next)
    if result.household_id is None and len(result.households) > 1:
        # One address on several households (parents and a child's family): the member chooses.
        begin_session(request, {
            "account_id": result.account_id,
            "choose_households": [h["id"] for h in result.households],
            "choose_next": next,
        })
        return Redirect(path="/signin/choose", status_code=303)
    begin_session(request, await _session_data(result.account_id, result.household_id))
    return Redirect(path=await _landing(result.household_id, next, email_signin=True), status_code=303)


async def _session_data(account_id: int | None, household_id: int | None) -> dict:
    """A session for the account, and for the household signed in with its roster address: that
    part holds the household's credential epoch, so it ends with the household's credentials
    (moved out, erased, its address changed by an officer) like a card's or LINE's session."""
    if household_id is None:
        return {"account_id": account_id, "household_id": None}
    return {**await household_session(household_id), "account_id": account_id}


async def _landing(household_id: int | None, next: str, *, email_signin: bool = False) -> str:
    """Where a sign-in ends: where the member was going, else their household page."""
    if household_id is None:
        return next
    row = await Household.select(Household.association, Household.association.slug.as_alias("slug")).where(
        Household.id == household_id
    ).first()
    if row is None:
        return next
    if email_signin:
        await AuditEntry.insert(AuditEntry(association=row["association"], household=household_id,
                                           action="email.signin", created_at=datetime.now(UTC)))
    return f"/a/{row['slug']}/my" if next in ("/", LANDING_PATH) else next


def _choice(request: Request) -> list[int]:
    session = request.scope.get("session")
    if not isinstance(session, dict):
        return []
    return [int(i) for i in session.get("choose_households") or []]


@get("/signin/choose", name="signin_choose")
async def signin_choose_page(request: Request) -> Template | Redirect:
    ids = _choice(request)
    if not ids:
        return Redirect(path="/signin", status_code=303)
    households = [h for h in await _choosable(ids)]
    return Template("accounts/signin_choose.html", context={"households": households, "error": ""})


async def _choosable(ids: list[int]) -> list[dict]:
    return await Household.select(
        Household.id, Household.name,
        Household.association.name.as_alias("association_name"), Household.han.name.as_alias("han_name"),
    ).where(Household.id.is_in(ids) & (Household.moved_out == False)).order_by(Household.id)  # noqa: E712


@post("/signin/choose", name="signin_choose_use", status_code=303)
async def signin_choose_use(request: Request, data: URLEncodedBody[dict[str, str]]) -> Template | Redirect:
    ids = _choice(request)
    if not ids:
        return Redirect(path="/signin", status_code=303)
    chosen = str(data.get("household", ""))
    households = await _choosable(ids)
    chosen_id = ascii_int(chosen)
    if chosen_id is None or chosen_id not in {h["id"] for h in households}:
        return Template("accounts/signin_choose.html", status_code=400, context={
            "households": households, "error": "どちらの世帯でログインするか、ボタンを押して選んでください。"})
    session = request.scope["session"]
    next = safe_next(session.get("choose_next"))
    request.set_session(await _session_data(session.get("account_id"), chosen_id))
    return Redirect(path=await _landing(chosen_id, next, email_signin=True), status_code=303)


@post("/signout", name="signout", status_code=303)
async def signout(request: Request) -> Redirect:
    request.clear_session()
    return Redirect(path="/", status_code=303)


router = Router(path="/", route_handlers=[
    signin_page, signin_request, signin_choose_page, signin_choose_use, signin_confirm_page, signin_use, signout,
])
