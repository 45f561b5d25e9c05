"""An association with e-mail, LINE and paper households in two 班, one of them 要支援."""

from __future__ import annotations

from datetime import date

import pytest

from tests.factories import make_household


@pytest.fixture
async def households(tenant):
    a = await make_household(tenant, "見本 太郎", "1班", kana="ミホン タロウ", channel="email", email="taro@example.jp",
                             phone="024-000-0001", address="桜町1-1")
    b = await make_household(tenant, "仮野 花子", "1班", kana="カリノ ハナコ", channel="paper", phone="024-000-0002",
                             address="桜町1-2", needs_support=True, support_consent_on=date(2026, 4, 1))
    c = await make_household(tenant, "例田 一郎", "2班", kana="レイダ イチロウ", channel="paper", phone="024-000-0003",
                             address="桜町2-1")
    d = await make_household(tenant, "試作 春子", "2班", kana="シサク ハルコ", channel="email", email="haru@example.jp",
                             phone="024-000-0004", address="桜町2-2")
    return {"taro": a, "hanako": b, "ichiro": c, "haru": d}


from tests.line.conftest import fake_line, line_tenant  # noqa: E402, F401  (LINE tests' fixtures)
