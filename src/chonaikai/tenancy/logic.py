"""Looking up cities and associations for the public pages and for tenant resolution."""

from __future__ import annotations

import time
from typing import Any

from chonaikai.tenancy.scope import Tenant
from chonaikai.tenancy.tables import Association, City

PUBLIC_ASSOCIATION_COLUMNS = (
    Association.id,
    Association.slug,
    Association.name,
    Association.kana,
    Association.district,
)


async def find_tenant(slug: str) -> Tenant | None:
    row = await Association.select().where(Association.slug == slug).first().output(load_json=True)
    return Tenant.from_row(row) if row else None


async def list_cities() -> list[dict[str, Any]]:
    return await City.select(City.id, City.slug, City.name, City.kana, City.prefecture).order_by(City.kana)


async def find_city(slug: str) -> dict[str, Any] | None:
    return await City.select().where(City.slug == slug).first()


async def list_associations(city_id: int | None = None, query: str = "") -> list[dict[str, Any]]:
    """Associations in kana order, optionally of one city and matching ``query`` in name, kana or 地区."""
    select = Association.select(*PUBLIC_ASSOCIATION_COLUMNS, Association.city).order_by(Association.kana)
    if city_id is not None:
        select = select.where(Association.city == city_id)
    rows = await select
    needle = query.strip().casefold()
    if needle:
        # Filtered in Python: LIKE differs in case rules between SQLite and PostgreSQL, and the
        # directory of one service is a few hundred rows.
        rows = [
            row
            for row in rows
            if needle in f"{row['name']} {row['kana']} {row['district']}".casefold()
        ]
    return rows


class HostMap:
    """Host name → association slug, for custom domains and sub-domains of the tenant domain.

    Refreshed from the database at most every ``ttl`` seconds, so several web processes pick up
    `tenants sync` without a restart.
    """

    def __init__(self, tenant_domain: str = "", ttl: float = 30.0) -> None:
        self.tenant_domain = tenant_domain.lower().strip(".")
        self.ttl = ttl
        self._hosts: dict[str, str] = {}
        self._loaded_at = float("-inf")

    async def refresh(self) -> None:
        rows = await Association.select(Association.slug, Association.hosts).output(load_json=True)
        self._hosts = {host: row["slug"] for row in rows for host in (row["hosts"] or [])}
        self._loaded_at = time.monotonic()

    async def slug_for(self, host: str) -> str | None:
        host = host.split(":", 1)[0].lower().rstrip(".")
        if not host:
            return None
        if self.tenant_domain and host.endswith("." + self.tenant_domain):
            label = host[: -len(self.tenant_domain) - 1]
            if label and "." not in label and label != "www":
                return label
        if time.monotonic() - self._loaded_at > self.ttl:
            await self.refresh()
        return self._hosts.get(host)


async def find_city_by_id(city_id: int) -> dict[str, Any] | None:
    return await City.select().where(City.id == city_id).first()
