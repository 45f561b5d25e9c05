"""Printed sign-in cards for households without e-mail: a QR code and a short code to type.

A card holds two secrets, both stored only as hashes in ``SignInToken`` (purpose "card"):
- a long random secret in the QR code's address ``/card/{secret}``;
- a short code of 10 characters (``ACDEF-HJKMN``) for typing at ``/card``: 5 characters name the
  card, 5 are its secret. Both are hashed with the server's secret key (HMAC) — a leaked database
  alone does not let anyone try codes offline. A code dies after WRONG_TRIES_PER_CODE wrong secrets
  typed with its id (the QR address and a new card still work), so guessing stays infeasible
  however many addresses guess (docs/roles.md has the arithmetic). Addresses that type many
  wrong codes are slowed down, never refused: the owner of a valid card always gets in.
  Cards printed before (8 characters, no id part) work until they expire.

A card is valid for CARD_LIFETIME and can be used any number of times until it expires or a new
card is printed for the same household (printing replaces every older card), the household moves
out or its data is erased. Elderly members lose their session now and then; a card they keep on
the fridge must still work the next time.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import segno

from chonaikai.accounts import ratelimit
from chonaikai.accounts.credentials import end_household_sessions
from chonaikai.accounts.principal import Principal
from chonaikai.accounts.signin import hash_secret
from chonaikai.accounts.tables import SignInToken
from chonaikai.db import write_transaction
from chonaikai.roster import logic
from chonaikai.roster.tables import Household
from chonaikai.settings import get_settings
from chonaikai.tenancy.scope import Tenant

log = logging.getLogger(__name__)

CARD_LIFETIME = timedelta(days=30)
# No 0/O, 1/I/L, 2/Z, 5/S, 6/G, 8/B: letters and digits an elderly reader cannot confuse.
CODE_ALPHABET = "ACDEFHJKMNPRTUVWXY3479"
CODE_LENGTH = 10
CODE_ID_LENGTH = 5  # the first 5 characters name the card, the last 5 are its secret
OLD_CODE_LENGTH = 8  # cards printed before the id part (secret only), valid until they expire
# Wrong secrets typed with one card's id before that code stops working (its QR address does not).
WRONG_TRIES_PER_CODE = 5
# Wrong attempts counted per client address and for the whole service; beyond these, answers
# are slowed down (never refused: the owner of a valid card may share an address with a guesser).
ATTEMPT_WINDOW = timedelta(minutes=15)
ATTEMPTS_PER_CLIENT = 10
ATTEMPTS_OVERALL = 500
SLOW_DOWN_SECONDS = 2.0


@dataclass(frozen=True)
class IssuedCard:
    secret: str
    code: str
    expires_at: datetime
    url: str
    qr_svg: str


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def format_code(code: str) -> str:
    split = CODE_ID_LENGTH if len(code) == CODE_LENGTH else 4
    return f"{code[:split]}-{code[split:]}"


def normalize_code(typed: str) -> str:
    """What the member typed → the code: width, case, spaces and hyphens do not matter."""
    return "".join(ch for ch in logic.clean(typed).upper() if ch.isalnum())


def hash_code(code: str) -> str:
    key = get_settings().secret_key.encode()
    return hmac.new(key, b"card-code:" + code.encode(), hashlib.sha256).hexdigest()


def hash_code_id(code_id: str) -> str:
    key = get_settings().secret_key.encode()
    return hmac.new(key, b"card-id:" + code_id.encode(), hashlib.sha256).hexdigest()


async def _new_unique_code() -> str:
    """A code whose id part no live card uses (so a wrong try names exactly one card)."""
    while True:
        code = new_code()
        taken = await SignInToken.count().where(
            (SignInToken.lookup == hash_code_id(code[:CODE_ID_LENGTH])) & (SignInToken.expires_at > datetime.now(UTC))
        )
        if not taken:
            return code


def qr_svg(url: str) -> str:
    # Error correction "M" with a border: survives a crease or a smudge on a printed card.
    # omitsize: a viewBox instead of a fixed size, so CSS sets the printed size.
    return segno.make(url, error="m").svg_inline(
        scale=6, border=4, dark="#000", light="#fff", omitsize=True, title="ログイン用のQRコード", desc=url
    )


async def issue_card(tenant: Tenant, actor: Principal, household_id: int) -> IssuedCard:
    """A new card for a household (replacing older ones); the secrets exist only in the result."""
    secret = secrets.token_urlsafe(24)
    code = await _new_unique_code()
    now = datetime.now(UTC)
    expires_at = now + CARD_LIFETIME
    async with write_transaction():
        await SignInToken.delete().where(
            (SignInToken.household == household_id) & (SignInToken.purpose == "card")
        )
        await SignInToken.insert(
            SignInToken(secret_hash=hash_secret(secret), purpose="card", household=household_id,
                        expires_at=expires_at, created_at=now),
            SignInToken(secret_hash=hash_code(code), purpose="card", household=household_id,
                        expires_at=expires_at, created_at=now, lookup=hash_code_id(code[:CODE_ID_LENGTH])),
        )
        await end_household_sessions(tenant, household_id)  # the old card's sessions end with it
        await logic.audit(tenant, actor, "card.issue", "", household_id)
    url = f"{get_settings().base_url.rstrip('/')}/card/{secret}"
    return IssuedCard(secret=secret, code=code, expires_at=expires_at, url=url, qr_svg=qr_svg(url))


async def _household_for(secret_hash: str, old_code: bool = False) -> tuple[int, int] | None:
    """(household id, association id) for a valid card secret hash (``old_code``: an 8-character
    code printed before codes had an id part)."""
    query = SignInToken.select(SignInToken.household).where(
        (SignInToken.secret_hash == secret_hash)
        & (SignInToken.purpose == "card")
        & SignInToken.used_at.is_null()
        & (SignInToken.expires_at > datetime.now(UTC))
    )
    if old_code:
        query = query.where(SignInToken.lookup.is_null())
    row = await query.first()
    if row is None or row["household"] is None:
        return None
    household = await Household.select(Household.association, Household.moved_out).where(
        Household.id == row["household"]
    ).first()
    if household is None or household["moved_out"]:
        return None
    return row["household"], household["association"]


async def household_for_secret(secret: str) -> tuple[int, int] | None:
    return await _household_for(hash_secret(secret))


async def household_for_code(typed: str) -> tuple[int, int] | None:
    code = normalize_code(typed)
    if any(ch not in CODE_ALPHABET for ch in code):
        return None
    if len(code) == OLD_CODE_LENGTH:
        return await _household_for(hash_code(code), old_code=True)
    if len(code) != CODE_LENGTH:
        return None
    card = await SignInToken.select(SignInToken.id, SignInToken.secret_hash, SignInToken.failed_attempts).where(
        (SignInToken.lookup == hash_code_id(code[:CODE_ID_LENGTH]))
        & (SignInToken.purpose == "card")
        & (SignInToken.expires_at > datetime.now(UTC))
    ).first()
    if card is None or card["failed_attempts"] >= WRONG_TRIES_PER_CODE:
        return None
    if not hmac.compare_digest(card["secret_hash"], hash_code(code)):
        # One statement: tries racing each other are all counted.
        await SignInToken.update({SignInToken.failed_attempts: SignInToken.failed_attempts + 1}).where(
            SignInToken.id == card["id"]
        )
        return None
    return await _household_for(card["secret_hash"])


# --- slowing down addresses that type many wrong codes (counters shared through the database) ---


def _buckets(client: str) -> list[tuple[str, int]]:
    return [(f"card:client:{client}", ATTEMPTS_PER_CLIENT), ("card:all", ATTEMPTS_OVERALL)]


async def slow_down(client: str) -> None:
    """Wait before answering an address over its limit (or while the whole service is being
    guessed at): guessing gets slower, and the owner of a valid card still gets in."""
    for bucket, limit in _buckets(client):
        if await ratelimit.over_limit(bucket, limit, ATTEMPT_WINDOW):
            await asyncio.sleep(SLOW_DOWN_SECONDS)
            return


async def record_failed_attempt(client: str) -> None:
    try:
        await ratelimit.record(*(bucket for bucket, _ in _buckets(client)))
    except Exception:  # bookkeeping: the per-code bound holds without it
        log.warning("wrong card attempt not counted", exc_info=True)
