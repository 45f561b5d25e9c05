"""Shared set-up for roster tests: a small roster in two 班 and a second association."""

from __future__ import annotations

import pytest

from chonaikai.roster.tables import Han
from tests.factories import make_association, make_household


async def han_id(tenant, name: str) -> int:
    row = await tenant.select(Han, Han.id).where(Han.name == name).first()
    return row["id"]


@pytest.fixture
async def roster(tenant):
    """Three households: two in 1班, one in 2班."""
    a = await make_household(tenant, "見本 太郎", "1班", kana="ミホン タロウ", channel="email", email="taro@example.jp",
                             phone="024-000-0001", address="桜町1-1")
    b = await make_household(tenant, "仮野 花子", "1班", kana="カリノ ハナコ", channel="paper", address="桜町1-2")
    c = await make_household(tenant, "例田 一郎", "2班", kana="レイダ イチロウ", channel="line", address="桜町2-1")
    return {"taro": a, "hanako": b, "ichiro": c}


@pytest.fixture
async def other(city):
    other = await make_association(city, slug="kawa", name="川端自治会", han=["1班"])
    await make_household(other, "川端 秘密", "1班", kana="カワバタ ヒミツ", email="secret@example.jp", channel="email")
    return other
