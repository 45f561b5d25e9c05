"""The demo data `make run` loads: fictional, complete enough to try every screen, idempotent."""

from chonaikai.delivery.tables import Delivery
from chonaikai.devtools.demo import load_demo_notices, load_demo_officers, load_demo_roster
from chonaikai.notices.tables import Notice
from chonaikai.roster.tables import Han, Household, Member
from chonaikai.settings import PROJECT_ROOT
from chonaikai.tenancy.logic import find_tenant
from chonaikai.tenancy.tenant_files import read_tenant_dir, sync_tenants

TENANTS = PROJECT_ROOT / "tenants"


async def load_all():
    await sync_tenants(TENANTS)
    await load_demo_roster(TENANTS)
    await load_demo_officers(TENANTS)
    return await load_demo_notices(TENANTS)


async def test_demo_associations_have_han_households_members_and_notices():
    published = await load_all()
    cities, associations = read_tenant_dir(TENANTS)
    demo = [spec for spec in associations if spec.demo]
    assert len(cities) >= 1 and len(demo) >= 3
    for spec in demo:
        tenant = await find_tenant(spec.slug)
        assert await tenant.count(Han) >= 3
        households = await tenant.count(Household)
        assert 20 <= households <= 40
        assert await tenant.count(Member) >= households
        assert await tenant.count(Notice).where(Notice.status == "published") >= 3
        assert await tenant.count(Notice).where(Notice.visibility == "public") >= 1
    assert await Delivery.count() > 0  # published demo notices went to the outbox
    assert len(published) >= 3 * len(demo)


async def test_loading_the_demo_twice_changes_nothing():
    await load_all()
    counts = (await Household.count(), await Notice.count(), await Delivery.count())
    assert await load_all() == []
    assert (await Household.count(), await Notice.count(), await Delivery.count()) == counts


async def test_demo_names_are_obviously_fictional():
    await load_all()
    names = [row["name"] for row in await Household.select(Household.name)]
    fictional = ("見本", "仮野", "例田", "試山", "架空", "模擬", "標本", "雛形", "手本", "試作", "仮谷", "例村")
    assert names and all(name.startswith(fictional) for name in names)


async def test_demo_notices_have_every_blank_filled():
    await load_all()
    for row in await Notice.select(Notice.title, Notice.body):
        assert "【" not in row["title"] + row["body"], row["title"]


async def test_demo_notices_ask_their_questions():
    from chonaikai.notices.questions import load_question

    await load_all()
    kinds = {row["title"]: load_question(row["question"]).kind for row in await Notice.select(Notice.title, Notice.question)}
    assert "vote" in kinds.values() and "attendance" in kinds.values()
    soukai = next(title for title, kind in kinds.items() if kind == "vote")
    row = await Notice.select(Notice.body).where(Notice.title == soukai).first()
    assert "「読みました」のボタンで" not in row["body"]
