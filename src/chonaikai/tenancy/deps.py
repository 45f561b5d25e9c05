"""The tenant dependency, nothing else: the association of ``/a/{slug}/…``."""

from __future__ import annotations

from litestar.params import FromPath

from chonaikai.tenancy import logic
from chonaikai.tenancy.scope import Tenant
from chonaikai.web import TenantNotFound


async def provide_tenant(slug: FromPath[str]) -> Tenant:
    """The current association, from ``/a/{slug}/…`` (custom hosts are rewritten to that form)."""
    tenant = await logic.tenant_cache.get(slug)
    if tenant is None:
        raise TenantNotFound()
    return tenant
