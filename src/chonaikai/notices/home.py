"""An association's homepage (/a/{slug}/): its introduction and its latest public notices."""

from __future__ import annotations

from litestar import Router, get
from litestar.di import NamedDependency
from litestar.response import Template

from chonaikai.notices.logic import public_notices
from chonaikai.tenancy.scope import Tenant


@get("/", name="association_home", opt={"shared_page": True})
async def association_home(tenant: NamedDependency[Tenant]) -> Template:
    return Template(
        "tenancy/home.html",
        context={"tenant": tenant, "association": tenant.row, "city": tenant.city, "notices": await public_notices(tenant)},
    )


association_router = Router(
    path="/",
    route_handlers=[association_home],
)
