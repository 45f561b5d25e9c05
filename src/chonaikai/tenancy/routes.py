"""Public pages: the directory of cities and associations, a city's list, an association homepage."""

from __future__ import annotations

from litestar import Router, get
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, Parameter
from litestar.response import Template

from chonaikai.notices.logic import public_notices
from chonaikai.notices.render import render_html
from chonaikai.tenancy import logic
from chonaikai.tenancy.scope import Tenant
from chonaikai.web import TenantNotFound


async def provide_tenant(slug: FromPath[str]) -> Tenant:
    """The current association, from ``/a/{slug}/…`` (custom hosts are rewritten to that form)."""
    tenant = await logic.tenant_cache.get(slug)
    if tenant is None:
        raise TenantNotFound()
    return tenant


@get("/", name="directory", opt={"shared_page": True})
async def directory(q: str = Parameter(default="", max_length=100)) -> Template:
    cities = await logic.list_cities()
    associations = await logic.list_associations(query=q)
    by_city: dict[int, list[dict]] = {}
    for association in associations:
        by_city.setdefault(association["city"], []).append(association)
    return Template(
        "tenancy/directory.html",
        context={"cities": cities, "by_city": by_city, "q": q, "match_count": len(associations)},
    )


@get("/c/{city_slug:str}/", name="city", opt={"shared_page": True})
async def city_page(city_slug: FromPath[str]) -> Template:
    city = await logic.find_city(city_slug)
    if city is None:
        raise NotFoundException()
    associations = await logic.list_associations(city_id=city["id"])
    districts: dict[str, list[dict]] = {}
    for association in associations:
        districts.setdefault(association["district"] or "その他", []).append(association)
    return Template("tenancy/city.html", context={"city": city, "districts": districts})


@get("/", name="association_home", opt={"shared_page": True})
async def association_home(tenant: NamedDependency[Tenant]) -> Template:
    return Template(
        "tenancy/home.html",
        context={
            "tenant": tenant,
            "association": tenant.row,
            "city": tenant.city,
            "notices": await public_notices(tenant),
            "introduction_html": render_html(tenant.row.get("introduction") or ""),
        },
    )


public_router = Router(path="/", route_handlers=[directory, city_page])
association_router = Router(
    path="/a/{slug:str}",
    route_handlers=[association_home],
    dependencies={"tenant": Provide(provide_tenant)},
)
