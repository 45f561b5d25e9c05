"""Small helpers that create rows for tests through the same code the app uses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chonaikai.roster.tables import Han, Household
from chonaikai.tenancy.logic import find_tenant
from chonaikai.tenancy.scope import Tenant
from chonaikai.tenancy.tables import Association, City


async def make_city(slug: str = "testcity", name: str = "試験市", code: str = "079995") -> dict[str, Any]:
    row = City(slug=slug, name=name, kana="しけんし", municipality_code=code, updated_at=datetime.now(UTC))
    await row.save()
    return row.to_dict()


async def make_association(
    city: dict[str, Any],
    slug: str,
    name: str | None = None,
    han: list[str] | None = None,
    **values: Any,
) -> Tenant:
    row = Association(
        slug=slug,
        name=name or f"{slug}町内会",
        kana=values.pop("kana", slug),
        city=city["id"],
        updated_at=datetime.now(UTC),
        **values,
    )
    await row.save()
    tenant = await find_tenant(slug)
    assert tenant is not None
    if han:
        await Han.insert(*[tenant.new(Han, name=name, position=i) for i, name in enumerate(han)])
    return tenant


async def make_household(tenant: Tenant, name: str, han: str | None = None, **values: Any) -> dict[str, Any]:
    han_id = None
    if han is not None:
        han_row = await tenant.select(Han, Han.id).where(Han.name == han).first()
        han_id = han_row["id"]
    now = datetime.now(UTC)
    row = tenant.new(Household, name=name, han=han_id, created_at=now, updated_at=now, **values)
    await row.save()
    return row.to_dict()
