"""A city circular reaches the association's officers the moment it lands in their inbox.

When a circular arrives (waiting for review, or forwarded automatically), the 会長 and every
officer whose role may forward circulars (``Permission.CIRCULAR_REVIEW``) are told at once:
- by e-mail: subject 【市からの回覧】 and the title, the answer-by date, the city's text, and one
  link that opens the circular in the inbox — signing them in when it is fresh (a sign-in link
  minted when the mail is made, valid ``ALERT_LINK_LIFETIME``, once);
- on LINE, when the officer's own household has a LINE user linked.
An automatically forwarded circular gets a short "forwarded to N households" message instead.

This module decides who and what; the messages go through the delivery core's outbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from chonaikai.accounts import signin
from chonaikai.accounts.roles import ASSOCIATION_MATRIX, ROLE_LABELS, Permission, Role
from chonaikai.accounts.tables import RoleGrant
from chonaikai.delivery.alerts import AlertMessage, AlertRecipient, alert_summary, enqueue_alerts
from chonaikai.line.officers import officer_line_users

ALERT_LINK_LIFETIME = timedelta(hours=24)
WEEKDAYS = "月火水木金土日"
# Who is told: the 会長 always, and every role that may forward or decline a circular.
ALERT_ROLES: frozenset[Role] = frozenset({Role.CHAIR}) | ASSOCIATION_MATRIX[Permission.CIRCULAR_REVIEW]
ROLE_ORDER = [Role.CHAIR, Role.VICE_CHAIR, Role.EDITOR, Role.TREASURER, Role.HAN_LEADER]


@dataclass
class OfficerRecipient:
    account_id: int
    email: str
    roles: list[Role] = field(default_factory=list)
    line_user_ids: list[str] = field(default_factory=list)  # of the officer's own household

    @property
    def role_label(self) -> str:
        ordered = sorted(self.roles, key=lambda r: ROLE_ORDER.index(r) if r in ROLE_ORDER else len(ROLE_ORDER))
        return "・".join(ROLE_LABELS[r] for r in ordered)

    @property
    def has_address(self) -> bool:
        return signin.normalize_email(self.email).count("@") == 1


async def alert_recipients(association_ids: list[int]) -> dict[int, list[OfficerRecipient]]:
    """Per association, the officers to tell (one entry per account, with all its roles there)."""
    if not association_ids:
        return {}
    rows = await RoleGrant.select(
        RoleGrant.association, RoleGrant.account, RoleGrant.role, RoleGrant.household,
        RoleGrant.account.email.as_alias("email"),
    ).where(
        RoleGrant.association.is_in(sorted(set(association_ids)))
        & RoleGrant.role.is_in(sorted(str(r) for r in ALERT_ROLES | {Role.MEMBER}))
    )
    by_association: dict[int, dict[int, OfficerRecipient]] = {}
    member_households: dict[tuple[int, int], set[int]] = {}
    for row in rows:
        key = (row["association"], row["account"])
        if row["role"] == Role.MEMBER:
            if row["household"]:
                member_households.setdefault(key, set()).add(row["household"])
            continue
        officers = by_association.setdefault(row["association"], {})
        recipient = officers.setdefault(row["account"], OfficerRecipient(row["account"], row["email"] or ""))
        recipient.roles.append(Role(row["role"]))
    await _add_line_users(by_association, member_households)
    return {aid: sorted(officers.values(), key=_rank) for aid, officers in by_association.items()}


def _rank(recipient: OfficerRecipient) -> tuple[int, int]:
    """会長 first, then 副会長, 広報 …; the same order on every page."""
    ranks = [ROLE_ORDER.index(r) if r in ROLE_ORDER else len(ROLE_ORDER) for r in recipient.roles]
    return (min(ranks, default=len(ROLE_ORDER)), recipient.account_id)


async def _add_line_users(
    by_association: dict[int, dict[int, OfficerRecipient]], member_households: dict[tuple[int, int], set[int]]
) -> None:
    """An officer is on LINE when their own household in that association (by membership, or the
    roster address equal to theirs) has a LINE user linked (chonaikai.line.officers)."""
    emails = {(aid, r.account_id): r.email for aid, officers in by_association.items() for r in officers.values()}
    for (association_id, account_id), users in (await officer_line_users(emails, member_households)).items():
        by_association[association_id][account_id].line_user_ids = users


def japanese_date(value: date | None) -> str:
    if value is None:
        return ""
    return f"{value.year}年{value.month}月{value.day}日（{WEEKDAYS[value.weekday()]}）"


def inbox_path(association_slug: str, entry_id: int) -> str:
    return f"/a/{association_slug}/circulars/{entry_id}"


async def alert_link(recipient: OfficerRecipient, association_slug: str, entry_id: int) -> str:
    """A link that opens the circular in the inbox and signs the officer in while it is fresh."""
    secret = await signin.create_email_link_secret(recipient.account_id, lifetime=ALERT_LINK_LIFETIME)
    return signin.signin_link(secret, inbox_path(association_slug, entry_id))


def alert_text(
    *,
    city_name: str,
    association_name: str,
    role_label: str,
    title: str,
    summary: str,
    answer_by: date | None,
    link: str,
    forwarded: int | None,
) -> tuple[str, str]:
    """(subject, text) of the e-mail to one officer."""
    from chonaikai.mail.compose import _render

    return _render("circular_alert.j2", {
        "city_name": city_name,
        "association_name": association_name,
        "role_label": role_label,
        "title": title,
        "summary": summary.strip(),
        "answer_by": japanese_date(answer_by),
        "link": link,
        "link_hours": int(ALERT_LINK_LIFETIME.total_seconds() // 3600),
        "forwarded": forwarded,
    })


def alert_line_text(
    *, city_name: str, title: str, answer_by: date | None, link: str, forwarded: int | None
) -> str:
    """The LINE message to an officer (short: LINE is read on a phone, in a chat)."""
    if forwarded is not None:
        return (f"【市からの回覧】{title}\n{city_name}からの回覧を、会員の{forwarded}世帯に転送しました。\n"
                f"内容: {link}")
    deadline = f"\nお返事の締め切り：{japanese_date(answer_by)}" if answer_by else ""
    return (f"【市からの回覧】{title}\n{city_name}から回覧が届きました。"
            f"「お知らせとして送る」か「回覧しない」を選んでください。{deadline}\n{link}")


async def entry_facts(entry_id: int) -> dict[str, Any] | None:
    """The inbox entry with its circular, city and association (None: gone)."""
    from chonaikai.circulars.tables import CircularEntry
    from chonaikai.delivery.tables import Delivery

    row = await CircularEntry.select(
        CircularEntry.id, CircularEntry.association, CircularEntry.state, CircularEntry.notice,
        CircularEntry.circular.title.as_alias("title"), CircularEntry.circular.summary.as_alias("summary"),
        CircularEntry.circular.answer_by.as_alias("answer_by"),
        CircularEntry.circular.city.name.as_alias("city_name"),
        CircularEntry.association.slug.as_alias("slug"), CircularEntry.association.name.as_alias("association_name"),
    ).where(CircularEntry.id == entry_id).first()
    if row is None:
        return None
    if isinstance(row["answer_by"], str):  # a joined Date column comes back as text on SQLite
        row["answer_by"] = date.fromisoformat(row["answer_by"][:10])
    row["forwarded"] = None
    if row["state"] == "forwarded" and row["notice"]:
        row["forwarded"] = await Delivery.count().where(Delivery.notice == row["notice"])
    return row


async def render_alert(entry_id: int, account_id: int) -> AlertMessage | None:
    """The alert of one inbox entry for one officer (None: the entry or the officer is gone)."""
    facts = await entry_facts(entry_id)
    if facts is None:
        return None
    recipients = (await alert_recipients([facts["association"]])).get(facts["association"], [])
    recipient = next((r for r in recipients if r.account_id == account_id), None)
    if recipient is None:
        return None
    link = await alert_link(recipient, facts["slug"], entry_id)
    subject, text = alert_text(
        city_name=facts["city_name"], association_name=facts["association_name"], role_label=recipient.role_label,
        title=facts["title"], summary=facts["summary"] or "", answer_by=facts["answer_by"], link=link,
        forwarded=facts["forwarded"],
    )
    line_text = alert_line_text(city_name=facts["city_name"], title=facts["title"], answer_by=facts["answer_by"],
                                link=link, forwarded=facts["forwarded"])
    return AlertMessage(subject=subject, text=text, line_text=line_text, line_user_ids=tuple(recipient.line_user_ids),
                        from_name=facts["city_name"], email=recipient.email)


KIND = "circular"  # delivery_alert.kind; ref_id: the inbox entry


async def announce(entries: list[tuple[int, int]]) -> int:
    """Tell the officers of each (association id, entry id) that a circular arrived: one alert
    per officer and channel through the outbox (sent by the worker, or ``send_due_alerts``).
    Returns how many alerts were new."""
    recipients = await alert_recipients([aid for aid, _ in entries])
    created = 0
    for association_id, entry_id in entries:
        created += await enqueue_alerts(association_id, KIND, entry_id, [
            AlertRecipient(r.account_id, r.email, bool(r.line_user_ids)) for r in recipients.get(association_id, [])
        ])
    return created


async def officers_reached(entry_ids: list[int]) -> dict[int, dict[str, Any]]:
    """For the city dashboard, per inbox entry: officers told by e-mail (sent / failed / waiting),
    those without an address, LINE messages sent, and whether nobody can be reached by e-mail."""
    summary = await alert_summary(KIND, entry_ids)
    result = {}
    for entry_id, counts in summary.items():
        officers = len(counts.officers)
        result[entry_id] = {
            "officers": officers, "sent": counts.sent, "failed": counts.failed, "pending": counts.pending,
            "no_address": counts.no_address, "line_sent": counts.line_sent,
            "nobody": officers == 0 or counts.no_address == officers,
        }
    return result
