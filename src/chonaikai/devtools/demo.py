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
# And a 班長 for each of the first DEMO_HAN_LEADERS 班: {slug}-hancho1@example.jp, …
DEMO_HAN_LEADERS = 2


def demo_officer_email(slug: str, local: str) -> str:
    return f"{slug}-{local}@example.jp"


async def load_demo_officers(directory: Path) -> list[str]:
    """Give every demo association a 会長, a 広報 and a 班長 for its first 班 (idempotent)."""
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
        han_rows = await tenant.select(Han, Han.id, Han.name).order_by(Han.position).limit(DEMO_HAN_LEADERS)
        for number, han in enumerate(han_rows, start=1):
            email = demo_officer_email(spec.slug, f"hancho{number}")
            account_id = await get_or_create_account(email, f"見本 {han['name']}班長")
            if not await tenant.count(RoleGrant).where((RoleGrant.account == account_id) & (RoleGrant.role == "han_leader")):
                await tenant.new(
                    RoleGrant, account=account_id, role="han_leader", han=han["id"], created_at=datetime.now(UTC)
                ).save()
            emails.append(email)
    return emails


async def demo_officer_lines(slug: str) -> list[str]:
    """What the demo prints so a newcomer knows whom to sign in as."""
    lines = [f"{demo_officer_email(slug, 'kaicho')} (会長)", f"{demo_officer_email(slug, 'kouhou')} (広報)"]
    tenant = await find_tenant(slug)
    han_rows = await tenant.select(Han, Han.name).order_by(Han.position).limit(DEMO_HAN_LEADERS) if tenant else []
    for number, name in enumerate((row["name"] for row in han_rows), start=1):
        lines.append(f"{demo_officer_email(slug, f'hancho{number}')} (班長 {name})")
    return lines


# A few notices per demo association, from the 文例 with their blanks filled in.
DEMO_NOTICES = (
    ("issei-seisou", "public", False, {"日時": "12月6日（日）午前8時から9時", "集合場所": "第一公園",
                                       "持ち物": "軍手、ごみ袋", "雨天の場合": "12月13日（日）に延期"}),
    ("soukai", "members", True, {"日時": "1月25日（日）午後2時から", "場所": "町内会館 2階",
                                 "議題": "令和8年度の事業計画と予算", "委任状の締切": "1月18日（日）"}),
    ("bouhan", "public", False, {"起きたこと": "夜間の空き巣", "場所": "となりの町内",
                                 "気をつけること": "外出や就寝の前に、窓と玄関の鍵をかけてください"}),
)


async def load_demo_notices(directory: Path) -> list[int]:
    """Publish the demo notices of every demo association that has none yet (idempotent)."""
    from chonaikai.notices.answering import set_question
    from chonaikai.notices.logic import NoticeInput, create_notice, publish_notice
    from chonaikai.notices.questions import parse_question
    from chonaikai.notices.ready_texts import get_ready_text
    from chonaikai.notices.tables import Notice

    _, associations = read_tenant_dir(directory)
    published = []
    for spec in associations:
        tenant = await find_tenant(spec.slug)
        if not spec.demo or tenant is None or await tenant.count(Notice) > 0:
            continue
        for name, visibility, needs_confirmation, blanks in DEMO_NOTICES:
            text = get_ready_text(name)
            if text is None:
                continue
            title, body = text.fill(blanks)
            values = NoticeInput(
                title=title, body=body, category=text.category, visibility=visibility,
                needs_confirmation=needs_confirmation,
            )
            notice_id = await create_notice(tenant, values, author_title="会長")
            if text.question:  # 総会: 出席・委任状・書面表決; 一斉清掃: 出欠
                await set_question(tenant, notice_id, parse_question(text.question))
            await publish_notice(tenant, notice_id)
            published.append(notice_id)
    return published
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
