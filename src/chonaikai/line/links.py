"""Household ↔ LINE user: one-time link codes, linking, blocking (unfollow) and falling back.

A link code is 8 characters from an alphabet without look-alikes (no 0/O, 1/I/L), shown as
``ABCD-2345``; a member sends it to the LINE account. It is valid 14 days, once. Only its hash
is stored (as a ``SignInToken`` with purpose ``line_code``), like every other sign-in secret.
Wrong guesses are counted per LINE user (10 an hour), so codes cannot be tried out.

LINE answers 200 to a multicast even for users who blocked the account, and delivers
nothing; we learn of a block only from the ``unfollow`` webhook event, or when the profile
endpoint answers 404 (``check_links``). Either way the link turns inactive and, if the household
has no other LINE user, it falls back to e-mail (when it has an address) or paper, for the
pending deliveries and the next notices; an ``AuditEntry`` tells officers.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chonaikai.accounts.credentials import end_household_sessions
from chonaikai.accounts.tables import AuditEntry, RateLimitHit, SignInToken
from chonaikai.db import write_transaction
from chonaikai.delivery import api as delivery
from chonaikai.line.config import channel_id_for_association
from chonaikai.line.tables import LineLink
from chonaikai.roster.tables import Household
from chonaikai.settings import get_settings
from chonaikai.tenancy.scope import Tenant
from chonaikai.tenancy.tables import Association

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
CODE_LIFETIME = timedelta(days=14)
CODE_PURPOSE = "line_code"
MAX_WRONG_CODES_PER_HOUR = 10
_CODE_RE = re.compile(f"[{CODE_ALPHABET}]{{{CODE_LENGTH}}}")


def hash_code(code: str) -> str:
    """Keyed: 8 characters are few enough to try them all against a leaked plain SHA-256."""
    key = get_settings().secret_key.encode()
    return hmac.new(key, b"line-code:" + code.encode(), hashlib.sha256).hexdigest()


def format_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def find_code(text: str) -> str | None:
    """The code in what a member typed: full-width letters, lower case, spaces and dashes allowed."""
    normalized = unicodedata.normalize("NFKC", text or "").upper()
    normalized = re.sub(r"[\s\-‐－ー―—_.・]", "", normalized)
    match = _CODE_RE.search(normalized)
    return match.group(0) if match else None


async def tenant_by_id(association_id: int) -> Tenant:
    row = await Association.select().where(Association.id == association_id).output(load_json=True).first()
    return Tenant.from_row(row)


async def audit(association_id: int, household_id: int | None, action: str, detail: str, account_id: int | None = None) -> None:
    await AuditEntry.insert(
        AuditEntry(association=association_id, household=household_id, account=account_id, action=action,
                   detail=detail, created_at=datetime.now(UTC))
    )


async def issue_code(tenant: Tenant, household_id: int, account_id: int | None = None) -> tuple[str, datetime]:
    """A new link code for one household of ``tenant``: (code as shown, expiry)."""
    household = await tenant.select(Household, Household.id).where(Household.id == household_id).first()
    if household is None:
        raise LookupError("household not in this association")
    now = datetime.now(UTC)
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    expires = now + CODE_LIFETIME
    async with write_transaction():
        # A new code replaces the household's earlier unused ones (a lost slip must not stay valid).
        await SignInToken.delete().where(
            (SignInToken.household == household_id) & (SignInToken.purpose == CODE_PURPOSE)
            & SignInToken.used_at.is_null()
        )
        await SignInToken.insert(
            SignInToken(secret_hash=hash_code(code), purpose=CODE_PURPOSE, household=household_id,
                        expires_at=expires, created_at=now)
        )
    await audit(tenant.id, household_id, "line.code", "LINE登録コードを発行しました", account_id)
    return format_code(code), expires


@dataclass(frozen=True)
class LinkResult:
    ok: bool
    reason: str = ""  # wrong | expired | used | other_channel | too_many
    household: dict[str, Any] | None = None
    association_name: str = ""
    relinked: bool = False


async def _too_many_wrong(bucket: str) -> bool:
    since = datetime.now(UTC) - timedelta(hours=1)
    return await RateLimitHit.count().where((RateLimitHit.bucket == bucket) & (RateLimitHit.created_at > since)) >= MAX_WRONG_CODES_PER_HOUR


async def link_with_code(channel_id: str, line_user_id: str, code: str, display_name: str = "") -> LinkResult:
    """Use a code sent by ``line_user_id`` on ``channel_id``; call inside a write transaction."""
    bucket = f"line_code:{channel_id}:{line_user_id}"
    if await _too_many_wrong(bucket):
        return LinkResult(False, "too_many")
    now = datetime.now(UTC)
    token = await SignInToken.select().where(
        (SignInToken.secret_hash == hash_code(code)) & (SignInToken.purpose == CODE_PURPOSE)
    ).first()
    reason = ""
    if token is None or token["household"] is None:
        reason = "wrong"
    elif token["used_at"] is not None:
        reason = "used"
    elif token["expires_at"] <= now:
        reason = "expired"
    if reason:
        await RateLimitHit.insert(RateLimitHit(bucket=bucket, created_at=now))
        return LinkResult(False, reason)
    household = await Household.select().where(Household.id == token["household"]).first()
    if household is None or household["moved_out"]:
        return LinkResult(False, "wrong")
    if await channel_id_for_association(household["association"]) != channel_id:
        return LinkResult(False, "other_channel")
    # One UPDATE … RETURNING: two members sending the same code at once cannot both use it.
    used = await SignInToken.update({SignInToken.used_at: now}).where(
        (SignInToken.id == token["id"]) & SignInToken.used_at.is_null()
    ).returning(SignInToken.id)
    if not used:
        return LinkResult(False, "used")

    tenant = await tenant_by_id(household["association"])
    existing = await LineLink.select().where(
        (LineLink.channel_id == channel_id) & (LineLink.line_user_id == line_user_id)
    ).first()
    if existing is not None:
        # The same LINE user moves to another household (or links again): one row per user.
        old = await tenant_by_id(existing["association"])
        await old.delete(LineLink).where(LineLink.id == existing["id"])
    await LineLink.insert(
        tenant.new(LineLink, household=household["id"], channel_id=channel_id, line_user_id=line_user_id,
                   display_name=display_name[:100], active=True, linked_at=now)
    )
    await tenant.update(Household, {Household.channel: "line", Household.updated_at: now}).where(
        Household.id == household["id"]
    )
    await audit(tenant.id, household["id"], "line.link", "LINEとつながりました。お知らせはLINEで届きます。")
    return LinkResult(True, household=household, association_name=tenant.name, relinked=existing is not None)


async def active_link(channel_id: str, line_user_id: str) -> dict[str, Any] | None:
    return await LineLink.select().where(
        (LineLink.channel_id == channel_id) & (LineLink.line_user_id == line_user_id) & (LineLink.active == True)  # noqa: E712
    ).first()


async def _fall_back(tenant: Tenant, household_id: int, why: str) -> str:
    """No LINE user left for the household: e-mail if it has an address, else paper."""
    household = await tenant.select(Household).where(Household.id == household_id).first()
    if household is None:
        return ""
    fallback = "email" if "@" in (household["email"] or "") else "paper"
    now = datetime.now(UTC)
    if household["channel"] == "line":
        await tenant.update(Household, {Household.channel: fallback, Household.updated_at: now}).where(
            Household.id == household_id
        )
    # Notices not yet handed to LINE go the new way too; rows a worker is sending are left alone.
    await delivery.reroute_pending(
        fallback, association_id=tenant.id, household_id=household_id, from_channel="line", now=now
    )
    label = "メール" if fallback == "email" else "紙の回覧板"
    await audit(tenant.id, household_id, "line.fallback", f"{why}。次のお知らせから{label}でお届けします。")
    return fallback


async def deactivate(channel_id: str, line_user_id: str, why: str) -> list[int]:
    """The user blocked the account (unfollow) or cannot be reached: links off, households fall back.
    Returns the households that fell back. Call inside a write transaction."""
    now = datetime.now(UTC)
    rows = await LineLink.select().where(
        (LineLink.channel_id == channel_id) & (LineLink.line_user_id == line_user_id) & (LineLink.active == True)  # noqa: E712
    )
    fell_back = []
    for row in rows:
        tenant = await tenant_by_id(row["association"])
        await tenant.update(LineLink, {LineLink.active: False, LineLink.unlinked_at: now}).where(LineLink.id == row["id"])
        await end_household_sessions(tenant, row["household"])  # a session its LINE opened ends
        others = await tenant.count(LineLink).where(
            (LineLink.household == row["household"]) & (LineLink.active == True)  # noqa: E712
        )
        if not others:
            await _fall_back(tenant, row["household"], why)
            fell_back.append(row["household"])
        else:
            await audit(tenant.id, row["household"], "line.unlink", f"{why}（ご家族の別のLINEには引き続き届きます）")
    return fell_back


async def reactivate(channel_id: str, line_user_id: str) -> dict[str, Any] | None:
    """A user who had blocked the account adds it again: the old link works again."""
    row = await LineLink.select().where(
        (LineLink.channel_id == channel_id) & (LineLink.line_user_id == line_user_id) & (LineLink.active == False)  # noqa: E712
    ).first()
    if row is None:
        return None
    tenant = await tenant_by_id(row["association"])
    household = await tenant.select(Household).where(Household.id == row["household"]).first()
    if household is None or household["moved_out"]:
        return None
    now = datetime.now(UTC)
    await tenant.update(LineLink, {LineLink.active: True, LineLink.unlinked_at: None}).where(LineLink.id == row["id"])
    await tenant.update(Household, {Household.channel: "line", Household.updated_at: now}).where(Household.id == row["household"])
    await audit(tenant.id, row["household"], "line.link", "LINEのブロックが解除されました。お知らせはまたLINEで届きます。")
    return household


async def check_links(tenant: Tenant, api: Any) -> int:
    """Ask LINE about every active link of ``tenant`` (profile 404 = blocked or gone); returns
    how many were found unreachable and turned off."""
    rows = await tenant.select(LineLink).where(LineLink.active == True)  # noqa: E712
    gone = 0
    for row in rows:
        if await api.is_reachable(row["line_user_id"]) is False:
            async with write_transaction():
                await deactivate(row["channel_id"], row["line_user_id"], "LINEで届かなくなりました（ブロックまたは退会）")
            gone += 1
    return gone
