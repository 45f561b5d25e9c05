"""Public pages: the directory of cities and associations, a city's list (an association's
homepage is ``notices/home.py``: it shows the association's public notices)."""

from __future__ import annotations

from litestar import Router, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, Parameter
from litestar.response import Template

from chonaikai.tenancy import logic
from chonaikai.tenancy.deps import provide_tenant  # noqa: F401  (imported from here by other branches)


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


public_router = Router(path="/", route_handlers=[directory, city_page])
