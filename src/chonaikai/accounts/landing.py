"""Where a sign-in lands when nobody asked for a page: the person's association, or a chooser.

``/signin`` sends people here after the link is used (the form's default ``next``): a member goes to
their household page, an officer of one association to that association's page, city staff to the
city's circulars, and someone with several places picks one.
"""

from __future__ import annotations

from dataclasses import dataclass

from litestar import get
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from chonaikai.accounts.principal import Principal
from chonaikai.accounts.roles import ROLE_LABELS, Role
from chonaikai.tenancy.tables import Association, City

LANDING_PATH = "/signin/where"


@dataclass(frozen=True)
class Place:
    label: str
    roles: str
    path: str


async def places(principal: Principal) -> list[Place]:
    """Every association and city this person has a role in, with the page to open there."""
    association_ids = sorted({g.association_id for g in principal.grants if g.association_id is not None})
    city_ids = sorted({g.city_id for g in principal.grants if g.city_id is not None and g.role == Role.CITY_STAFF})
    found: list[Place] = []
    if association_ids:
        rows = await Association.select(Association.id, Association.slug, Association.name).where(
            Association.id.is_in(association_ids)
        ).order_by(Association.kana)
        for row in rows:
            roles = principal.roles_in(row["id"])
            household = principal.household_in(row["id"])
            only_member = roles == frozenset({Role.MEMBER})
            path = f"/a/{row['slug']}/my" if only_member and household else f"/a/{row['slug']}/"
            found.append(Place(row["name"], "・".join(ROLE_LABELS[r] for r in sorted(roles)), path))
    if city_ids:
        for row in await City.select(City.id, City.slug, City.name).where(City.id.is_in(city_ids)):
            found.append(Place(row["name"], ROLE_LABELS[Role.CITY_STAFF], f"/c/{row['slug']}/circulars"))
    return found


@get(LANDING_PATH, name="signin_where", include_in_schema=False)
async def where(principal: NamedDependency[Principal]) -> Redirect | Template:
    if not principal.is_authenticated:
        return Redirect(path="/signin", status_code=303)
    found = await places(principal)
    if len(found) == 1:
        return Redirect(path=found[0].path, status_code=303)
    if not found:
        return Redirect(path="/", status_code=303)
    return Template("accounts/where.html", context={"places": found})
