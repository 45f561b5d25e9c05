"""Rows for circular tests: a city with associations in two 地区, some forwarding automatically."""

from __future__ import annotations

from chonaikai.circulars import logic
from chonaikai.circulars.logic import CircularInput
from tests.factories import make_association, make_household


async def make_city_associations(city):
    """east-auto (東部, auto), east-review (東部, review), west-review (西部, review), each with households."""
    east_auto = await make_association(city, "east-auto", "東一町内会", han=["1班", "2班"], district="東部地区",
                                       auto_forward_circulars=True)
    east_review = await make_association(city, "east-review", "東二町内会", han=["1班", "2班"], district="東部地区")
    west_review = await make_association(city, "west-review", "西一自治会", han=["1班"], district="西部地区")
    for tenant, count in ((east_auto, 3), (east_review, 2), (west_review, 2)):
        for i in range(count):
            await make_household(tenant, f"{tenant.slug}世帯{i}", han="1班", channel="paper")
    return east_auto, east_review, west_review


async def send(city, **values) -> int:
    data = CircularInput(title=values.pop("title", "防災訓練のお知らせ"), summary=values.pop("summary", "10月1日に防災訓練を行います。"),
                         **values)
    return await logic.create_circular(city["id"], data)
