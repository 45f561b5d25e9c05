"""An association's homepage (/a/{slug}/): its introduction and its latest public notices."""

from __future__ import annotations

from litestar import Router, get
from litestar.di import NamedDependency
from litestar.response import Template

from chonaikai.notices.logic import public_notices
from chonaikai.notices.render import render_html
from chonaikai.tenancy.scope import Tenant


@get("/", name="association_home", opt={"shared_page": True})
async def association_home(tenant: NamedDependency[Tenant]) -> Template:
    return Template(
        "tenancy/home.html",
        context={
            "tenant": tenant,
            "association": tenant.row,
            "city": tenant.city,
            "notices": await public_notices(tenant),
            # Written by 会長・広報 on the homepage settings page: Markdown through the notices' sanitiser.
            "introduction_html": render_html(tenant.row.get("introduction") or ""),
        },
    )


association_router = Router(
    path="/",
    route_handlers=[association_home],
)
