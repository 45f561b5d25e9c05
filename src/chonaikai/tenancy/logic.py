"""Looking up cities and associations for the public pages and for tenant resolution."""

from __future__ import annotations

import time
from typing import Any

from chonaikai.kept import OneLoad
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


class TenantCache:
    """slug → Tenant (with its city) for a few seconds per web process.

    Every association page resolves its tenant; associations change only through
    `tenants sync` and the chair's settings, so a few seconds of staleness is harmless
    and saves two queries per page. Unknown slugs are never cached.
    """

    MAX_ENTRIES = 5000
    STALE_SECONDS = 10.0  # at most this long past its time while its new read is under way

    def __init__(self, ttl: float | None = None) -> None:
        self._ttl = ttl
        self._entries: dict[str, tuple[float, Tenant]] = {}
        self._loading = OneLoad()

    @property
    def ttl(self) -> float:
        if self._ttl is None:
            from chonaikai.settings import get_settings

            return get_settings().tenant_cache_seconds
        return self._ttl

    async def get(self, slug: str) -> Tenant | None:
        ttl = self.ttl
        now = time.monotonic()
        entry = self._entries.get(slug)
        if ttl > 0 and entry is not None and now - entry[0] < ttl:
            return entry[1]
        if ttl <= 0:
            return await self._read(slug, now, keep=False)
        # Its time is up: one request reads it again, and while that read is under way the
        # others go on with the entry they had (a read's time more; a change made anywhere
        # forgets the entry itself: page_changes.py). With no entry, or one STALE_SECONDS past
        # its time (the database not answering), they wait for that read.
        if entry is not None and self._loading.reading(slug) and now - entry[0] < ttl + self.STALE_SECONDS:
            return entry[1]
        return await self._loading.load(slug, lambda: self._read(slug, now, keep=True))

    async def _read(self, slug: str, now: float, keep: bool) -> Tenant | None:
        tenant = await find_tenant(slug)
        if tenant is not None:
            tenant = Tenant.from_row(tenant.row, city=await find_city_by_id(tenant.city_id))
            if keep and self._loading.is_current(slug):  # not forgotten while it was read
                if len(self._entries) >= self.MAX_ENTRIES:
                    self._entries.clear()
                self._entries[slug] = (now, tenant)
        return tenant

    def clear(self) -> None:
        self._entries.clear()
        self._loading.forget_all()

    def forget(self, slug: str) -> None:
        self._entries.pop(slug, None)
        self._loading.forget(slug)


tenant_cache = TenantCache()


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
        self._loading = OneLoad()

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
            # One request reads the hosts again; meanwhile the others use the map there is.
            loaded = self._loaded_at > float("-inf")
            if not (loaded and self._loading.reading("hosts")):
                await self._loading.load("hosts", self.refresh)
        return self._hosts.get(host)


async def find_city_by_id(city_id: int) -> dict[str, Any] | None:
    return await City.select().where(City.id == city_id).first()
