"""Demo content: fictional households and members for the demo associations.

Every name is made of obviously fictional parts (見本, 仮野, 例田 …). The numbers come
from each association file's ``[demo]`` table; the content is the same on every run.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

from chonaikai.db import insert_many, write_transaction
from chonaikai.roster.tables import Han, Household, Member
from chonaikai.tenancy.logic import find_tenant
from chonaikai.tenancy.tenant_files import read_tenant_dir

FAMILY_NAMES = [
    ("見本", "ミホン"), ("仮野", "カリノ"), ("例田", "レイダ"), ("試山", "タメシヤマ"), ("架空", "カクウ"),
    ("模擬", "モギ"), ("標本", "ヒョウホン"), ("雛形", "ヒナガタ"), ("手本", "テホン"), ("試作", "シサク"),
    ("仮谷", "カリヤ"), ("例村", "レイムラ"),
]
GIVEN_NAMES = [
    ("太郎", "タロウ"), ("花子", "ハナコ"), ("一郎", "イチロウ"), ("春子", "ハルコ"), ("次郎", "ジロウ"),
    ("夏美", "ナツミ"), ("三郎", "サブロウ"), ("秋代", "アキヨ"), ("健太", "ケンタ"), ("冬香", "フユカ"),
    ("修", "オサム"), ("和子", "カズコ"),
]
CHANNEL_WEIGHTS = (("email", 5), ("line", 3), ("paper", 2))


def fictional_household(rng: random.Random, number: int, han_name: str, town: str) -> dict:
    family, family_kana = rng.choice(FAMILY_NAMES)
    given, given_kana = rng.choice(GIVEN_NAMES)
    channel = rng.choices([c for c, _ in CHANNEL_WEIGHTS], weights=[w for _, w in CHANNEL_WEIGHTS])[0]
    return {
        "name": f"{family} {given}",
        "kana": f"{family_kana} {given_kana}",
        "address": f"{town}{han_name.rstrip('班')}-{number}",
        "channel": channel,
        "family": (family, family_kana),
    }


async def load_demo_roster(directory: Path) -> list[str]:
    """Fill the roster of every association whose file has ``[demo] households = N`` and no households yet."""
    _, associations = read_tenant_dir(directory)
    loaded = []
    now = datetime.now(UTC)
    for spec in associations:
        count = int(spec.demo.get("households", 0))
        tenant = await find_tenant(spec.slug)
        if not count or tenant is None or await tenant.count(Household) > 0:
            continue
        rng = random.Random(spec.slug)
        han_rows = await tenant.select(Han, Han.id, Han.name).order_by(Han.position)
        if not han_rows:
            continue
        async with write_transaction():
            households = []
            plans = []
            for number in range(1, count + 1):
                han = han_rows[(number - 1) % len(han_rows)]
                plan = fictional_household(rng, number, han["name"], spec.demo.get("town", "見本町"))
                # example.jp is reserved for documentation: no real person receives these.
                plan["email"] = f"{spec.slug}-{number:03d}@example.jp" if plan["channel"] != "paper" else ""
                plans.append(plan)
                households.append(
                    tenant.new(
                        Household,
                        han=han["id"],
                        name=plan["name"],
                        kana=plan["kana"],
                        address=plan["address"],
                        email=plan["email"],
                        channel=plan["channel"],
                        created_at=now,
                        updated_at=now,
                    )
                )
            await insert_many(Household, households)
            ids = await tenant.select(Household, Household.id).order_by(Household.id)
            members = []
            for row, plan in zip(ids, plans, strict=True):
                family, family_kana = plan["family"]
                members.append(tenant.new(Member, household=row["id"], name=plan["name"], kana=plan["kana"], relation="世帯主"))
                for _ in range(rng.randint(0, 3)):
                    given, given_kana = rng.choice(GIVEN_NAMES)
                    members.append(
                        tenant.new(
                            Member,
                            household=row["id"],
                            name=f"{family} {given}",
                            kana=f"{family_kana} {given_kana}",
                            relation=rng.choice(["配偶者", "子", "親"]),
                        )
                    )
            await insert_many(Member, members)
        loaded.append(spec.slug)
    return loaded


# Demo officers, one set per demo association: sign in with these on /signin and open the
# e-mailed link in the demo mailbox (/dev/mail). example.jp is reserved: nobody real gets mail.
DEMO_OFFICERS = (("kaicho", "chair", "見本 太郎"), ("kouhou", "editor", "仮野 花子"))


def demo_officer_email(slug: str, local: str) -> str:
    return f"{slug}-{local}@example.jp"


async def load_demo_officers(directory: Path) -> list[str]:
    """Give every demo association a 会長 and a 広報 account (idempotent)."""
    from chonaikai.accounts.signin import get_or_create_account
    from chonaikai.accounts.tables import RoleGrant

    _, associations = read_tenant_dir(directory)
    emails = []
    for spec in associations:
        tenant = await find_tenant(spec.slug)
        if not spec.demo or tenant is None:
            continue
        for local, role, name in DEMO_OFFICERS:
            email = demo_officer_email(spec.slug, local)
            account_id = await get_or_create_account(email, name)
            if not await tenant.count(RoleGrant).where((RoleGrant.account == account_id) & (RoleGrant.role == role)):
                await tenant.new(RoleGrant, account=account_id, role=role, created_at=datetime.now(UTC)).save()
            emails.append(email)
    return emails


def demo_city_staff_email(city_slug: str) -> str:
    return f"{city_slug}-shokuin@example.jp"


async def load_demo_city_staff(directory: Path) -> list[tuple[str, str]]:
    """Give every demo city a 市職員 account, to try sending a circular (idempotent)."""
    from chonaikai.circulars.commands import grant_city_staff

    cities, _ = read_tenant_dir(directory)
    emails = []
    for spec in cities:
        email = demo_city_staff_email(spec.slug)
        await grant_city_staff(spec.slug, email, display_name="見本 市職員")
        emails.append((spec.slug, email))
    return emails
