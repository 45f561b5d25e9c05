"""`chonaikai token create|revoke`: bearer tokens for other systems (registered into the CLI)."""

from __future__ import annotations

import argparse
import sys

from chonaikai.commands import command
from chonaikai.db import run_with_database


def _token_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="token_command", required=True, metavar="create|revoke")
    create = sub.add_parser("create", help="make a token; the secret is printed once")
    where = create.add_mutually_exclusive_group(required=True)
    where.add_argument("--city", help="city slug (role city_staff)")
    where.add_argument("--association", help="association slug (an officer role)")
    create.add_argument("--role", required=True, help="city_staff, chair, vice_chair, treasurer, editor or han_leader")
    create.add_argument("--han", default=None, help="the 班 (its name) of a han_leader token")
    create.add_argument("--label", default="", help="what the token is for (shown to operators)")
    revoke = sub.add_parser("revoke", help="stop a token from working")
    revoke.add_argument("id", type=int)


@command("token", "外部システム用のトークン (API bearer tokens)", _token_arguments)
def run_token(args: argparse.Namespace) -> int:
    from chonaikai.accounts.api_tokens import TokenError, create_token, revoke_token

    if args.token_command == "revoke":
        if not run_with_database(revoke_token(args.id)):
            print(f"error: no token {args.id}", file=sys.stderr)
            return 2
        print(f"token {args.id} revoked")
        return 0
    try:
        created = run_with_database(
            create_token(
                role=args.role,
                city_slug=args.city,
                association_slug=args.association,
                han_name=args.han,
                label=args.label,
            )
        )
    except TokenError as error:
        print(f"error: {error} — nothing was created", file=sys.stderr)
        return 2
    print(f"token {created.id} created; keep this secret now, it is not shown again:")
    print(created.secret)
    return 0
