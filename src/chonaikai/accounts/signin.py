"""Password-free sign-in: one-time secrets sent by e-mail (15 minutes) or printed on a card."""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from chonaikai.accounts.tables import Account, SignInToken
from chonaikai.roster.tables import Household
from chonaikai.settings import get_settings

log = logging.getLogger(__name__)

EMAIL_LINK_LIFETIME = timedelta(minutes=15)
# An invitation may wait in an officer's inbox over a weekend.
INVITATION_LINK_LIFETIME = timedelta(days=7)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def normalize_email(email: str) -> str:
    return email.strip().lower()


async def find_account_by_email(email: str) -> dict | None:
    return await Account.select().where(Account.email == normalize_email(email)).first()


async def get_or_create_account(email: str, display_name: str = "") -> int:
    email = normalize_email(email)
    row = await Account.select(Account.id).where(Account.email == email).first()
    if row:
        return row["id"]
    created = await Account.insert(
        Account(email=email, display_name=display_name, created_at=datetime.now(UTC))
    ).returning(Account.id)
    return created[0]["id"]


async def households_for_email(email: str) -> list[dict]:
    """The households whose roster address is ``email`` (still living there, data not erased),
    with their association, for signing a member in with the address every notice goes to."""
    address = normalize_email(email)
    if not address:
        return []
    return await Household.select(
        Household.id,
        Household.name,
        Household.association,
        Household.association.slug.as_alias("association_slug"),
        Household.association.name.as_alias("association_name"),
        Household.han.name.as_alias("han_name"),
    ).where(
        (Household.email == address)
        & (Household.moved_out == False)  # noqa: E712
        & Household.erased_at.is_null()
    ).order_by(Household.association).order_by(Household.id)


async def create_email_link_secret(
    account_id: int | None, lifetime: timedelta = EMAIL_LINK_LIFETIME, *, email: str = ""
) -> str:
    """A fresh secret for the e-mailed link ``/signin/{secret}``; only its hash is stored.

    ``lifetime``: 15 minutes for a link asked for on the sign-in page, longer for an invitation.
    ``email``: the address the link goes to when it may also sign in a household of the roster
    (``account_id`` is then None for a member without an account)."""
    secret = secrets.token_urlsafe(32)  # 256 bits
    now = datetime.now(UTC)
    await SignInToken.insert(
        SignInToken(
            secret_hash=hash_secret(secret),
            purpose="email_link",
            account=account_id,
            email=normalize_email(email),
            expires_at=now + lifetime,
            created_at=now,
        )
    )
    return secret


@dataclass(frozen=True)
class SignInResult:
    account_id: int | None
    household_id: int | None
    # Households of the roster holding the link's address, looked up when the link was used:
    # one is signed in at once; with several, the member chooses (signin_choose).
    households: tuple[dict, ...] = ()


async def peek_secret(secret: str) -> bool:
    """Whether ``secret`` would sign someone in now (for the confirmation page; uses nothing up)."""
    row = await SignInToken.select(SignInToken.id).where(
        (SignInToken.secret_hash == hash_secret(secret))
        & SignInToken.used_at.is_null()
        & (SignInToken.expires_at > datetime.now(UTC))
    ).first()
    return row is not None


async def consume_email_link(secret: str) -> SignInResult | None:
    """Use up an e-mailed link: valid once, before it expires. None when it cannot be used."""
    now = datetime.now(UTC)
    # One UPDATE … RETURNING: two clicks racing each other cannot both succeed.
    rows = await SignInToken.update({SignInToken.used_at: now}).where(
        (SignInToken.secret_hash == hash_secret(secret))
        & (SignInToken.purpose == "email_link")
        & SignInToken.used_at.is_null()
        & (SignInToken.expires_at > now)
    ).returning(SignInToken.account, SignInToken.household, SignInToken.email)
    if not rows:
        return None
    account_id = rows[0]["account"]
    households = tuple(await households_for_email(rows[0]["email"])) if rows[0]["email"] else ()
    if account_id is None and rows[0]["household"] is None and not households:
        return None  # the household left the roster (or changed its address) since the mail was sent
    if account_id is not None:
        await Account.update({Account.last_sign_in_at: now}).where(Account.id == account_id)
    household_id = rows[0]["household"]
    if household_id is None and len(households) == 1:
        household_id = households[0]["id"]
    return SignInResult(account_id=account_id, household_id=household_id, households=households)


def signin_link(secret: str, next: str = "/") -> str:
    link = f"{get_settings().base_url}/signin/{secret}"
    return link if next == "/" else f"{link}?next={quote(next, safe='/')}"


async def send_signin_link(email: str, next: str = "/") -> bool:
    """Mail a sign-in link to ``email`` if an account or a household of the roster has that
    address; otherwise do nothing.

    The page answers the same either way (no account discovery), and this runs after the
    answer was sent, so neither the words nor the time taken tell whether the address is known.
    """
    from chonaikai.mail.compose import signin_message
    from chonaikai.mail.smtp import send_one

    address = normalize_email(email)
    account = await find_account_by_email(address)
    if account is None and not await households_for_email(address):
        return False
    account_id = account["id"] if account else None
    secret = await create_email_link_secret(account_id, email=address)
    who = f"account {account_id}" if account_id else "a household address"
    try:
        result = await send_one(address, signin_message(address, signin_link(secret, next)))
    except Exception:  # the member already saw the answer page; keep the reason for operators
        log.exception("sign-in mail to %s could not be built or sent", who)
        return False
    if not result.ok:
        log.warning("sign-in mail to %s not sent: %s", who, result.error)
    return result.ok
