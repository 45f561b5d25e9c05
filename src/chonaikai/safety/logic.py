"""安否確認: starting a check, recording answers, the results for officers, 班長 and the city.

A check goes to the households as one urgent notice of the association (published through the
notices publishing service, so it is delivered by e-mail, LINE and paper like any notice). Every
answer — by link, LINE, paper, a 班長's visit — is recorded through ``record_answer``; the newest
per household counts, the older ones stay as history.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from chonaikai.accounts.principal import Access, Principal
from chonaikai.accounts.roles import ROLE_LABELS, Role
from chonaikai.db import write_transaction
from chonaikai.delivery import api as delivery
from chonaikai.notices import answering
from chonaikai.notices import logic as notices
from chonaikai.notices.tables import Notice
from chonaikai.roster.tables import Han, Household
from chonaikai.safety import alerts, store, wording
from chonaikai.safety.question import safety_question
from chonaikai.safety.tables import SafetyBatchCheck, SafetyCheck, SafetyCityBatch
from chonaikai.tenancy.scope import Tenant
from chonaikai.tenancy.tables import Association

LOCAL_TZ = ZoneInfo("Asia/Tokyo")
TITLE_MAX = 60
MESSAGE_MAX = 1000
CATEGORY = "防災"

# Answers, in the order they are counted and shown.
SAFE, NEED_HELP, AWAY, NO_RESPONSE, UNKNOWN = "safe", "need_help", "away", "no_response", "unknown"
MEMBER_VALUES = (SAFE, NEED_HELP, AWAY)  # what a household can answer itself
VALUES = (*MEMBER_VALUES, NO_RESPONSE)  # plus what a 班長 can see at a door
TOTAL_KEYS = (SAFE, NEED_HELP, AWAY, UNKNOWN)  # 応答なし counts as 未確認
MEMBER_VIAS = ("web", "line", "email", "paper")
OFFICER_VIAS = ("visit", "phone", "cloth", "paper", "officer")
VIAS = (*MEMBER_VIAS, "visit", "phone", "cloth", "officer")
# One tap on the checklist → (value, via).
CHECKLIST_TAPS = {
    "cloth": (SAFE, "cloth"),
    "visit_safe": (SAFE, "visit"),
    "need_help": (NEED_HELP, "visit"),
    "away": (AWAY, "visit"),
    "no_response": (NO_RESPONSE, "visit"),
}
NO_HAN = "班なし"


class SafetyError(ValueError):
    """Something that cannot be done; the message is for people, in Japanese."""


class NotYourHan(SafetyError):
    """A 班長 tried to record for a household of another 班."""


def now_utc() -> datetime:
    return datetime.now(UTC)


def local_time(moment: datetime | None) -> str:
    if moment is None:
        return ""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(LOCAL_TZ).strftime("%-m月%-d日 %H:%M")


def label_for(principal: Principal, association_id: int | None) -> str:
    """Who did it, by role (「会長」「班長」), never a personal name in the tally."""
    if association_id is not None:
        roles = principal.roles_in(association_id)
        for role in (Role.CHAIR, Role.VICE_CHAIR, Role.SAFETY_OFFICER, Role.HAN_LEADER, Role.EDITOR, Role.TREASURER):
            if role in roles:
                return ROLE_LABELS[role]
    if any(g.role == Role.CITY_STAFF for g in principal.grants):
        return ROLE_LABELS[Role.CITY_STAFF]
    return principal.display_name or "役員"


# -- starting ---------------------------------------------------------------------------------


@dataclass
class StartInput:
    title: str = field(default_factory=wording.default_title)
    message: str = ""
    drill: bool = False


def parse_start(title: Any, message: Any, drill: Any) -> tuple[StartInput, dict[str, str]]:
    """The start form or API body; an empty title is the default 「地震の安否確認」."""
    errors: dict[str, str] = {}
    if title is not None and not isinstance(title, str):
        errors["title"] = "題名は文字で書いてください"
        title = ""
    if message is not None and not isinstance(message, str):
        errors["message"] = "ひとことは文字で書いてください"
        message = ""
    title = " ".join((title or "").split()) or wording.default_title()
    message = (message or "").strip()
    if len(title) > TITLE_MAX:
        errors["title"] = f"題名は{TITLE_MAX}文字までです"
    if len(message) > MESSAGE_MAX:
        errors["message"] = f"ひとことは{MESSAGE_MAX}文字までです"
    if isinstance(drill, str):
        drill = drill in ("1", "on", "true")
    elif drill is None:
        drill = False
    elif not isinstance(drill, bool):
        errors["drill"] = "訓練かどうかは true か false です"
        drill = False
    return StartInput(title=title, message=message, drill=drill), errors


async def open_check(tenant: Tenant, drill: bool) -> dict[str, Any] | None:
    return await (
        tenant.select(SafetyCheck)
        .where((SafetyCheck.closed_at.is_null()) & (SafetyCheck.drill == drill))
        .order_by(SafetyCheck.id, ascending=False)
        .first()
    )


async def start_check(
    tenant: Tenant,
    values: StartInput,
    *,
    started_by: int | None = None,
    started_by_label: str = "",
    city_batch: int | None = None,
    now: datetime | None = None,
) -> int:
    """Start a check: the notice that carries it is published to every household at once.

    A second start while one of the same kind (real or 訓練) is still open returns the open one:
    a double tap on a shaking phone starts nothing twice.
    """
    now = now or now_utc()
    async with write_transaction():
        existing = await open_check(tenant, values.drill)
        if existing is not None:
            if city_batch is not None:
                await SafetyBatchCheck.insert(
                    tenant.new(SafetyBatchCheck, city_batch=city_batch, safety_check=existing["id"])
                )
            return existing["id"]
        notice_input = notices.NoticeInput(
            title=wording.full_title(values.title, values.drill),
            body=wording.body(tenant.name, values.message, values.drill),
            category=CATEGORY,
            audience="all",
            visibility="members",
            urgent=True,
            pinned=True,
        )
        notice_id = await notices.create_notice(
            tenant, notice_input, author_id=started_by, author_title=started_by_label, now=now
        )
        # Asked with the notice: buttons on the read page, in LINE and in the e-mail; columns on paper.
        await answering.set_question(tenant, notice_id, safety_question())
        rows = await SafetyCheck.insert(
            tenant.new(
                SafetyCheck, notice=notice_id, title=values.title, message=values.message, drill=values.drill,
                started_by=started_by, started_by_label=started_by_label, city_batch=city_batch, created_at=now,
            )
        ).returning(SafetyCheck.id)
        if city_batch is not None:
            await SafetyBatchCheck.insert(
                tenant.new(SafetyBatchCheck, city_batch=city_batch, safety_check=rows[0]["id"])
            )
        # Claimed by the worker before anything queued earlier (a 安否確認 cannot wait behind a
        # city-wide circular).
        await notices.publish_notice(tenant, notice_id, now=now, priority=delivery.PRIORITY_SAFETY)
    check_id = rows[0]["id"]
    # After the commit: the other officers (and every 班長) learn it has started.
    await alerts.alert_officers(tenant, await get_check(tenant, check_id), exclude_account=started_by)
    return check_id


async def close_check(tenant: Tenant, check_id: int, now: datetime | None = None) -> bool:
    now = now or now_utc()
    async with write_transaction():
        rows = await (
            tenant.update(SafetyCheck, {SafetyCheck.closed_at: now})
            .where((SafetyCheck.id == check_id) & SafetyCheck.closed_at.is_null())
            .returning(SafetyCheck.notice)
        )
        if rows and rows[0]["notice"]:
            # No longer pinned above everything else on the board, and answers are closed everywhere
            # (read page, LINE, paper entry) from now on.
            await tenant.update(Notice, {Notice.pinned: False}).where(Notice.id == rows[0]["notice"])
            await answering.set_question(tenant, rows[0]["notice"], replace(safety_question(), deadline=now))
    return bool(rows)


async def get_check(tenant: Tenant, check_id: int) -> dict[str, Any] | None:
    return await tenant.select(SafetyCheck).where(SafetyCheck.id == check_id).first()


async def list_checks(tenant: Tenant) -> list[dict[str, Any]]:
    return await tenant.select(SafetyCheck).order_by(SafetyCheck.id, ascending=False)


async def open_checks_of(association_ids: list[int]) -> list[dict[str, Any]]:
    """Open checks of these associations, for the banner at the top of officers' pages."""
    if not association_ids:
        return []
    return await (
        SafetyCheck.select(
            SafetyCheck.id, SafetyCheck.association, SafetyCheck.title, SafetyCheck.drill,
            SafetyCheck.association.slug.as_alias("slug"),
        )
        .where(SafetyCheck.association.is_in(association_ids) & SafetyCheck.closed_at.is_null())
        .order_by(SafetyCheck.id)
    )


async def check_for_notice(association_id: int, notice_id: int) -> dict[str, Any] | None:
    """The check a notice carries (None: an ordinary notice)."""
    return await SafetyCheck.select().where(
        (SafetyCheck.association == association_id) & (SafetyCheck.notice == notice_id)
    ).first()


# -- answers ----------------------------------------------------------------------------------


def parse_note(note: Any) -> str:
    """けが・建物・薬・その他 (by key or by label); anything else is refused."""
    if note in (None, ""):
        return ""
    labels = wording.notes()
    if note in labels:
        return labels[note]
    if note in labels.values():
        return note
    raise SafetyError("困っていることは、けが・建物・薬・その他 から選んでください")


def value_for_choice(choice: str) -> str | None:
    """The member's button text (「無事です」) → its value (safe); also accepts the value itself."""
    choice = (choice or "").strip()
    for value, text in wording.choices().items():
        if choice in (value, text):
            return value
    return None


async def record_answer(
    tenant: Tenant,
    check_id: int,
    household_id: int,
    value: str,
    *,
    via: str,
    note: Any = "",
    entered_by: int | None = None,
    entered_by_label: str = "",
    access: Access | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Record one answer for a household; the newest counts, the older stay as history.

    ``access`` narrows who may be recorded for (a 班長: their own 班 only → NotYourHan).
    """
    if value not in VALUES:
        raise SafetyError("答えは 無事・助けが必要・不在・応答なし のどれかです")
    if via not in VIAS:
        raise SafetyError("答え方が正しくありません")
    note = parse_note(note) if value == NEED_HELP else ""
    check = await get_check(tenant, check_id)
    if check is None:
        raise SafetyError("この安否確認は見つかりません")
    if check["closed_at"] is not None or check["notice"] is None:
        raise SafetyError(wording.reply("closed"))
    household = await tenant.select(Household, Household.id, Household.han, Household.moved_out).where(
        Household.id == household_id
    ).first()
    if household is None or household["moved_out"]:
        raise SafetyError("この世帯は見つかりません")
    if access is not None and not access.covers_han(household["han"]):
        raise NotYourHan("ご自分の班の世帯だけを記入できます")
    at = now or now_utc()
    await store.record(
        tenant, check["notice"], household_id, value, note=note, via=via,
        entered_by=entered_by, entered_by_label=entered_by_label, at=at,
    )
    return {"household_id": household_id, "answer": value, "note": note, "via": via, "answered_at": at}


async def answer_history(tenant: Tenant, check_id: int, household_id: int) -> list[dict[str, Any]]:
    check = await get_check(tenant, check_id)
    if check is None or check["notice"] is None:
        return []
    return await store.history(tenant, check["notice"], household_id)


# -- results ----------------------------------------------------------------------------------


@dataclass
class HouseholdRow:
    household_id: int
    name: str
    kana: str
    han_id: int | None
    han: str
    address: str
    phone: str
    needs_support: bool
    answer: str = UNKNOWN  # safe | need_help | away | no_response | unknown
    note: str = ""
    via: str = ""
    answered_at: datetime | None = None
    entered_by_label: str = ""
    han_position: int = 0

    @property
    def counted_as(self) -> str:
        return UNKNOWN if self.answer == NO_RESPONSE else self.answer

    @property
    def urgent(self) -> bool:
        """On top of the officers' list: needs help, or 要支援 and not yet known to be safe."""
        return self.answer == NEED_HELP or (self.needs_support and self.counted_as == UNKNOWN)

    @property
    def answer_label(self) -> str:
        return wording.answer_labels()[self.answer]

    @property
    def via_label(self) -> str:
        return wording.via_labels().get(self.via, self.via)

    @property
    def answered_local(self) -> str:
        return local_time(self.answered_at)


def _zero() -> dict[str, int]:
    return dict.fromkeys(TOTAL_KEYS, 0)


@dataclass
class HanCounts:
    han_id: int | None
    name: str
    counts: dict[str, int] = field(default_factory=_zero)
    no_response: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class Results:
    check: dict[str, Any]
    rows: list[HouseholdRow]
    totals: dict[str, int]
    no_response: int
    by_han: list[HanCounts]

    @property
    def urgent(self) -> list[HouseholdRow]:
        return [row for row in self.rows if row.urgent]

    @property
    def total(self) -> int:
        return len(self.rows)

    @property
    def answered(self) -> int:
        return self.total - self.totals[UNKNOWN]


# need help first, then 要支援 not yet known, then no one answered the door, then unknown …
_ORDER = {NEED_HELP: 0, NO_RESPONSE: 2, UNKNOWN: 3, AWAY: 4, SAFE: 5}


def _officer_order(row: HouseholdRow) -> tuple:
    rank = 1 if row.needs_support and row.counted_as == UNKNOWN else _ORDER[row.answer]
    return (rank, not row.needs_support, row.han_position, row.kana, row.household_id)


def _checklist_order(row: HouseholdRow) -> tuple:
    """For a 班長 walking the street: 要支援 first, then along the addresses."""
    return (not row.needs_support, row.address, row.kana, row.household_id)


async def results(tenant: Tenant, check: dict[str, Any], access: Access | None = None) -> Results:
    """Every household (of the 班 ``access`` covers) with its answer, counts in total and per 班."""
    query = tenant.select(
        Household, Household.id, Household.name, Household.kana, Household.han, Household.address, Household.phone,
        Household.needs_support,
    ).where(Household.moved_out == False)  # noqa: E712
    where = access.household_filter() if access is not None else None
    if where is not None:
        query = query.where(where)
    households = await query
    hans = await tenant.select(Han, Han.id, Han.name, Han.position).order_by(Han.position)
    han_names = {h["id"]: h["name"] for h in hans}
    positions = {h["id"]: i for i, h in enumerate(hans)}
    answers = await store.current(tenant, check["notice"]) if check["notice"] else {}
    rows: list[HouseholdRow] = []
    for h in households:
        row = HouseholdRow(
            household_id=h["id"], name=h["name"], kana=h["kana"], han_id=h["han"],
            han=han_names.get(h["han"], NO_HAN), address=h["address"], phone=h["phone"],
            needs_support=bool(h["needs_support"]), han_position=positions.get(h["han"], len(positions)),
        )
        answer = answers.get(h["id"])
        if answer is not None:
            row.answer, row.note, row.via = answer["value"], answer["note"], answer["via"]
            row.answered_at, row.entered_by_label = answer["answered_at"], answer["entered_by_label"]
        rows.append(row)
    rows.sort(key=_officer_order)
    totals = _zero()
    per_han: dict[int | None, HanCounts] = {}
    for h in hans:
        if access is None or access.covers_han(h["id"]):
            per_han[h["id"]] = HanCounts(h["id"], h["name"])
    no_response = 0
    for row in rows:
        totals[row.counted_as] += 1
        counts = per_han.setdefault(row.han_id, HanCounts(row.han_id, NO_HAN))
        counts.counts[row.counted_as] += 1
        if row.answer == NO_RESPONSE:
            no_response += 1
            counts.no_response += 1
    return Results(check=check, rows=rows, totals=totals, no_response=no_response, by_han=list(per_han.values()))


def checklist_rows(result: Results, han_id: int | None) -> list[HouseholdRow]:
    rows = [row for row in result.rows if row.han_id == han_id]
    rows.sort(key=_checklist_order)
    return rows


def results_csv(result: Results) -> bytes:
    """Every household with its answer, for Excel (UTF-8 with BOM), urgent ones first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["世帯主", "班", "住所", "電話", "要支援", "安否", "困っていること", "答え方", "記入した人", "日時"])
    for row in result.rows:
        writer.writerow([
            _csv_safe(row.name), _csv_safe(row.han), _csv_safe(row.address), _csv_safe(row.phone),
            "要支援" if row.needs_support else "", row.answer_label, row.note, row.via_label if row.via else "",
            _csv_safe(row.entered_by_label), row.answered_local,
        ])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _csv_safe(value: str | None) -> str:
    value = value or ""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def results_json(result: Results) -> dict[str, Any]:
    """The API's answer for officers: counts, per 班, every household (ids, not names)."""
    return {
        "id": result.check["id"],
        "title": result.check["title"],
        "drill": result.check["drill"],
        "closed": result.check["closed_at"] is not None,
        "totals": dict(result.totals),
        "no_response": result.no_response,
        "by_han": {h.name: {**h.counts, "no_response": h.no_response} for h in result.by_han},
        "households": [
            {
                "household_id": row.household_id,
                "han": row.han,
                "answer": row.answer,
                "note": row.note or None,
                "answered_via": row.via or None,
                "answered_at": row.answered_at.isoformat() if row.answered_at else None,
                "needs_support": row.needs_support,
            }
            for row in result.rows
        ],
    }


# -- the city ---------------------------------------------------------------------------------


async def associations_in(city_id: int, districts: list[str] | None) -> list[dict[str, Any]]:
    query = Association.select(Association.id, Association.slug, Association.name, Association.district).where(
        Association.city == city_id
    )
    if districts:
        query = query.where(Association.district.is_in(districts))
    return await query.order_by(Association.district).order_by(Association.kana)


async def city_districts(city_id: int) -> list[str]:
    rows = await Association.select(Association.district).where(Association.city == city_id).distinct()
    return sorted(row["district"] for row in rows if row["district"])


async def start_city_check(
    city_id: int,
    values: StartInput,
    districts: list[str] | None = None,
    *,
    started_by: int | None = None,
    started_by_label: str = "市職員",
    now: datetime | None = None,
) -> tuple[int, list[tuple[str, int]]]:
    """A check in every association of the city (or of the chosen 地区); returns the batch id and
    (association slug, check id) for each."""
    from chonaikai.tenancy.logic import find_tenant

    known = await city_districts(city_id)
    unknown = [d for d in districts or [] if d not in known]
    if unknown:
        raise SafetyError(f"この地区はありません: {'、'.join(unknown)}")
    now = now or now_utc()
    rows = await SafetyCityBatch.insert(
        SafetyCityBatch(
            city=city_id, title=values.title, message=values.message, drill=values.drill,
            districts="\n".join(districts or []), started_by=started_by, started_by_label=started_by_label,
            created_at=now,
        )
    ).returning(SafetyCityBatch.id)
    batch_id = rows[0]["id"]
    started: list[tuple[str, int]] = []
    for association in await associations_in(city_id, districts):
        tenant = await find_tenant(association["slug"])
        if tenant is None:
            continue
        check_id = await start_check(
            tenant, values, started_by=None, started_by_label=started_by_label, city_batch=batch_id, now=now
        )
        started.append((tenant.slug, check_id))
    return batch_id, started


async def list_city_batches(city_id: int) -> list[dict[str, Any]]:
    return await SafetyCityBatch.select().where(SafetyCityBatch.city == city_id).order_by(
        SafetyCityBatch.id, ascending=False
    )


async def city_view(city_id: int, batch_id: int) -> dict[str, Any] | None:
    """Counts per association and 地区 for a city batch: numbers only, never a name or a phone."""
    batch = await SafetyCityBatch.select().where(
        (SafetyCityBatch.id == batch_id) & (SafetyCityBatch.city == city_id)
    ).first()
    if batch is None:
        return None
    districts = [d for d in batch["districts"].split("\n") if d]
    associations = await associations_in(city_id, districts or None)
    checks = await SafetyBatchCheck.select(
        SafetyBatchCheck.safety_check, SafetyBatchCheck.association,
        SafetyBatchCheck.safety_check.notice.as_alias("notice"),
    ).where(SafetyBatchCheck.city_batch == batch_id)
    check_of = {row["association"]: row["safety_check"] for row in checks}
    notice_of = {row["safety_check"]: row["notice"] for row in checks}
    by_id = {a["id"]: a for a in associations}
    answer_counts = await store.counts([
        (Tenant(id=row["association"], slug=by_id[row["association"]]["slug"], name=by_id[row["association"]]["name"],
                city_id=city_id, row=by_id[row["association"]]), row["notice"])
        for row in checks if row["notice"] and row["association"] in by_id
    ])
    households = await _household_counts([a["id"] for a in associations])
    rows = []
    district_totals: dict[str, dict[str, int]] = {}
    totals = _zero()
    for association in associations:
        check_id = check_of.get(association["id"])
        counts = _zero()
        if check_id is not None:
            answered = answer_counts.get(notice_of.get(check_id), {})
            for value in (SAFE, NEED_HELP, AWAY):
                counts[value] = answered.get(value, 0)
            counts[UNKNOWN] = max(households.get(association["id"], 0) - counts[SAFE] - counts[NEED_HELP] - counts[AWAY], 0)
        else:
            counts[UNKNOWN] = households.get(association["id"], 0)
        reported = check_id is not None and any(counts[v] for v in (SAFE, NEED_HELP, AWAY))
        rows.append({
            "association": association["slug"],
            "name": association["name"],
            "district": association["district"],
            "started": check_id is not None,
            "reported": reported,
            "households": households.get(association["id"], 0),
            "totals": counts,
        })
        district = district_totals.setdefault(association["district"] or "（地区なし）", _zero())
        for key in TOTAL_KEYS:
            district[key] += counts[key]
            totals[key] += counts[key]
    return {
        "id": batch["id"],
        "title": batch["title"],
        "drill": batch["drill"],
        "created_at": batch["created_at"],
        "districts": districts,
        "totals": totals,
        "by_district": district_totals,
        "associations": rows,
        "not_started": [row["association"] for row in rows if not row["started"]],
        "not_reported": [row["association"] for row in rows if row["started"] and not row["reported"]],
    }


async def _household_counts(association_ids: list[int]) -> dict[int, int]:
    if not association_ids:
        return {}
    from piccolo.query.functions.aggregate import Count

    rows = await (
        Household.select(Household.association, Count(Household.id, alias="n"))
        .where(Household.association.is_in(association_ids) & (Household.moved_out == False))  # noqa: E712
        .group_by(Household.association)
    )
    return {row["association"]: int(row["n"]) for row in rows}


def city_json(view: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": view["id"],
        "title": view["title"],
        "drill": view["drill"],
        "districts": view["districts"],
        "totals": view["totals"],
        "by_district": view["by_district"],
        "associations": [
            {key: row[key] for key in ("association", "name", "district", "started", "reported", "households", "totals")}
            for row in view["associations"]
        ],
        "not_started": view["not_started"],
        "not_reported": view["not_reported"],
    }
