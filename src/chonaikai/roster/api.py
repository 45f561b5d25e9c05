"""JSON API for officers' tools: ``GET /api/v1/associations/{slug}/households``.

Authenticated only by bearer token (never by the session cookie: /api/ has no CSRF check), and
authorized by the same matrix as the pages.
"""

from __future__ import annotations

from litestar import Router, get
from litestar.di import NamedDependency

from chonaikai.accounts.permissions import require
from chonaikai.accounts.principal import Access, Principal
from chonaikai.accounts.roles import Permission
from chonaikai.roster import logic
from chonaikai.tenancy.scope import Tenant


@get("/households", name="api_households", dependencies={"access": require(Permission.ROSTER_VIEW)})
async def api_households(
    tenant: NamedDependency[Tenant], principal: NamedDependency[Principal], access: NamedDependency[Access]
) -> dict:
    rows = await logic.list_households(tenant, access)
    await logic.audit(tenant, principal, "roster.view", f"API {principal.display_name}: {len(rows)} 世帯")
    return {
        "association": tenant.slug,
        "households": [
            {"id": row["id"], "name": row["name"], "han": row["han_name"] or None, "channel": row["channel"]}
            for row in rows
        ],
    }


router = Router(
    path="/",
    route_handlers=[api_households],
)
