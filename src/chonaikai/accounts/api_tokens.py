"""Bearer tokens for other systems (a city's document system, an association's own tools).

A token acts with one role in one city or one association, exactly like a signed-in person with
that grant; ``provide_principal`` turns ``Authorization: Bearer …`` into that Principal, so every
/api/ route checks tokens through the same ``authorize`` / ``authorize_city`` as pages.
Only a SHA-256 of the secret is stored; the secret is printed once when the token is made.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from chonaikai.accounts.roles import ASSOCIATION_ROLES, Role
from chonaikai.accounts.signin import hash_secret
from chonaikai.accounts.tables import ApiToken
from chonaikai.roster.tables import Han
from chonaikai.tenancy.logic import find_tenant
from chonaikai.tenancy.tables import City

TOKEN_PREFIX = "ckt_"
# Writing last_used_at on every call would make each API read a write; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenError(ValueError):
    pass


@dataclass(frozen=True)
class CreatedToken:
    id: int
    secret: str


async def create_token(
    *,
    role: str,
    city_slug: str | None = None,
    association_slug: str | None = None,
    han_name: str | None = None,
    label: str = "",
) -> CreatedToken:
    if (city_slug is None) == (association_slug is None):
        raise TokenError("give exactly one of --city or --association")
    try:
        role_value = Role(role)
    except ValueError:
        raise TokenError(f"unknown role {role!r}; one of: {', '.join(r.value for r in Role)}") from None
    city_id = association_id = han_id = None
    if city_slug is not None:
        if role_value != Role.CITY_STAFF:
            raise TokenError("a city token has the role city_staff")
        row = await City.select(City.id).where(City.slug == city_slug).first()
        if row is None:
            raise TokenError(f"no city {city_slug!r}")
        city_id = row["id"]
    else:
        if role_value not in ASSOCIATION_ROLES or role_value == Role.MEMBER:
            raise TokenError(
                "an association token has an officer role (chair, vice_chair, treasurer, editor, han_leader)"
            )
        tenant = await find_tenant(association_slug)
        if tenant is None:
            raise TokenError(f"no association {association_slug!r}")
        association_id = tenant.id
        if role_value == Role.HAN_LEADER:
            if not han_name:
                raise TokenError("a han_leader token needs --han (the 班's name)")
            han = await tenant.select(Han, Han.id).where(Han.name == han_name).first()
            if han is None:
                raise TokenError(f"no 班 {han_name!r} in {association_slug!r}")
            han_id = han["id"]
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    rows = await ApiToken.insert(
        ApiToken(
            secret_hash=hash_secret(secret),
            label=label,
            role=str(role_value),
            city=city_id,
            association=association_id,
            han=han_id,
            created_at=datetime.now(UTC),
        )
    ).returning(ApiToken.id)
    return CreatedToken(id=rows[0]["id"], secret=secret)


async def revoke_token(token_id: int) -> bool:
    rows = await ApiToken.update({ApiToken.revoked: True}).where(ApiToken.id == token_id).returning(ApiToken.id)
    return bool(rows)


async def find_token(secret: str) -> dict | None:
    """The live token row for ``secret`` (None when unknown or revoked); notes its use."""
    if not secret.startswith(TOKEN_PREFIX):
        return None
    row = await ApiToken.select().where(
        (ApiToken.secret_hash == hash_secret(secret)) & (ApiToken.revoked.eq(False))
    ).first()
    if row is None:
        return None
    now = datetime.now(UTC)
    if row["last_used_at"] is None or row["last_used_at"] < now - LAST_USED_RESOLUTION:
        await ApiToken.update({ApiToken.last_used_at: now}).where(ApiToken.id == row["id"])
    return row
