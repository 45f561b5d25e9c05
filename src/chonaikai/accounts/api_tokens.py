"""Bearer tokens for officers' tools (`chonaikai token create --association SLUG --role ROLE`).

A token acts as one role in one association — exactly what a signed-in officer with that role
may do, through the same `authorize()`; a 班長 token is limited to its 班. Only a SHA-256 hash is
stored (the token is 256 random bits, so a plain hash is enough), and the token is shown once.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from chonaikai.accounts.principal import ANONYMOUS, Grant, Principal
from chonaikai.accounts.roles import OFFICER_ROLES, Role
from chonaikai.accounts.tables import ApiToken

PREFIX = "chk_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenError(ValueError):
    pass


async def create_token(association_id: int, role: str, han_id: int | None = None, label: str = "") -> str:
    try:
        parsed = Role(role)
    except ValueError as error:
        raise TokenError(f"unknown role {role!r}") from error
    if parsed not in OFFICER_ROLES:
        raise TokenError(f"role must be one of: {', '.join(sorted(OFFICER_ROLES))}")
    if parsed == Role.HAN_LEADER and han_id is None:
        raise TokenError("a han_leader token needs --han")
    token = PREFIX + secrets.token_urlsafe(32)
    await ApiToken.insert(
        ApiToken(association=association_id, role=str(parsed), han=han_id if parsed == Role.HAN_LEADER else None,
                 token_hash=hash_token(token), label=label[:100], created_at=datetime.now(UTC))
    )
    return token


async def principal_for_bearer(authorization: str) -> Principal:
    """The principal of an ``Authorization: Bearer …`` header (ANONYMOUS when missing or unknown)."""
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token.startswith(PREFIX) or len(token) > 200:
        return ANONYMOUS
    rows = await ApiToken.update({ApiToken.last_used_at: datetime.now(UTC)}).where(
        (ApiToken.token_hash == hash_token(token)) & ApiToken.revoked_at.is_null()
    ).returning(ApiToken.id, ApiToken.association, ApiToken.role, ApiToken.han)
    if not rows:
        return ANONYMOUS
    row = rows[0]
    grant = Grant(role=Role(row["role"]), association_id=row["association"], han_id=row["han"])
    return Principal(display_name=f"API token {row['id']}", grants=(grant,))
