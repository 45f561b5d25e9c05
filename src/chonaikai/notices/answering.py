"""Answering a notice's question from any channel, and the results officers see.

Every way in ends in ``notices.answers.record_answer``: the read link (``answer_by_token``,
also used by LINE postbacks), an officer or 班長 keying in a paper or phone answer
(``enter_answer``; a 班長 only for their own 班) and the API. ``results`` counts the current
answers per choice and per 班 and lists who has not answered (with channel and phone).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from piccolo.query.functions.aggregate import Count

from chonaikai.accounts.principal import Access
from chonaikai.delivery import api as delivery
from chonaikai.delivery import readlink
from chonaikai.delivery.readlink import CHANNEL_LABELS
from chonaikai.delivery.summary import NO_HAN as _NO_HAN
from chonaikai.delivery.tables import Delivery
from chonaikai.notices import answers as store
from chonaikai.notices.questions import (
    AGAINST,
    ATTEND,
    FOR,
    PROXY,
    WRITTEN,
    AnswerInput,
    Question,
    QuestionError,
    describe,
    load_question,
    parse_answer,
    split_value,
)
from chonaikai.notices.tables import Notice, VoteRule
from chonaikai.roster.tables import Member
from chonaikai.tenancy.scope import Tenant
from chonaikai.tenancy.tables import Association

UNANSWERED = "未回答"
NO_HAN = _NO_HAN


class AnswerClosed(Exception):
    """The answer-by time has passed: nothing is recorded."""

    def __init__(self, question: Question) -> None:
        super().__init__("closed")
        self.question = question


class NotTheirs(Exception):
    """A 班長 tried to enter an answer for a household outside their 班."""


# -- the question of a notice ----------------------------------------------------------------


async def question_of(tenant: Tenant, notice_id: int) -> Question | None:
    """The notice's question (the plain 「読みました」 when it asks none); None: no such notice."""
    row = await tenant.select(Notice, Notice.question, Notice.answer_deadline).where(Notice.id == notice_id).first()
    if row is None:
        return None
    return load_question(row["question"], row["answer_deadline"])


async def set_question(tenant: Tenant, notice_id: int, question: Question) -> None:
    """Store the question with its notice (the deadline also as a column for the reminder)."""
    await tenant.update(
        Notice,
        {Notice.question: "" if question.is_confirm and not question.deadline else question.to_json(),
         Notice.answer_deadline: question.deadline},
    ).where(Notice.id == notice_id)


async def changes_answered_question(tenant: Tenant, notice: dict[str, Any], question: Question) -> bool:
    """Whether saving ``question`` would change what answers already given mean (kind, choices,
    several, 議案) — refused then; the deadline and the comment field may change."""
    stored = load_question(notice.get("question"), notice.get("answer_deadline"))
    same = (stored.kind, stored.choices, stored.multiple, stored.motions) == (
        question.kind, question.choices, question.multiple, question.motions)
    return not same and bool(await store.current_answers(tenant, notice["id"]))


# -- the read link ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Ask:
    """What the read page shows for a question: the choices, the current answer, the deadline."""

    token: str
    question: Question
    current: store.StoredAnswer | None
    preselect: tuple[str, ...] = ()
    error: str = ""
    per_person: bool = False  # vote counted per member: the answer says for how many

    @property
    def closed(self) -> bool:
        return self.question.closed()

    @property
    def current_text(self) -> str:
        if self.current is None:
            return ""
        return describe(self.question, self.current.value, self.current.people, self.current.detail)

    @property
    def current_values(self) -> list[str]:
        return split_value(self.current.value) if self.current else []

    def selected(self, choice: str) -> bool:
        return choice in self.preselect or (not self.preselect and choice in self.current_values)


@dataclass(frozen=True)
class _Link:
    delivery_id: int
    household_id: int
    notice_id: int
    association_id: int
    question: Question


async def _link(token: str) -> _Link | None:
    """The delivery behind a read link and its notice's question (two indexed lookups; a
    notice asking only 「読みました」 costs nothing more)."""
    if not token or len(token) > 64:
        return None
    row = await Delivery.select(Delivery.id, Delivery.household, Delivery.notice, Delivery.association).where(
        Delivery.token == token
    ).first()
    if row is None:
        return None
    notice = await Notice.select(Notice.status, Notice.question, Notice.answer_deadline).where(
        (Notice.id == row["notice"]) & (Notice.association == row["association"])
    ).first()
    if notice is None or notice["status"] not in ("published", "archived"):
        return None
    return _Link(row["id"], row["household"], row["notice"], row["association"],
                 load_question(notice["question"], notice["answer_deadline"]))


async def _tenant(association_id: int) -> Tenant | None:
    association = await Association.select().where(Association.id == association_id).first()
    return Tenant.from_row(association) if association else None


async def ask_for_token(token: str, preselect: Iterable[str] = (), error: str = "") -> Ask | None:
    """The question behind a read link with the household's current answer; None when the
    notice asks only 「読みました」 (or the link is unknown). ``preselect`` (from an e-mail's
    choice link) only marks a choice: a GET records nothing."""
    link = await _link(token)
    if link is None or link.question.is_confirm:
        return None
    question = link.question
    tenant = await _tenant(link.association_id)
    if tenant is None:
        return None
    current = (await store.current_answers(tenant, link.notice_id, [link.household_id])).get(link.household_id)
    picked = tuple(choice for choice in preselect if choice in question.choices)
    per_person = question.kind == "vote" and (await vote_rules(tenant)).count_by == "person"
    return Ask(token, question, current, picked, error, per_person)


async def ask_for_household(tenant: Tenant, notice_id: int, household_id: int) -> Ask | None:
    """The same for a signed-in household on the notice page (None: nothing was delivered to it)."""
    row = await tenant.select(Delivery, Delivery.token).where(
        (Delivery.notice == notice_id) & (Delivery.household == household_id)
    ).first()
    return await ask_for_token(row["token"]) if row else None


async def notice_path_for_token(token: str) -> str | None:
    """``/a/{slug}/notices/{id}``: where a signed-in member who answered goes back to."""
    link = await _link(token)
    tenant = await _tenant(link.association_id) if link else None
    return f"/a/{tenant.slug}/notices/{link.notice_id}" if link and tenant else None


async def read_page_extension(token: str, query: Mapping[str, Any]) -> dict[str, Any] | None:
    """The read page's question (registered with the delivery core by ``chonaikai.wiring``):
    ``ask`` for the answer form and, for a kind with its own page, ``template``."""
    choices = query.get("choice") or []
    ask = await ask_for_token(token, preselect=[choices] if isinstance(choices, str) else choices)
    if ask is None:
        return None
    extras: dict[str, Any] = {"ask": ask, "change": bool(query.get("change")) or bool(ask.preselect),
                              "answered": bool(query.get("answered"))}
    if ask.question.spec.read_template:
        extras["template"] = ask.question.spec.read_template
    if ask.current is None and not ask.preselect and not ask.error and not extras["change"] and not extras["answered"]:
        # The question as every household that has not answered sees it: the read page may be
        # shared by them (the token aside) until the deadline closes it.
        extras[delivery.SHARED_UNTIL] = None if ask.closed else ask.question.deadline
    return extras


@dataclass(frozen=True)
class Recorded:
    question: Question
    answer: store.StoredAnswer
    changed: bool

    @property
    def text(self) -> str:
        return describe(self.question, self.answer.value, self.answer.people, self.answer.detail)


async def answer_by_token(
    token: str,
    choices: Iterable[str] | str,
    people: Any = None,
    comment: Any = "",
    motions: Mapping[str, Any] | None = None,
    proxy: Any = "",
    *,
    via: str = "web",
    now: datetime | None = None,
    confirm_read: bool = True,
) -> Recorded | None:
    """Record the household's answer through its read link (the web form, a LINE postback).
    ``confirm_read``: also record 「読みました」 (the LINE webhook does that in its own transaction).

    None: unknown link. Raises QuestionError (a bad answer) or AnswerClosed (after the
    deadline); nothing is recorded then. The same answer twice records nothing new.
    """
    link = await _link(token)
    if link is None or link.question.is_confirm:
        return None
    if await readlink.link_state(token) is not True:  # the household moved out or left the audience
        return None
    question = link.question
    tenant = await _tenant(link.association_id)
    if tenant is None:
        return None
    now = now or datetime.now(UTC)
    if question.closed(now):
        raise AnswerClosed(question)
    answer = parse_answer(question, choices, people=people, comment=comment, motions=motions, proxy=proxy)
    stored, changed = await store.record_answer(tenant, link.notice_id, link.household_id, answer, via=via, now=now)
    if confirm_read:  # answering says the notice was read: 「読みました」 for the who-has-read page too
        await delivery.confirm_by_token(token, via="line" if via == "line" else "web", now=now)
    return Recorded(question, stored, changed)


# -- paper, phone: entered by an officer or 班長 ---------------------------------------------------


async def enter_answer(
    tenant: Tenant,
    access: Access,
    account_id: int | None,
    notice_id: int,
    household_id: int,
    choices: Iterable[str] | str,
    people: Any = None,
    comment: Any = "",
    motions: Mapping[str, Any] | None = None,
    proxy: Any = "",
    *,
    via: str = "paper",
    now: datetime | None = None,
) -> Recorded | None:
    """An officer (or the 班長 of the household's 班) records a paper / phone / visit answer.

    None: no such notice or the household is not among its recipients. Raises NotTheirs for a
    班長 outside their 班, QuestionError for a bad answer, AnswerClosed after the deadline.
    """
    if via not in ("paper", "officer", "visit", "phone", "cloth"):
        raise QuestionError("記入の方法は paper / officer / visit / phone のどれかです", "via is paper, officer, visit or phone")
    question = await question_of(tenant, notice_id)
    if question is None:
        return None
    row = await tenant.select(Delivery, Delivery.id, Delivery.household.han.as_alias("han_id")).where(
        (Delivery.notice == notice_id) & (Delivery.household == household_id)
    ).first()
    if row is None:
        return None
    if not access.covers_han(row["han_id"]):
        raise NotTheirs()
    now = now or datetime.now(UTC)
    if question.closed(now):
        raise AnswerClosed(question)
    if question.is_confirm:
        answer = AnswerInput(value=question.choices[0])
    else:
        answer = parse_answer(question, choices, people=people, comment=comment, motions=motions, proxy=proxy)
    stored, changed = await store.record_answer(
        tenant, notice_id, household_id, answer, via=via, entered_by=account_id, now=now
    )
    await delivery.officer_tick(tenant, access, notice_id, household_id, now=now)
    return Recorded(question, stored, changed)


# -- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VoteRules:
    count_by: str = "household"  # or "person"
    quorum_percent: int = 50

    @property
    def label(self) -> str:
        return "1人1票（会員ごと）" if self.count_by == "person" else "1世帯1票"


async def vote_rules(tenant: Tenant) -> VoteRules:
    row = await VoteRule.select(VoteRule.count_by, VoteRule.quorum_percent).where(
        VoteRule.association == tenant.id
    ).first()
    return VoteRules(row["count_by"], row["quorum_percent"]) if row else VoteRules()


async def save_vote_rules(tenant: Tenant, count_by: str, quorum_percent: Any) -> VoteRules:
    if count_by not in ("household", "person"):
        raise QuestionError("数え方は「世帯ごと」か「会員ごと」です", "count_by is household or person")
    try:
        percent = int(str(quorum_percent).strip())
    except ValueError:
        raise QuestionError("定足数は1から100までの数字（％）で入れてください", "quorum_percent is 1 to 100") from None
    if not 1 <= percent <= 100:
        raise QuestionError("定足数は1から100までの数字（％）で入れてください", "quorum_percent is 1 to 100")
    now = datetime.now(UTC)
    updated = await VoteRule.update({VoteRule.count_by: count_by, VoteRule.quorum_percent: percent,
                                     VoteRule.updated_at: now}).where(VoteRule.association == tenant.id).returning(
        VoteRule.id)
    if not updated:
        await VoteRule(association=tenant.id, count_by=count_by, quorum_percent=percent, updated_at=now).save()
    return VoteRules(count_by, percent)


@dataclass
class Results:
    notice_id: int
    question: Question
    totals: dict[str, int]
    people: dict[str, int]
    by_han: dict[str, dict[str, int]]
    households: list[dict[str, Any]]
    vote: dict[str, Any] | None = None
    answered: int = 0
    total: int = 0
    hans: list[str] = field(default_factory=list)

    @property
    def unanswered(self) -> list[dict[str, Any]]:
        return [row for row in self.households if not row["answer"]]

    @property
    def choice_columns(self) -> list[str]:
        return list(self.question.choices)

    def bar(self, count: int) -> int:
        return round(100 * count / self.total) if self.total else 0

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "notice_id": self.notice_id,
            "question": self.question.to_dict(),
            "totals": self.totals,
            "people": self.people,
            "by_han": self.by_han,
            "households": [
                {
                    "household_id": row["household_id"], "han": row["han"], "channel": row["channel"],
                    "answer": row["answer"] or None, "people": row["people"], "comment": row["comment"] or None,
                    "detail": row["detail"] or None,
                    "answered_at": row["answered_at"].isoformat() if row["answered_at"] else None,
                    "answered_via": row["via"] or None,
                }
                for row in self.households
            ],
        }
        if self.vote is not None:
            data["vote"] = self.vote
        return data


async def _recipients(tenant: Tenant, access: Access | None, notice_id: int) -> list[dict[str, Any]]:
    query = tenant.select(
        Delivery,
        Delivery.household.as_alias("household_id"),
        Delivery.token,
        Delivery.channel,
        Delivery.confirmed_at,
        Delivery.confirmed_via,
        Delivery.household.name.as_alias("name"),
        Delivery.household.phone.as_alias("phone"),
        Delivery.household.han.as_alias("han_id"),
        Delivery.household.han.name.as_alias("han"),
    ).where(Delivery.notice == notice_id)
    if access is not None and access.han_ids is not None:
        query = query.where(Delivery.household.han.is_in(sorted(access.han_ids) or [-1]))
    rows = await query.order_by(Delivery.household.han.position, Delivery.household.kana, Delivery.household.id)
    for row in rows:
        row["han"] = row["han"] or NO_HAN
    return rows


async def _member_counts(tenant: Tenant, household_ids: list[int]) -> dict[int, int]:
    if not household_ids:
        return {}
    rows = await tenant.select(Member, Member.household, Count(Member.id, alias="n")).where(
        Member.household.is_in(household_ids)
    ).group_by(Member.household)
    return {row["household"]: row["n"] for row in rows}


async def results(tenant: Tenant, access: Access | None, notice_id: int) -> Results | None:
    """Counts per choice and per 班, and every household's answer (a 班長: their 班 only)."""
    question = await question_of(tenant, notice_id)
    if question is None:
        return None
    rows = await _recipients(tenant, access, notice_id)
    current = await store.current_answers(tenant, notice_id, [row["household_id"] for row in rows])
    totals: Counter[str] = Counter({choice: 0 for choice in question.choices})
    people: Counter[str] = Counter()
    by_han: dict[str, Counter[str]] = defaultdict(Counter)
    households: list[dict[str, Any]] = []
    answered = 0
    for row in rows:
        answer = current.get(row["household_id"])
        if answer is None and question.is_confirm and row["confirmed_at"]:
            answer = store.StoredAnswer(row["household_id"], question.choices[0], None, "", {},
                                        row["confirmed_via"] or "web", None, row["confirmed_at"])
        han = by_han[row["han"]]
        han["households"] += 1
        if answer is None:
            totals[UNANSWERED] += 1
            han[UNANSWERED] += 1
        else:
            answered += 1
            for value in split_value(answer.value):
                totals[value] += 1
                han[value] += 1
                if answer.people and question.needs_people(value):
                    people[value] += answer.people
        households.append({
            **row,
            "answer": answer.value if answer else "",
            "answer_text": describe(question, answer.value, answer.people, answer.detail) if answer else "",
            "people": answer.people if answer else None,
            "comment": answer.comment if answer else "",
            "detail": answer.detail if answer else {},
            "via": answer.via if answer else "",
            "via_label": store.VIA_LABELS.get(answer.via, "") if answer else "",
            "answered_at": answer.answered_at if answer else None,
            "channel_label": CHANNEL_LABELS.get(row["channel"], row["channel"]),
        })
    totals.setdefault(UNANSWERED, 0)
    for han in by_han.values():
        for choice in (*question.choices, UNANSWERED):
            han.setdefault(choice, 0)
    result = Results(
        notice_id, question, dict(totals), dict(people), {name: dict(c) for name, c in by_han.items()}, households,
        answered=answered, total=len(rows), hans=list(by_han),
    )
    if question.kind == "vote":
        result.vote = await _vote_summary(tenant, question, households)
    return result


async def _vote_summary(tenant: Tenant, question: Question, households: list[dict[str, Any]]) -> dict[str, Any]:
    """出席 + 委任状 + 書面表決 against the quorum, and per 議案 the written 賛否 (weighted per
    person when the association counts per member)."""
    rules = await vote_rules(tenant)
    members = await _member_counts(tenant, [row["household_id"] for row in households]) if rules.count_by == "person" else {}

    def weight(row: dict[str, Any]) -> int:
        if rules.count_by == "household":
            return 1
        return row["people"] or max(members.get(row["household_id"], 0), 1)

    eligible = sum(
        1 if rules.count_by == "household" else max(members.get(row["household_id"], 0), 1) for row in households
    )
    present = {ATTEND: 0, PROXY: 0, WRITTEN: 0}
    motions = {motion: {FOR: 0, AGAINST: 0} for motion in question.motions}
    proxies: Counter[str] = Counter()
    for row in households:
        if row["answer"] not in present:
            continue
        present[row["answer"]] += weight(row)
        if row["answer"] == WRITTEN:
            for motion, choice in (row["detail"].get("motions") or {}).items():
                if motion in motions and choice in (FOR, AGAINST):
                    motions[motion][choice] += weight(row)
        elif row["answer"] == PROXY:
            proxies[row["detail"].get("proxy") or "議長"] += weight(row)
    counted = sum(present.values())
    needed = -(-eligible * rules.quorum_percent // 100)  # at least this many (rounded up)
    return {
        "count_by": rules.count_by,
        "count_by_label": rules.label,
        "quorum_percent": rules.quorum_percent,
        "eligible": eligible,
        "present": present,
        "counted": counted,
        "needed": needed,
        "quorum_met": eligible > 0 and counted >= needed,
        "motions": [{"motion": motion, FOR: votes[FOR], AGAINST: votes[AGAINST]} for motion, votes in motions.items()],
        "proxies": dict(proxies),
    }
