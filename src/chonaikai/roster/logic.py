"""The roster (名簿): households, their members and 班, for officers; every change is audited.

Every function takes the ``Tenant`` (association scope) and, for officers, the ``Access`` returned
by ``authorize`` so a 班長 only ever reaches the households of their own 班.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from chonaikai.accounts.credentials import end_household_sessions
from chonaikai.accounts.principal import Access, Principal
from chonaikai.accounts.tables import AuditEntry, RoleGrant, SignInToken
from chonaikai.db import write_transaction
from chonaikai.line.tables import LineLink
from chonaikai.params import ascii_int, optional_int
from chonaikai.roster.tables import CHANNELS, Han, Household, Member
from chonaikai.tenancy.scope import Tenant

CHANNEL_LABELS = {"email": "メール", "line": "LINE", "paper": "紙"}
ERASED_NAME = "（削除済み）"
UNASSIGNED = "none"  # the 班 filter value for households not yet in a 班

# The fields an officer edits; the audit log names the fields that changed, never their values,
# so erasing a household's data also leaves nothing of it in the log.
EDITABLE_FIELDS = ("name", "kana", "han", "address", "phone", "email", "channel", "notes")
FIELD_LABELS = {
    "name": "世帯主",
    "kana": "フリガナ",
    "han": "班",
    "address": "住所",
    "phone": "電話",
    "email": "メール",
    "channel": "連絡方法",
    "notes": "備考",
    "needs_support": "要支援",
    "support_consent_on": "要支援の同意日",
}
# 要支援 is set on the form only (never by CSV): with the household's consent and its date.
SUPPORT_FIELDS = ("needs_support", "support_consent_on")
LIMITS = {"name": 100, "kana": 200, "address": 300, "phone": 50, "email": 254, "notes": 2000}

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DASHES = re.compile("[\u2010-\u2015\u2212\u30fc\uff70]")
PHONE_RE = re.compile(r"^[0-9+\-() ]{3,50}$")


# --- text normalisation -------------------------------------------------------------------------


def to_katakana(text: str) -> str:
    """ひらがな → カタカナ, so フリガナ typed either way is stored and searched the same."""
    return "".join(chr(ord(ch) + 0x60) if "ぁ" <= ch <= "ゖ" else ch for ch in text)


def clean(text: Any) -> str:
    """NFKC (full-width digits and letters, half-width kana) and trimmed; None → ''."""
    if text is None:
        return ""
    return unicodedata.normalize("NFKC", str(text)).strip()


def search_key(text: str) -> str:
    """What a search compares: no spaces, katakana, case-folded."""
    return re.sub(r"\s+", "", to_katakana(clean(text))).casefold()


# --- audit --------------------------------------------------------------------------------------


async def audit(
    tenant: Tenant | None,
    actor: Principal | None,
    action: str,
    detail: str = "",
    household_id: int | None = None,
) -> None:
    await AuditEntry.insert(
        AuditEntry(
            association=tenant.id if tenant else None,
            account=actor.account_id if actor else None,
            household=household_id,
            action=action,
            detail=detail[:2000],
            created_at=datetime.now(UTC),
        )
    )


# --- reading ------------------------------------------------------------------------------------


async def list_han(tenant: Tenant, access: Access | None = None) -> list[dict[str, Any]]:
    rows = await tenant.select(Han, Han.id, Han.name).order_by(Han.position).order_by(Han.id)
    if access is not None:
        rows = [row for row in rows if access.covers_han(row["id"])]
    return rows


HOUSEHOLD_COLUMNS = (
    Household.id,
    Household.han,
    Household.name,
    Household.kana,
    Household.address,
    Household.phone,
    Household.email,
    Household.channel,
    Household.notes,
    Household.moved_out,
    Household.erased_at,
    Household.needs_support,
    Household.support_consent_on,
    Household.updated_at,
    Household.updated_by,
)


def _scoped(tenant: Tenant, access: Access | None):
    select = tenant.select(Household, *HOUSEHOLD_COLUMNS)
    where = access.household_filter() if access is not None else None
    return select.where(where) if where is not None else select


@dataclass
class RosterQuery:
    q: str = ""
    han: str = ""  # a 班 id, UNASSIGNED, or "" for all
    channel: str = ""
    moved_out: bool = False  # show households that moved out instead of current ones


async def list_households(tenant: Tenant, access: Access, query: RosterQuery | None = None) -> list[dict]:
    query = query or RosterQuery()
    select = _scoped(tenant, access).where(Household.moved_out == query.moved_out)
    if query.han == UNASSIGNED:
        select = select.where(Household.han.is_null())
    elif query.han:
        select = select.where(Household.han == optional_int(query.han, "班"))  # else 400
    if query.channel in CHANNELS:
        select = select.where(Household.channel == query.channel)
    rows = await select.order_by(Household.kana).order_by(Household.id)
    needle = search_key(query.q)
    if needle:
        # Filtered here rather than with LIKE: LIKE's case rules differ between SQLite and
        # PostgreSQL, and names need kana/width/space folding. One association is at most a
        # few thousand rows.
        member_hits = await _households_with_member_matching(tenant, needle)
        rows = [
            row
            for row in rows
            if needle in search_key(row["name"]) or needle in search_key(row["kana"]) or row["id"] in member_hits
        ]
    members = await members_by_household(tenant, [row["id"] for row in rows])
    han_names = {row["id"]: row["name"] for row in await list_han(tenant)}
    for row in rows:
        row["han_name"] = han_names.get(row["han"], "")
        row["members"] = members.get(row["id"], [])
        row["channel_label"] = CHANNEL_LABELS.get(row["channel"], row["channel"])
    return rows


async def _households_with_member_matching(tenant: Tenant, needle: str) -> set[int]:
    rows = await tenant.select(Member, Member.household, Member.name, Member.kana)
    return {
        row["household"]
        for row in rows
        if needle in search_key(row["name"]) or needle in search_key(row["kana"])
    }


async def members_by_household(tenant: Tenant, household_ids: list[int]) -> dict[int, list[dict]]:
    result: dict[int, list[dict]] = {}
    if not household_ids:
        return result
    for start in range(0, len(household_ids), 1000):
        chunk = household_ids[start : start + 1000]
        rows = await tenant.select(Member, Member.id, Member.household, Member.name, Member.kana, Member.relation).where(
            Member.household.is_in(chunk)
        ).order_by(Member.id)
        for row in rows:
            result.setdefault(row["household"], []).append(row)
    return result


@dataclass
class Counts:
    total: int = 0
    by_han: list[tuple[str, str, int]] = field(default_factory=list)  # (filter value, label, count)
    # By the way each household is really reached (its effective channel) when ``counts`` is
    # given the rule, else by the chosen one.
    by_channel: list[tuple[str, str, int]] = field(default_factory=list)
    moved_out: int = 0
    # chosen channel → households that chose it but get paper (LINE not linked, no address).
    paper_instead: dict[str, int] = field(default_factory=dict)


async def counts(tenant: Tenant, access: Access, effective: Callable[[dict], str] | None = None) -> Counts:
    """Households per 班 and per channel. ``effective(row) → channel`` is the rule of
    ``chonaikai.line.reach`` (passed in: the roster does not know LINE)."""
    rows = await _scoped(tenant, access).where(Household.moved_out == False)  # noqa: E712
    moved = _scoped(tenant, access).where(Household.moved_out == True)  # noqa: E712
    result = Counts(total=len(rows), moved_out=len(await moved))
    per_han: dict[int | None, int] = {}
    per_channel: dict[str, int] = {}
    for row in rows:
        per_han[row["han"]] = per_han.get(row["han"], 0) + 1
        reached = effective(row) if effective else row["channel"]
        per_channel[reached] = per_channel.get(reached, 0) + 1
        if reached != row["channel"]:
            result.paper_instead[row["channel"]] = result.paper_instead.get(row["channel"], 0) + 1
    for han in await list_han(tenant, access):
        result.by_han.append((str(han["id"]), han["name"], per_han.get(han["id"], 0)))
    if access.whole_association:
        result.by_han.append((UNASSIGNED, "班なし", per_han.get(None, 0)))
    result.by_channel = [(c, CHANNEL_LABELS[c], per_channel.get(c, 0)) for c in CHANNELS]
    return result


async def get_household(tenant: Tenant, access: Access | None, household_id: int) -> dict | None:
    """One household if it is in this association and covered by ``access`` (None otherwise)."""
    row = await _scoped(tenant, access).where(Household.id == household_id).first()
    if row is None:
        return None
    han_names = {han["id"]: han["name"] for han in await list_han(tenant)}
    row["han_name"] = han_names.get(row["han"], "")
    row["channel_label"] = CHANNEL_LABELS.get(row["channel"], row["channel"])
    row["members"] = (await members_by_household(tenant, [household_id])).get(household_id, [])
    return row


# --- validation ---------------------------------------------------------------------------------


@dataclass
class HouseholdValues:
    name: str = ""
    kana: str = ""
    han: int | None = None
    address: str = ""
    phone: str = ""
    email: str = ""
    channel: str = "paper"
    notes: str = ""
    needs_support: bool = False
    support_consent_on: date | None = None

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in EDITABLE_FIELDS}

    def support_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in SUPPORT_FIELDS}


def check_field(name: str, value: str) -> str | None:
    """A Japanese message when one field's value cannot be stored (None: fine)."""
    if name in LIMITS and len(value) > LIMITS[name]:
        return f"{FIELD_LABELS[name]}は{LIMITS[name]}文字までです"
    if name == "name" and not value:
        return "世帯主の名前を入れてください"
    if name == "email" and value and not EMAIL_RE.match(value):
        return f"メール「{value}」はメールアドレスの形ではありません"
    if name == "phone" and value and not PHONE_RE.match(value):
        return f"電話「{value}」は数字とハイフンで書いてください"
    return None


def normalize_values(raw: dict[str, Any]) -> dict[str, str]:
    values = {name: clean(raw.get(name, "")) for name in ("name", "kana", "address", "phone", "email", "notes")}
    # Notes keep their line breaks; everything else is one line.
    values["notes"] = unicodedata.normalize("NFKC", str(raw.get("notes") or "")).strip()
    values["kana"] = to_katakana(values["kana"])
    values["email"] = values["email"].lower()
    # Phones typed with a Japanese keyboard come with all sorts of dashes (and the long-vowel mark).
    values["phone"] = DASHES.sub("-", values["phone"])
    return values


def validate_form(raw: dict[str, Any], han_ids: set[int], access: Access) -> tuple[HouseholdValues, dict[str, str]]:
    """Values from the add/edit form, and the errors per field in Japanese."""
    values = normalize_values(raw)
    errors: dict[str, str] = {}
    for name, value in values.items():
        message = check_field(name, value)
        if message:
            errors[name] = message
    channel = clean(raw.get("channel")) or "paper"
    if channel not in CHANNELS:
        errors["channel"] = "連絡方法を選んでください"
        channel = "paper"
    if channel == "email" and not values["email"] and "email" not in errors:
        errors["email"] = "連絡方法がメールのときは、メールアドレスを入れてください"
    han_raw = clean(raw.get("han"))
    han: int | None = None
    if han_raw and han_raw != UNASSIGNED:
        if ascii_int(han_raw) not in han_ids:
            errors["han"] = "班を選び直してください"
        else:
            han = ascii_int(han_raw)
    if "han" not in errors and not access.covers_han(han):
        errors["han"] = "ご自分の班の世帯だけを登録・変更できます"
    needs_support, consent_on, support_error = parse_support(raw)
    if support_error:
        errors["support_consent_on"] = support_error
    return HouseholdValues(
        han=han, channel=channel, needs_support=needs_support, support_consent_on=consent_on, **values
    ), errors


def parse_support(raw: dict[str, Any]) -> tuple[bool, date | None, str | None]:
    """要支援 and the date the household agreed to it: the flag is kept only with that date."""
    needs = clean(raw.get("needs_support")) in ("1", "on", "true")
    text = clean(raw.get("support_consent_on"))
    if not needs:
        return False, None, None
    if not text:
        return False, None, "要支援にするときは、世帯の同意をもらった日を入れてください"
    try:
        consent_on = date.fromisoformat(text.replace("/", "-"))
    except ValueError:
        return False, None, f"同意をもらった日「{text}」は 2026-04-01 の形で書いてください"
    if consent_on > datetime.now(UTC).date() or consent_on.year < 2000:
        return False, None, "同意をもらった日は、今日までの日付にしてください"
    return True, consent_on, None


# --- changing -----------------------------------------------------------------------------------


class NotAllowed(Exception):
    """The household is outside what this officer may change."""


async def create_household(tenant: Tenant, access: Access, actor: Principal, values: HouseholdValues) -> int:
    if not access.covers_han(values.han):
        raise NotAllowed()
    now = datetime.now(UTC)
    async with write_transaction():
        rows = await Household.insert(
            tenant.new(
                Household, **values.as_dict(), **values.support_dict(),
                created_at=now, updated_at=now, updated_by=actor.account_id,
            )
        ).returning(Household.id)
        household_id = rows[0]["id"]
        await Member.insert(
            tenant.new(Member, household=household_id, name=values.name, kana=values.kana, relation="世帯主")
        )
        await audit(tenant, actor, "household.create", "", household_id)
    return household_id


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [
        name for name in (*EDITABLE_FIELDS, *SUPPORT_FIELDS)
        if name in after and (before.get(name) or "") != (after[name] or "")
    ]


def changes_text(changed: list[str]) -> str:
    """What changed, for the audit log: field names only, never their values."""
    return "変更: " + "、".join(FIELD_LABELS[name] for name in changed)


async def _write_changes(
    tenant: Tenant, actor: Principal, household_id: int, after: dict[str, Any], changed: list[str]
) -> None:
    await tenant.update(
        Household,
        {**{getattr(Household, name): after[name] for name in changed},
         Household.updated_at: datetime.now(UTC), Household.updated_by: actor.account_id},
    ).where(Household.id == household_id)


async def update_household(
    tenant: Tenant, access: Access, actor: Principal, household_id: int, values: HouseholdValues
) -> list[str]:
    """Save the form; returns the names of the fields that changed (nothing written when none)."""
    before = await get_household(tenant, access, household_id)
    if before is None or before["erased_at"] is not None or not access.covers_han(values.han):
        raise NotAllowed()
    after = {**values.as_dict(), **values.support_dict()}
    changed = changed_fields(before, after)
    if not changed:
        return []
    async with write_transaction():
        await _write_changes(tenant, actor, household_id, after, changed)
        if "email" in changed:  # a sign-in by the old roster address must not outlive it
            await end_household_sessions(tenant, household_id)
        if "name" in changed or "kana" in changed:
            await tenant.update(Member, {Member.name: values.name, Member.kana: values.kana}).where(
                (Member.household == household_id) & (Member.relation == "世帯主")
            )
        action = "household.move" if changed == ["han"] else "household.update"
        detail = changes_text(changed)
        if "han" in changed:
            han_names = {han["id"]: han["name"] for han in await list_han(tenant)}
            detail += f"（班: {before['han_name'] or '班なし'} → {han_names.get(values.han, '班なし')}）"
        await audit(tenant, actor, action, detail, household_id)
    return changed


async def set_moved_out(tenant: Tenant, access: Access, actor: Principal, household_id: int, moved_out: bool) -> bool:
    before = await get_household(tenant, access, household_id)
    if before is None or before["erased_at"] is not None:
        raise NotAllowed()
    if before["moved_out"] == moved_out:
        return False
    async with write_transaction():
        await tenant.update(
            Household,
            {Household.moved_out: moved_out, Household.updated_at: datetime.now(UTC), Household.updated_by: actor.account_id},
        ).where(Household.id == household_id)
        # A household that moved out can no longer sign in with a card.
        if moved_out:
            await SignInToken.delete().where(SignInToken.household == household_id)
            await end_household_sessions(tenant, household_id)
        await audit(tenant, actor, "household.moved_out" if moved_out else "household.moved_back", "", household_id)
    return True


async def add_member(tenant: Tenant, access: Access | None, actor: Principal, household_id: int, raw: dict) -> str | None:
    """Add a person to a household; returns an error message in Japanese, or None."""
    household = await get_household(tenant, access, household_id)
    if household is None or household["erased_at"] is not None:
        raise NotAllowed()
    name = clean(raw.get("name"))
    kana = to_katakana(clean(raw.get("kana")))
    relation = clean(raw.get("relation"))
    if not name:
        return "名前を入れてください"
    if len(name) > 100 or len(kana) > 200 or len(relation) > 30:
        return "名前が長すぎます"
    async with write_transaction():
        await Member.insert(tenant.new(Member, household=household_id, name=name, kana=kana, relation=relation))
        await _touch(tenant, actor, household_id)
        await audit(tenant, actor, "member.add", "", household_id)
    return None


async def remove_member(tenant: Tenant, access: Access | None, actor: Principal, household_id: int, member_id: int) -> None:
    household = await get_household(tenant, access, household_id)
    if household is None:
        raise NotAllowed()
    async with write_transaction():
        deleted = await tenant.delete(Member).where(
            (Member.id == member_id) & (Member.household == household_id)
        ).returning(Member.id)
        if deleted:
            await _touch(tenant, actor, household_id)
            await audit(tenant, actor, "member.remove", "", household_id)


async def _touch(tenant: Tenant, actor: Principal, household_id: int) -> None:
    await tenant.update(
        Household, {Household.updated_at: datetime.now(UTC), Household.updated_by: actor.account_id}
    ).where(Household.id == household_id)


async def erase_household(tenant: Tenant, actor: Principal, household_id: int) -> None:
    """Erase the personal data of a household that moved out; an anonymous row stays for counts.

    Its members, sign-in cards and member accounts' grants for it go too.
    """
    row = await tenant.select(Household, Household.id, Household.moved_out, Household.erased_at).where(
        Household.id == household_id
    ).first()
    if row is None or not row["moved_out"] or row["erased_at"] is not None:
        raise NotAllowed()
    now = datetime.now(UTC)
    async with write_transaction():
        await tenant.update(
            Household,
            {
                Household.name: ERASED_NAME,
                Household.kana: "",
                Household.address: "",
                Household.phone: "",
                Household.email: "",
                Household.notes: "",
                Household.needs_support: False,
                Household.support_consent_on: None,
                Household.channel: "paper",
                Household.erased_at: now,
                Household.updated_at: now,
                Household.updated_by: actor.account_id,
            },
        ).where(Household.id == household_id)
        await tenant.delete(Member).where(Member.household == household_id)
        await SignInToken.delete().where(SignInToken.household == household_id)
        await end_household_sessions(tenant, household_id)
        await tenant.delete(LineLink).where(LineLink.household == household_id)  # LINE user ids are personal data
        await RoleGrant.delete().where(
            (RoleGrant.household == household_id) & (RoleGrant.association == tenant.id)
        )
        await audit(tenant, actor, "household.erase", "個人情報を削除", household_id)


# --- the member's own household -----------------------------------------------------------------

async def update_own_contact(tenant: Tenant, actor: Principal, household_id: int, raw: dict) -> dict[str, str]:
    """A member changes their own phone, e-mail and channel; returns errors (nothing saved if any)."""
    before = await get_household(tenant, None, household_id)
    if before is None or before["moved_out"]:
        raise NotAllowed()
    values = normalize_values(raw)
    errors: dict[str, str] = {}
    for name in ("phone", "email"):
        message = check_field(name, values[name])
        if message:
            errors[name] = message
    channel = clean(raw.get("channel")) or "paper"
    if channel not in CHANNELS:
        errors["channel"] = "連絡方法を選んでください"
    elif channel == "email" and not values["email"] and "email" not in errors:
        errors["email"] = "メールで受け取るときは、メールアドレスを入れてください"
    if errors:
        return errors
    after = {"phone": values["phone"], "email": values["email"], "channel": channel}
    changed = changed_fields(before, after)
    if changed:
        async with write_transaction():
            await _write_changes(tenant, actor, household_id, after, changed)
            await audit(tenant, actor, "household.self_update", changes_text(changed), household_id)
    return {}


async def own_data(tenant: Tenant, household_id: int) -> dict[str, Any]:
    """Everything stored about one household, for the member's own download."""
    household = await get_household(tenant, None, household_id)
    if household is None:
        return {}
    tokens = await SignInToken.select(SignInToken.purpose, SignInToken.expires_at, SignInToken.created_at).where(
        SignInToken.household == household_id
    )
    return {
        "association": tenant.name,
        "household": {
            "id": household["id"],
            "世帯主": household["name"],
            "フリガナ": household["kana"],
            "班": household["han_name"],
            "住所": household["address"],
            "電話": household["phone"],
            "メール": household["email"],
            "連絡方法": household["channel_label"],
            "備考": household["notes"],
            "転出": household["moved_out"],
            "更新日時": household["updated_at"].isoformat() if household["updated_at"] else None,
        },
        "members": [
            {"名前": m["name"], "フリガナ": m["kana"], "続柄": m["relation"]} for m in household["members"]
        ],
        # A card is two rows (QR secret and short code) made at the same moment: list it once.
        "sign_in_cards": [
            {"作成": created.isoformat(), "期限": expires.isoformat()}
            for created, expires in sorted({(t["created_at"], t["expires_at"]) for t in tokens if t["purpose"] == "card"})
        ],
        "history": [
            {"日時": e["created_at"].isoformat(), "内容": e["action"], "詳細": e["detail"]}
            for e in await AuditEntry.select(AuditEntry.created_at, AuditEntry.action, AuditEntry.detail).where(
                (AuditEntry.household == household_id) & (AuditEntry.association == tenant.id)
            ).order_by(AuditEntry.id)
        ],
    }
