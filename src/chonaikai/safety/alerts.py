"""Telling an association's officers that a 安否確認 started (the city started it, or another
officer did): who gets it, and the words. The messages go through the delivery core's officer-alert
outbox (e-mail, and LINE when the officer's own household has it; retried with backoff): this
module registers the source ``KIND`` (``render_alert``, wired in ``chonaikai.wiring``), enqueues one
alert per officer and channel, and sends the due ones at once; the worker's jobs send what is left."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from chonaikai.accounts import signin
from chonaikai.accounts.roles import ASSOCIATION_MATRIX, Permission, Role
from chonaikai.accounts.tables import RoleGrant
from chonaikai.delivery.alerts import AlertMessage, AlertRecipient, enqueue_alerts, send_due_alerts
from chonaikai.line.officers import officer_line_users
from chonaikai.safety import wording
from chonaikai.safety.tables import SafetyCheck
from chonaikai.settings import get_settings
from chonaikai.tenancy.scope import Tenant

log = logging.getLogger(__name__)
ALERT_LINK_LIFETIME = timedelta(hours=24)
KIND = "safety"  # delivery_alert.kind; ref_id: the safety check


def _alert_roles() -> list[str]:
    return sorted(str(role) for role in ASSOCIATION_MATRIX[Permission.SAFETY_VIEW])


async def recipients(association_id: int, exclude_account: int | None = None) -> list[dict[str, Any]]:
    """Every officer who follows checks in the association (会長, 副会長, 防災, 班長 …), once each:
    ``id``, ``email`` and ``line_user_ids`` (of their own household there)."""
    rows = await RoleGrant.select(
        RoleGrant.account, RoleGrant.role, RoleGrant.household, RoleGrant.account.email.as_alias("email"),
    ).where(
        (RoleGrant.association == association_id) & RoleGrant.role.is_in([*_alert_roles(), str(Role.MEMBER)])
    )
    officers: dict[int, str] = {}
    member_households: dict[tuple[int, int], set[int]] = {}
    for row in rows:
        if row["role"] == Role.MEMBER:
            if row["household"]:
                member_households.setdefault((association_id, row["account"]), set()).add(row["household"])
        elif row["account"] != exclude_account:
            officers[row["account"]] = row["email"] or ""
    users = await officer_line_users({(association_id, aid): email for aid, email in officers.items()},
                                     member_households)
    return [{"id": aid, "email": officers[aid], "line_user_ids": users.get((association_id, aid), [])}
            for aid in sorted(officers)]


async def check_facts(check_id: int) -> dict[str, Any] | None:
    """The check with its association's slug and name (None: gone)."""
    return await SafetyCheck.select(
        SafetyCheck.id, SafetyCheck.association, SafetyCheck.title, SafetyCheck.drill, SafetyCheck.started_by_label,
        SafetyCheck.association.slug.as_alias("slug"), SafetyCheck.association.name.as_alias("association_name"),
    ).where(SafetyCheck.id == check_id).first()


async def render_alert(check_id: int, account_id: int) -> AlertMessage | None:
    """The alert of one check for one officer, made at send time: its own sign-in link (24 hours,
    once) to the results — in a disaster nobody should have to ask for a sign-in link first.
    None: the check is gone, or the account no longer follows checks there."""
    facts = await check_facts(check_id)
    if facts is None:
        return None
    officer = next((r for r in await recipients(facts["association"]) if r["id"] == account_id), None)
    if officer is None:
        return None
    words = wording.wording()["officer_alert"]
    title = wording.full_title(facts["title"], facts["drill"])
    link_path = f"/a/{facts['slug']}/safety/{check_id}"
    secret = await signin.create_email_link_secret(account_id, lifetime=ALERT_LINK_LIFETIME)
    link = signin.signin_link(secret, link_path)
    started_by = facts["started_by_label"] or "役員"
    subject = words["subject"].format(title=title)
    text = words["text"].strip().format(
        association=facts["association_name"], started_by=started_by, title=title, link=link,
        base_link=get_settings().base_url + link_path,
    )
    line_text = f"{subject}\n{facts['association_name']}で{started_by}が安否確認を始めました。\n世帯の答え: {link}"
    return AlertMessage(subject=subject, text=text, line_text=line_text, line_user_ids=tuple(officer["line_user_ids"]),
                        from_name=facts["association_name"], email=officer["email"])


async def alert_officers(tenant: Tenant, check: dict[str, Any], exclude_account: int | None = None) -> int:
    """Tell the officers (but the one who started it) that the check started: one alert per officer
    and channel through the outbox, sent at once (what fails is retried by the worker). Returns how
    many alerts were new; a failure to send is logged, never raised: the check has started whatever
    the mail server says."""
    people = await recipients(tenant.id, exclude_account)
    created = await enqueue_alerts(tenant.id, KIND, check["id"], [
        AlertRecipient(person["id"], person["email"], bool(person["line_user_ids"])) for person in people
    ])
    if created:
        try:
            await send_due_alerts()
        except Exception:  # the officers still see it on top of their pages; the worker tries again
            log.exception("safety alerts for %s not sent yet", tenant.slug)
    return created
