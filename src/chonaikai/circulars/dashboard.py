"""The city's view of its circulars: the list, the dashboard (how far each was passed on and
read, aggregated in SQL), the chart and the CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chonaikai.circulars.tables import (
    Circular,
    CircularEntry,
)
from chonaikai.db import is_postgres

# ---------------------------------------------------------------------------------------------
# The city's view: list, dashboard, reminders, CSV


async def find_circular(city_id: int, circular_id: int) -> dict[str, Any] | None:
    return await Circular.select().where((Circular.id == circular_id) & (Circular.city == city_id)).first().output(
        load_json=True
    )


async def list_circulars(city_id: int) -> list[dict[str, Any]]:
    circulars = await Circular.select(
        Circular.id, Circular.title, Circular.category, Circular.status, Circular.publish_at, Circular.sent_at,
        Circular.created_at,
    ).where(Circular.city == city_id).order_by(Circular.created_at, ascending=False)
    if not circulars:
        return circulars
    counts = await CircularEntry.raw(
        "SELECT e.circular, e.state, COUNT(*) AS n FROM circular_entry e JOIN circular c ON c.id = e.circular "
        "WHERE c.city = {} GROUP BY e.circular, e.state",
        city_id,
    )
    by_circular: dict[int, dict[str, int]] = {}
    for row in counts:
        by_circular.setdefault(row["circular"], {})[row["state"]] = row["n"]
    for circular in circulars:
        states = by_circular.get(circular["id"], {})
        circular["targeted"] = sum(states.values())
        circular["forwarded"] = states.get("forwarded", 0)
        circular["declined"] = states.get("declined", 0)
    return circulars


_ENTRIES_SQL = """
SELECT e.id AS entry_id, e.notice, a.slug, a.name, a.district, e.state, e.opened_at, e.forwarded_at,
       e.declined_at, e.decline_reason, e.last_reminded_at
FROM circular_entry e
JOIN association a ON a.id = e.association
WHERE e.circular = {}
ORDER BY a.district, a.kana, a.id
"""

# The deliveries of a circular's notices, read once. The covering index
# delivery (notice, status, sent_at, confirmed_at) lets PostgreSQL answer from the index alone.
_NOTICES_OF = "d.notice IN (SELECT notice FROM circular_entry WHERE circular = {} AND notice IS NOT NULL)"
_REACHED = "CASE WHEN d.status IN ('sent', 'printed') THEN 1 ELSE 0 END"
_CONFIRMED = "CASE WHEN d.confirmed_at IS NOT NULL THEN 1 ELSE 0 END"


def _rate(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0


@dataclass
class DeliveryStats:
    per_notice: dict[int, tuple[int, int, int]]  # notice -> (households, reached, confirmed)
    sent_hours: dict[datetime, int]
    confirmed_hours: dict[datetime, int]


async def delivery_stats(circular_id: int) -> DeliveryStats:
    stats = DeliveryStats({}, {}, {})
    if is_postgres():
        # One pass over the deliveries for the table and both lines of the chart.
        sent_hour, confirmed_hour = "date_trunc('hour', d.sent_at)", "date_trunc('hour', d.confirmed_at)"
        rows = await CircularEntry.raw(
            f"SELECT GROUPING(d.notice, {sent_hour}, {confirmed_hour}) AS g, d.notice, "
            f"{sent_hour} AS sent_hour, {confirmed_hour} AS confirmed_hour, COUNT(*) AS total, "
            f"SUM({_REACHED}) AS reached, SUM({_CONFIRMED}) AS confirmed "
            f"FROM delivery d WHERE {_NOTICES_OF} "
            f"GROUP BY GROUPING SETS ((d.notice), ({sent_hour}), ({confirmed_hour}))",
            circular_id,
        )
        for row in rows:
            if row["g"] == 0b011:
                stats.per_notice[row["notice"]] = (int(row["total"]), int(row["reached"]), int(row["confirmed"]))
            elif row["g"] == 0b101 and row["sent_hour"] is not None:
                stats.sent_hours[_bucket_time(row["sent_hour"])] = int(row["total"])
            elif row["g"] == 0b110 and row["confirmed_hour"] is not None:
                stats.confirmed_hours[_bucket_time(row["confirmed_hour"])] = int(row["total"])
        return stats
    rows = await CircularEntry.raw(
        f"SELECT d.notice, COUNT(*) AS total, SUM({_REACHED}) AS reached, SUM({_CONFIRMED}) AS confirmed "
        f"FROM delivery d WHERE {_NOTICES_OF} GROUP BY d.notice",
        circular_id,
    )
    stats.per_notice = {row["notice"]: (int(row["total"]), int(row["reached"]), int(row["confirmed"])) for row in rows}
    for target, column in ((stats.sent_hours, "d.sent_at"), (stats.confirmed_hours, "d.confirmed_at")):
        # Timestamps are ISO text on SQLite: the first 13 characters are the hour.
        rows = await CircularEntry.raw(
            f"SELECT substr({column}, 1, 13) AS bucket, COUNT(*) AS n FROM delivery d "
            f"WHERE {_NOTICES_OF} AND {column} IS NOT NULL GROUP BY 1",
            circular_id,
        )
        target.update({_bucket_time(row["bucket"]): int(row["n"]) for row in rows})
    return stats


async def dashboard(circular_id: int) -> dict[str, Any]:
    """Per-association rows, totals and the chart's points; counts only, never a household's data."""
    rows = await CircularEntry.raw(_ENTRIES_SQL, circular_id)
    stats = await delivery_stats(circular_id)
    totals = {"targeted": len(rows), "pending": 0, "opened": 0, "forwarded": 0, "declined": 0,
              "households": 0, "reached": 0, "confirmed": 0}
    for row in rows:
        row["households"], row["reached"], row["confirmed"] = stats.per_notice.get(row.pop("notice"), (0, 0, 0))
        for key in ("opened_at", "forwarded_at", "declined_at", "last_reminded_at"):
            row[key] = _as_datetime(row[key])
        row["confirmation_rate"] = _rate(row["confirmed"], row["households"])
        row["reach_rate"] = _rate(row["reached"], row["households"])
        totals[row["state"]] = totals.get(row["state"], 0) + 1
        for key in ("households", "reached", "confirmed"):
            totals[key] += row[key]
    totals["ever_opened"] = sum(1 for row in rows if row["opened_at"] is not None or row["state"] == "forwarded")
    totals["confirmation_rate"] = _rate(totals["confirmed"], totals["households"])
    totals["reach_rate"] = _rate(totals["reached"], totals["households"])
    return {"rows": rows, "totals": totals, "timeline": _cumulative(stats)}


def _as_datetime(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _cumulative(stats: DeliveryStats) -> list[dict[str, Any]]:
    """Households reached and confirmed per hour, added up — the chart over time."""
    hours = sorted(set(stats.sent_hours) | set(stats.confirmed_hours))
    points, reached, confirmed = [], 0, 0
    for hour in hours:
        reached += stats.sent_hours.get(hour, 0)
        confirmed += stats.confirmed_hours.get(hour, 0)
        points.append({"time": hour, "reached": reached, "confirmed": confirmed})
    return points


def _bucket_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(f"{value}:00:00").replace(tzinfo=UTC)


def chart_svg(points: list[dict[str, Any]], width: int = 560, height: int = 260) -> dict[str, Any]:
    """Coordinates for an inline SVG line chart drawn by the template (no JavaScript)."""
    if not points:
        return {"empty": True}
    pad_left, pad_bottom, pad_top, pad_right = 64, 40, 16, 16
    plot_w, plot_h = width - pad_left - pad_right, height - pad_top - pad_bottom
    start, end = points[0]["time"], points[-1]["time"]
    span = max((end - start).total_seconds(), 3600.0)
    top = max(max(max(p["reached"], p["confirmed"]) for p in points), 1)

    def xy(point: dict[str, Any], key: str) -> str:
        x = pad_left + plot_w * (point["time"] - start).total_seconds() / span
        y = pad_top + plot_h * (1 - point[key] / top)
        return f"{x:.1f},{y:.1f}"

    def steps(key: str) -> str:
        # A single point still draws as a short flat line.
        coords = [xy(p, key) for p in points]
        if len(coords) == 1:
            x, y = coords[0].split(",")
            coords.append(f"{pad_left + plot_w:.1f},{y}")
        return " ".join(coords)

    return {
        "empty": False,
        "width": width,
        "height": height,
        "left": pad_left,
        "right": width - pad_right,
        "top": pad_top,
        "bottom": height - pad_bottom,
        "max": top,
        "reached": steps("reached"),
        "confirmed": steps("confirmed"),
        "start": start,
        "end": end,
    }


STATE_LABELS = {"pending": "未開封", "opened": "開封済み", "forwarded": "転送済み", "declined": "回覧しない"}
CSV_HEADER = [
    "町内会 (association)",
    "slug",
    "地区 (district)",
    "状態 (state)",
    "開封 (opened_at)",
    "転送 (forwarded_at)",
    "回覧しない (declined_at)",
    "理由 (decline_reason)",
    "世帯数 (households)",
    "届いた世帯 (reached)",
    "確認した世帯 (confirmed)",
    "確認率% (confirmation_rate)",
]


def _iso(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds") if value else ""


def dashboard_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for row in rows:
        writer.writerow(
            [
                _csv_safe(row["name"]),
                row["slug"],
                _csv_safe(row["district"]),
                STATE_LABELS.get(row["state"], row["state"]),
                _iso(row["opened_at"]),
                _iso(row["forwarded_at"]),
                _iso(row["declined_at"]),
                _csv_safe(row["decline_reason"] or ""),
                row["households"],
                row["reached"],
                row["confirmed"],
                row["confirmation_rate"],
            ]
        )
    # A BOM so Excel on Japanese Windows opens it as UTF-8.
    return "\ufeff" + out.getvalue()


def _csv_safe(text: str) -> str:
    """Text typed by people must not run as a spreadsheet formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


async def circular_status(circular: dict[str, Any]) -> dict[str, Any]:
    """For the JSON API: per-association state and the counts."""
    board = await dashboard(circular["id"])
    return {
        "id": circular["id"],
        "title": circular["title"],
        "status": circular["status"],
        "sent_at": _iso(_as_datetime(circular["sent_at"])) or None,
        "counts": board["totals"],
        "associations": [
            {
                "slug": row["slug"],
                "name": row["name"],
                "district": row["district"],
                "state": row["state"],
                "opened_at": _iso(row["opened_at"]) or None,
                "forwarded_at": _iso(row["forwarded_at"]) or None,
                "declined_at": _iso(row["declined_at"]) or None,
                "decline_reason": row["decline_reason"] or None,
                "households": row["households"],
                "reached": row["reached"],
                "confirmed": row["confirmed"],
                "confirmation_rate": row["confirmation_rate"],
            }
            for row in board["rows"]
        ],
    }
