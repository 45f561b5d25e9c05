"""How a household is really reached: its *effective* channel. One rule, used everywhere.

A household chooses e-mail, LINE or paper in the roster. It is reached that way only when the
way works: e-mail needs an address, LINE needs a linked LINE user (an active ``LineLink``).
Otherwise it gets paper — nobody is silently skipped, and nobody is shown as "LINE" while the
回覧板 is what really reaches them.

The rule exists once, in two forms that must agree (tests/roster/test_effective_channel.py
checks they do):
- ``effective_channel(chosen, email, line_linked)``: in Python, for pages and the API;
- ``effective_channel_sql("h")``: the same as a SQL ``CASE`` over a household row, for the
  delivery core choosing each delivery's channel (``EMAIL_REACHABLE_SQL`` and
  ``LINE_REACHABLE_SQL`` are its parts, one per channel).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from chonaikai.db import in_ids
from chonaikai.roster.tables import Household
from chonaikai.tenancy.scope import Tenant

FALLBACK = "paper"

# SQL conditions over a household row aliased ``h`` (valid on SQLite and PostgreSQL).
EMAIL_REACHABLE_SQL = "h.email LIKE '%_@_%'"
LINE_REACHABLE_SQL = "EXISTS (SELECT 1 FROM line_link ll WHERE ll.household = h.id AND ll.active = true)"
REACHABLE_SQL = {"email": EMAIL_REACHABLE_SQL, "line": LINE_REACHABLE_SQL}

_ADDRESS = re.compile(r".@.", re.S)  # what LIKE '%_@_%' means

LABELS = {"email": "メール", "line": "LINE", "paper": "紙"}
# Shown when the chosen way does not work yet, e.g. 「LINE（まだつながっていません）→ 紙で届きます」.
NOT_WORKING = {"email": "メール（アドレスがありません）", "line": "LINE（まだつながっていません）"}


def has_address(email: str | None) -> bool:
    return bool(email) and _ADDRESS.search(email) is not None


def effective_channel(chosen: str, email: str | None, line_linked: bool) -> str:
    """The channel a household is reached by: its own if it works, else paper."""
    if chosen == "email" and has_address(email):
        return "email"
    if chosen == "line" and line_linked:
        return "line"
    return FALLBACK


def effective_channel_sql(alias: str = "h") -> str:
    """``effective_channel`` as a SQL expression over the household row ``alias``."""
    def cond(sql: str) -> str:
        return sql.replace("h.", f"{alias}.")

    return (
        f"CASE WHEN {alias}.channel = 'email' AND {cond(EMAIL_REACHABLE_SQL)} THEN 'email' "
        f"WHEN {alias}.channel = 'line' AND ({cond(LINE_REACHABLE_SQL)}) THEN 'line' "
        f"ELSE '{FALLBACK}' END"
    )


def channel_text(chosen: str, effective: str) -> str:
    """What a page shows for the household's channel: 「LINE」, or 「LINE（まだつながっていません）→ 紙で届きます」."""
    if chosen == effective or chosen not in NOT_WORKING:
        return LABELS.get(effective, effective)
    return f"{NOT_WORKING[chosen]}→ {LABELS[effective]}で届きます"


async def line_linked_households(tenant: Tenant, household_ids: Iterable[int] | None = None) -> set[int]:
    """The households (of ``household_ids``, or all of the association) with a linked LINE user."""
    # The line_link table is named in SQL only (as in LINE_REACHABLE_SQL): the roster sits below
    # the LINE package and does not import it.
    sql = "SELECT DISTINCT household FROM line_link WHERE association = {} AND active = true"
    args: list[Any] = [tenant.id]
    if household_ids is not None:
        ids = sorted(set(household_ids))
        if not ids:
            return set()
        ids_sql, value = in_ids(ids)
        sql += f" AND household {ids_sql}"
        args.append(value)
    rows = await Household.raw(sql, *args).run()
    return {row["household"] for row in rows}


def annotate_with(households: list[dict[str, Any]], linked: set[int]) -> list[dict[str, Any]]:
    """Add ``line_linked``, ``effective_channel`` and ``channel_text`` to household rows (each
    with ``id``, ``channel`` and ``email``), given the ids of the households with a linked LINE user."""
    for household in households:
        household["line_linked"] = household["id"] in linked
        household["effective_channel"] = effective_channel(household["channel"], household.get("email"),
                                                           household["line_linked"])
        household["channel_text"] = channel_text(household["channel"], household["effective_channel"])
    return households


async def annotate(tenant: Tenant, households: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``annotate_with`` after looking up which of these households have LINE linked."""
    return annotate_with(households, await line_linked_households(tenant, [h["id"] for h in households]))


def rule(linked: set[int]) -> Callable[[dict[str, Any]], str]:
    """``effective_channel`` for a household row, given the linked households (for counting)."""
    return lambda row: effective_channel(row["channel"], row.get("email"), row["id"] in linked)


def paper_instead(households: Iterable[dict[str, Any]], chosen: str | None = None) -> list[dict[str, Any]]:
    """The annotated households that chose another way (``chosen``, or any) but get paper."""
    return [
        h for h in households
        if h["effective_channel"] != h["channel"] and (chosen is None or h["channel"] == chosen)
    ]


@dataclass(frozen=True)
class ReachSummary:
    """How the households of an audience will really be reached (before publishing)."""

    total: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)  # effective channel → households
    paper_instead: dict[str, int] = field(default_factory=dict)  # chosen channel → households on paper

    def count(self, channel: str) -> int:
        return self.by_channel.get(channel, 0)


async def audience_summary(tenant: Tenant, audience: str, han_ids: Iterable[int] = ()) -> ReachSummary:
    """Counts per effective channel for a notice's audience: ``all`` (every household still
    living there), ``han`` (those of ``han_ids``) or ``officers`` (no household)."""
    if audience not in ("all", "han"):
        return ReachSummary()
    sql = (
        f"SELECT h.channel AS chosen, {effective_channel_sql('h')} AS reached, count(*) AS n "
        "FROM household h WHERE h.association = {} AND h.moved_out = {}"
    )
    args: list[Any] = [tenant.id, False]
    if audience == "han":
        ids = sorted({int(i) for i in han_ids})
        if not ids:
            return ReachSummary()
        ids_sql, value = in_ids(ids)
        sql += f" AND h.han {ids_sql}"
        args.append(value)
    rows = await Household.raw(sql + " GROUP BY h.channel, reached", *args).run()
    by_channel: dict[str, int] = {}
    paper: dict[str, int] = {}
    for row in rows:
        by_channel[row["reached"]] = by_channel.get(row["reached"], 0) + int(row["n"])
        if row["reached"] != row["chosen"]:
            paper[row["chosen"]] = paper.get(row["chosen"], 0) + int(row["n"])
    return ReachSummary(total=sum(by_channel.values()), by_channel=by_channel, paper_instead=paper)
