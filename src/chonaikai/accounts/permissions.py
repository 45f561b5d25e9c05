"""Permissions declared per route: ``require(Permission.X)`` instead of an ``authorize()`` call
inside the handler.

    @get("/notices/{notice_id:int}/receipts", dependencies={"access": require(Permission.RECEIPTS_VIEW)})
    async def receipts_page(tenant: NamedDependency[Tenant], access: NamedDependency[Access], ...):

The route states what it needs where it is declared; the handler receives the caller's
``Access`` (the 班 a 班長 may see, or the whole association) and never runs for a stranger
(401) or someone without the role (403). The tenant comes from the ``/a/{slug}`` router's
``tenant`` dependency, the principal from the app's.
"""

from __future__ import annotations

from litestar.di import NamedDependency, Provide

from chonaikai.accounts.principal import Access, Principal, authorize
from chonaikai.accounts.roles import Permission
from chonaikai.tenancy.scope import Tenant


def require(permission: Permission) -> Provide:
    """The ``access`` dependency of a route that needs ``permission`` in the current association."""

    async def provide_access(tenant: NamedDependency[Tenant], principal: NamedDependency[Principal]) -> Access:
        return authorize(principal, tenant, permission)

    provide_access.__name__ = f"require_{permission.name.lower()}"
    return Provide(provide_access)
