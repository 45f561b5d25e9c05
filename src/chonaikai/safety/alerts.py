"""Telling an association's officers that a 安否確認 started (the city started it, or another
officer did): who gets it, and the words. ``send_alerts`` is the one door to the sending; it sends
the e-mails itself today and is meant to hand them to the delivery core's officer alerts (with
LINE and retries) once that exists."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from chonaikai.accounts import signin
from chonaikai.accounts.roles import ASSOCIATION_MATRIX, Permission
from chonaikai.accounts.tables import Account, RoleGrant
from chonaikai.mail.compose import InvalidAddress, single_part_message
from chonaikai.mail.smtp import SMTPSender
from chonaikai.safety import wording
from chonaikai.settings import get_settings
from chonaikai.tenancy.scope import Tenant

log = logging.getLogger(__name__)
ALERT_LINK_LIFETIME = timedelta(hours=24)


@dataclass(frozen=True)
class Alert:
    account_id: int
    email: str
    subject: str
    text: str
    link_path: str


async def recipients(tenant: Tenant, exclude_account: int | None = None) -> list[dict[str, Any]]:
    """Every officer who follows checks in the association (会長, 副会長, 防災, 班長 …), once each."""
    roles = [str(role) for role in ASSOCIATION_MATRIX[Permission.SAFETY_VIEW]]
    grants = await RoleGrant.select(RoleGrant.account).where(
        (RoleGrant.association == tenant.id) & RoleGrant.role.is_in(roles)
    )
    ids = sorted({row["account"] for row in grants} - {exclude_account})
    if not ids:
        return []
    return await Account.select(Account.id, Account.email).where(Account.id.is_in(ids)).order_by(Account.id)


async def alerts_for(tenant: Tenant, check: dict[str, Any], people: list[dict[str, Any]]) -> list[Alert]:
    """One e-mail per officer, each with its own sign-in link (24 hours, once) to the results: in a
    disaster nobody should have to ask for a sign-in link first."""
    words = wording.wording()["officer_alert"]
    title = wording.full_title(check["title"], check["drill"])
    link_path = f"/a/{tenant.slug}/safety/{check['id']}"
    subject = words["subject"].format(title=title)
    alerts = []
    for person in people:
        if not person["email"]:
            continue
        secret = await signin.create_email_link_secret(person["id"], lifetime=ALERT_LINK_LIFETIME)
        text = words["text"].strip().format(
            association=tenant.name, started_by=check["started_by_label"] or "役員", title=title,
            link=signin.signin_link(secret, link_path), base_link=get_settings().base_url + link_path,
        )
        alerts.append(Alert(person["id"], person["email"], subject, text, link_path))
    return alerts


async def send_alerts(tenant: Tenant, alerts: list[Alert]) -> int:
    """Send the alerts; returns how many went out (a failure is logged, never raised: the check has
    started whatever the mail server says)."""
    if not alerts:
        return 0
    messages = []
    for alert in alerts:
        try:
            messages.append((alert.email, single_part_message(alert.email, alert.subject, alert.text,
                                                              from_name=tenant.name)))
        except InvalidAddress:
            continue
    try:
        async with SMTPSender(connections=min(4, len(messages) or 1)) as sender:
            results = await sender.send_many(messages)
    except Exception:  # the mail server is down: the officers still see it on top of their pages
        log.exception("safety alerts for %s not sent", tenant.slug)
        return 0
    for (to, _), result in zip(messages, results, strict=True):
        if not result.ok:
            log.warning("safety alert to %s not sent: %s", to.split("@")[-1], result.error)
    return sum(1 for result in results if result.ok)


async def alert_officers(tenant: Tenant, check: dict[str, Any], exclude_account: int | None = None) -> int:
    return await send_alerts(tenant, await alerts_for(tenant, check, await recipients(tenant, exclude_account)))
