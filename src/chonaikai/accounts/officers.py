"""Officers of an association: the 会長 invites them by e-mail, and can take a role away again."""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from chonaikai.accounts import signin
from chonaikai.accounts.roles import ROLE_LABELS, Role
from chonaikai.accounts.tables import AuditEntry, RoleGrant
from chonaikai.db import write_transaction
from chonaikai.mail.compose import InvalidAddress, check_address, invitation_message
from chonaikai.mail.smtp import send_one
from chonaikai.params import ascii_int
from chonaikai.roster.tables import Han
from chonaikai.tenancy.scope import Tenant

log = logging.getLogger(__name__)

# Roles the 会長 hands out here (a new 会長 is set by the operator, so an association always has one).
INVITABLE_ROLES = (Role.VICE_CHAIR, Role.TREASURER, Role.EDITOR, Role.HAN_LEADER, Role.SAFETY_OFFICER)
ROLE_ORDER = {role: index for index, role in enumerate((Role.CHAIR, *INVITABLE_ROLES))}


class InvitationError(ValueError):
    """Bad input for an invitation; the message is for the 会長, in Japanese."""


@dataclass(frozen=True)
class Invitation:
    email: str
    role: Role
    han_id: int | None = None
    display_name: str = ""


@dataclass(frozen=True)
class InvitationResult:
    account_id: int
    grant_id: int
    already: bool  # the person already had this role: nothing new was granted
    mailed: bool


async def list_officers(tenant: Tenant) -> list[dict]:
    rows = await tenant.select(
        RoleGrant,
        RoleGrant.id,
        RoleGrant.role,
        RoleGrant.han,
        RoleGrant.created_at,
        RoleGrant.account.id.as_alias("account_id"),
        RoleGrant.account.email.as_alias("email"),
        RoleGrant.account.display_name.as_alias("display_name"),
        RoleGrant.account.last_sign_in_at.as_alias("last_sign_in_at"),
        RoleGrant.han.name.as_alias("han_name"),
    ).where(RoleGrant.role != Role.MEMBER.value)
    for row in rows:
        row["label"] = ROLE_LABELS.get(Role(row["role"]), row["role"])
    rows.sort(key=lambda r: (ROLE_ORDER.get(Role(r["role"]), 99), r["han_name"] or "", r["email"]))
    return rows


async def list_han(tenant: Tenant) -> list[dict]:
    return await tenant.select(Han, Han.id, Han.name).order_by(Han.position).order_by(Han.id)


async def parse_invitation(tenant: Tenant, form: dict[str, str]) -> Invitation:
    """Check what the 会長 typed; raise InvitationError with a message saying what to fix."""
    typed = unicodedata.normalize("NFKC", form.get("email", "")).strip()
    try:
        email = signin.normalize_email(check_address(typed))
    except InvalidAddress:
        raise InvitationError("メールアドレスの形が正しくないようです。例: taro@example.jp") from None
    try:
        role = Role(form.get("role", ""))
    except ValueError:
        role = None
    if role not in INVITABLE_ROLES:
        raise InvitationError("役割を選んでください。")
    han_id = None
    if role == Role.HAN_LEADER:
        han_id = ascii_int(form.get("han", "").strip())
        if han_id is None:
            raise InvitationError("班長には、どの班かを選んでください。")
        if not await tenant.count(Han).where(Han.id == han_id):
            raise InvitationError("選んだ班が見つかりません。もう一度選んでください。")
    name = " ".join(form.get("display_name", "").split())[:100]
    return Invitation(email=email, role=role, han_id=han_id, display_name=name)


async def audit(tenant: Tenant, account_id: int | None, action: str, detail: str) -> None:
    await tenant.new(
        AuditEntry, account=account_id, action=action, detail=detail, created_at=datetime.now(UTC)
    ).save()


async def invite_officer(
    tenant: Tenant, invitation: Invitation, invited_by: int | None
) -> InvitationResult:
    """Grant the role (once) and mail a sign-in link valid for 7 days."""
    account_id = await signin.get_or_create_account(invitation.email, invitation.display_name)
    same = (
        (RoleGrant.account == account_id)
        & (RoleGrant.role == invitation.role.value)
        & (RoleGrant.han.is_null() if invitation.han_id is None else RoleGrant.han == invitation.han_id)
        & RoleGrant.household.is_null()
    )
    # Check and insert in one write transaction; the unique index role_grant_once (and DO NOTHING)
    # keeps two invitations at the same moment from granting twice.
    async with write_transaction():
        existing = await tenant.select(RoleGrant, RoleGrant.id).where(same).first()
        already = existing is not None
        if not already:
            grant = tenant.new(
                RoleGrant,
                account=account_id,
                role=invitation.role.value,
                han=invitation.han_id,
                granted_by=invited_by,
                created_at=datetime.now(UTC),
            )
            inserted = await RoleGrant.insert(grant).on_conflict(action="DO NOTHING").returning(RoleGrant.id)
            already = not inserted  # another invitation got there first (PostgreSQL: it waited on the index)
            existing = inserted[0] if inserted else await tenant.select(RoleGrant, RoleGrant.id).where(same).first()
    grant_id = existing["id"]
    label = ROLE_LABELS[invitation.role]
    if invitation.han_id is not None:
        han = await tenant.select(Han, Han.name).where(Han.id == invitation.han_id).first()
        label = f"{han['name']}の{label}" if han else label
    secret = await signin.create_email_link_secret(account_id, lifetime=signin.INVITATION_LINK_LIFETIME)
    link = signin.signin_link(secret, f"/a/{tenant.slug}/")
    data = invitation_message(
        invitation.email, tenant.name, label, link, days_valid=signin.INVITATION_LINK_LIFETIME.days
    )
    result = await send_one(invitation.email, data)
    if not result.ok:
        log.warning("invitation to account %s not sent: %s", account_id, result.error)
    await audit(
        tenant,
        invited_by,
        "officer.invite",
        f"{invitation.email} {invitation.role.value}"
        + (f" han={invitation.han_id}" if invitation.han_id else "")
        + ("" if result.ok else f" (mail not sent: {result.error[:100]})"),
    )
    return InvitationResult(account_id, grant_id, already, result.ok)


class RemovalError(ValueError):
    """The role cannot be removed; the message is for the 会長, in Japanese."""


async def remove_officer(tenant: Tenant, grant_id: int, removed_by: int | None) -> dict:
    grant = await tenant.select(
        RoleGrant, RoleGrant.id, RoleGrant.role, RoleGrant.han, RoleGrant.account.email.as_alias("email")
    ).where((RoleGrant.id == grant_id) & (RoleGrant.role != Role.MEMBER.value)).first()
    if grant is None:
        raise RemovalError("その役割は見つかりません。すでに外されたのかもしれません。")
    if grant["role"] == Role.CHAIR.value:
        # Without a 会長 nobody could manage officers any more.
        raise RemovalError("会長の役割はここでは外せません。会長の交代は運営者にご連絡ください。")
    await tenant.delete(RoleGrant).where(RoleGrant.id == grant_id)
    await audit(
        tenant,
        removed_by,
        "officer.remove",
        f"{grant['email']} {grant['role']}" + (f" han={grant['han']}" if grant["han"] else ""),
    )
    return grant
