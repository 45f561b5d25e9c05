"""`chonaikai city invite|send-due`: operator commands for city staff and circulars."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta

from chonaikai.commands import command
from chonaikai.db import run_with_database
from chonaikai.settings import get_settings

INVITE_LIFETIME = timedelta(days=7)


def _city_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="city_command", required=True, metavar="invite|send-due")
    invite = sub.add_parser("invite", help="give a person the city_staff role and print their sign-in link")
    invite.add_argument("city", help="city slug")
    invite.add_argument("email")
    sub.add_parser("send-due", help="send scheduled circulars whose time has come")


async def grant_city_staff(city_slug: str, email: str, display_name: str = "") -> int:
    """The account for ``email`` with the city_staff role in that city (made once); its id."""
    from datetime import UTC, datetime

    from chonaikai.accounts import signin
    from chonaikai.accounts.roles import Role
    from chonaikai.accounts.tables import RoleGrant
    from chonaikai.tenancy.tables import City

    city = await City.select(City.id).where(City.slug == city_slug).first()
    if city is None:
        raise LookupError(f"no city {city_slug!r}")
    if "@" not in email or len(email) > 254:
        raise ValueError(f"not an e-mail address: {email!r}")
    account_id = await signin.get_or_create_account(email, display_name)
    held = await RoleGrant.exists().where(
        (RoleGrant.account == account_id) & (RoleGrant.role == str(Role.CITY_STAFF)) & (RoleGrant.city == city["id"])
    )
    if not held:
        await RoleGrant.insert(
            RoleGrant(account=account_id, role=str(Role.CITY_STAFF), city=city["id"], created_at=datetime.now(UTC))
        )
    return account_id


async def invite_city_staff(city_slug: str, email: str) -> str:
    """Grant city_staff (once) and return a sign-in link that lands on the city's circulars."""
    from chonaikai.accounts import signin

    account_id = await grant_city_staff(city_slug, email)
    secret = await signin.create_email_link_secret(account_id, lifetime=INVITE_LIFETIME)
    base = get_settings().base_url.rstrip("/")
    return f"{base}/signin/{secret}?next=/c/{city_slug}/circulars/"


async def mail_invitation(city_slug: str, email: str, link: str) -> bool:
    """E-mail the link; False (and the operator passes the printed link on) if sending failed."""
    from chonaikai.mail.compose import invitation_message
    from chonaikai.mail.smtp import send_one
    from chonaikai.tenancy.tables import City

    city = await City.select(City.name).where(City.slug == city_slug).first()
    data = invitation_message(email, city["name"], "市職員", link, days_valid=INVITE_LIFETIME.days)
    result = await send_one(email, data)
    return result.ok


@command("city", "市職員の招待・予定の回覧の送信 (city staff and circulars)", _city_arguments)
def run_city(args: argparse.Namespace) -> int:
    if args.city_command == "send-due":
        from chonaikai.circulars.logic import send_due_circulars

        sent = run_with_database(send_due_circulars())
        print(f"{len(sent)} circular(s) sent")
        return 0

    async def invite() -> tuple[str, bool]:
        link = await invite_city_staff(args.city, args.email)
        return link, await mail_invitation(args.city, args.email, link)

    try:
        link, mailed = run_with_database(invite())
    except (LookupError, ValueError) as error:
        print(f"error: {error} — nothing was changed", file=sys.stderr)
        return 2
    print(f"{args.email} is now city staff of {args.city}.")
    print("invitation e-mailed" if mailed else "the e-mail could not be sent: pass this link on yourself")
    print(f"sign-in link ({INVITE_LIFETIME.days} days, once): {link}")
    return 0
