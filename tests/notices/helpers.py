"""Rows and sign-ins for notice tests, made through the same logic the pages use."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chonaikai.accounts.roles import Role
from chonaikai.notices import logic
from chonaikai.roster.tables import Han
from chonaikai.tenancy.scope import Tenant
from tests.auth import sign_in_as
from tests.factories import make_household


async def han_id(tenant: Tenant, name: str) -> int:
    row = await tenant.select(Han, Han.id).where(Han.name == name).first()
    return row["id"]


async def post_notice(
    tenant: Tenant,
    title: str = "一斉清掃のお知らせ",
    *,
    publish: bool = True,
    han: list[str] | None = None,
    now: datetime | None = None,
    **values: Any,
) -> int:
    """A notice through create_notice (+ publish_notice unless publish=False)."""
    values.setdefault("body", "日曜日の朝8時から、公園の清掃をします。\nご協力をお願いします。")
    values.setdefault("category", "行事")
    if han:
        values["audience"] = "han"
        values["han_ids"] = [await han_id(tenant, name) for name in han]
    notice_id = await logic.create_notice(tenant, logic.NoticeInput(title=title, **values), author_title="会長", now=now)
    if publish:
        assert await logic.publish_notice(tenant, notice_id, now=now)
    return notice_id


async def sign_in_member(client, tenant: Tenant, han: str = "1班", email: str = "member@example.jp", **household) -> int:
    """Sign in as the member of a new household in ``han``; returns the household id."""
    row = await make_household(tenant, f"{email}の世帯", han=han, **household)
    await sign_in_as(client, email, Role.MEMBER, tenant, household_id=row["id"])
    return row["id"]


async def sign_in_officer(client, tenant: Tenant, role: Role = Role.CHAIR, email: str = "chair@example.jp", **kw) -> int:
    return await sign_in_as(client, email, role, tenant, **kw)
