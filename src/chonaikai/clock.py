"""One clock for every screen, e-mail, sheet and export: times are stored in UTC and shown in
local time (``CHONAIKAI_TIME_ZONE``, default Asia/Tokyo; a city's tenant file may name its own).

The API keeps ISO 8601 with an offset (:func:`iso`); people read 「2026年12月4日（金）14:05」
(:func:`local_datetime`). Templates use the filters registered by :func:`register_filters`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_TIME_ZONE = "Asia/Tokyo"
WEEKDAYS = "月火水木金土日"


@lru_cache(maxsize=64)
def zone(name: str | None = None) -> ZoneInfo:
    """The zone called ``name``; the configured one when ``name`` is empty or unknown."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    from chonaikai.settings import get_settings

    return ZoneInfo(getattr(get_settings(), "time_zone", DEFAULT_TIME_ZONE) or DEFAULT_TIME_ZONE)


def zone_of(place: Any = None) -> ZoneInfo:
    """The zone of a city row, a Tenant (its city), or the default."""
    city = getattr(place, "city", None) if not isinstance(place, Mapping) else place
    if isinstance(city, Mapping):
        return zone(city.get("time_zone") or None)
    return zone()


def to_local(moment: datetime, tz: ZoneInfo | None = None) -> datetime:
    if moment.tzinfo is None:  # stored UTC without an offset (SQLite text) stays UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(tz or zone())


def local_date(moment: datetime | date | None, tz: ZoneInfo | None = None) -> str:
    """「2026年12月4日（金）」 (empty for None)."""
    if moment is None or moment == "":
        return ""
    day = to_local(moment, tz).date() if isinstance(moment, datetime) else moment
    return f"{day.year}年{day.month}月{day.day}日（{WEEKDAYS[day.weekday()]}）"


def local_datetime(moment: datetime | None, tz: ZoneInfo | None = None) -> str:
    """「2026年12月4日（金）14:05」 in local time (empty for None)."""
    if moment is None or moment == "":
        return ""
    if not isinstance(moment, datetime):
        return local_date(moment, tz)
    local = to_local(moment, tz)
    return f"{local_date(local.date())}{local:%H:%M}"


def local_short(moment: datetime | None, tz: ZoneInfo | None = None) -> str:
    """「12月4日 14:05」: for narrow columns where the year is obvious (empty for None)."""
    if moment is None or moment == "":
        return ""
    local = to_local(moment, tz)
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def iso(moment: datetime | None, tz: ZoneInfo | None = None) -> str | None:
    """ISO 8601 with the local offset, for the API (None stays None)."""
    if moment is None:
        return None
    return to_local(moment, tz).isoformat()


def register_filters(env: Any) -> None:
    """``{{ x | local_datetime }}``, ``| local_date``, ``| local_short``: in the zone of the page's
    association (its city), else the configured zone."""
    from jinja2 import pass_context

    def zone_from(context: Any) -> ZoneInfo:
        for key in ("tenant", "city"):
            place = context.get(key)
            if place:
                return zone_of(place)
        return zone()

    for name, function in (("local_datetime", local_datetime), ("local_date", local_date), ("local_short", local_short)):
        def make(function=function):  # type: ignore[no-untyped-def]
            @pass_context
            def fmt(context: Any, moment: Any) -> str:
                return function(moment, zone_from(context))

            return fmt

        env.filters[name] = make()
