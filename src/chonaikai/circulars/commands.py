"""`chonaikai city invite|send-due`: operator commands for city staff and circulars."""

from __future__ import annotations

import argparse
import sys

from chonaikai.cli import command
from chonaikai.db import run_with_database
from chonaikai.settings import get_settings


def _city_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="city_command", required=True, metavar="invite|send-due")
    invite = sub.add_parser("invite", help="give a person the city_staff role and print their sign-in link")
    invite.add_argument("city", help="city slug")
    invite.add_argument("email")
    sub.add_parser("send-due", help="send scheduled circulars whose time has come")


async def invite_city_staff(city_slug: str, email: str) -> str:
    """Grant city_staff (once) and return a sign-in link that lands on the city's circulars."""
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
    account_id = await signin.get_or_create_account(email)
    held = await RoleGrant.exists().where(
        (RoleGrant.account == account_id) & (RoleGrant.role == str(Role.CITY_STAFF)) & (RoleGrant.city == city["id"])
    )
    if not held:
        await RoleGrant.insert(
            RoleGrant(account=account_id, role=str(Role.CITY_STAFF), city=city["id"], created_at=datetime.now(UTC))
        )
    secret = await signin.create_email_link_secret(account_id)
    base = get_settings().base_url.rstrip("/")
    return f"{base}/signin/{secret}?next=/c/{city_slug}/circulars"


@command("city", "市職員の招待・予定の回覧の送信 (city staff and circulars)", _city_arguments)
def run_city(args: argparse.Namespace) -> int:
    if args.city_command == "send-due":
        from chonaikai.circulars.logic import send_due_circulars

        sent = run_with_database(send_due_circulars())
        print(f"{len(sent)} circular(s) sent")
        return 0
    try:
        link = run_with_database(invite_city_staff(args.city, args.email))
    except (LookupError, ValueError) as error:
        print(f"error: {error} — nothing was changed", file=sys.stderr)
        return 2
    # No mail module on this branch: the operator passes the link on (valid 15 minutes, once).
    print(f"{args.email} is now city staff of {args.city}. Sign-in link (15 minutes, once):")
    print(link)
    return 0
