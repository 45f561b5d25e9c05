"""The question a notice may ask (one per notice) and the registry of question kinds.

Kinds built in: ``confirm`` (「読みました」, the default), ``choice`` (2–6 choices, or several
when ``multiple``), ``attendance`` (出席 / 欠席 and the number of people when 出席) and ``vote``
(総会: 出席 / 委任状 / 書面表決 and, per 議案, 賛成 / 反対). Other parts of the app add kinds with
``register_kind`` (安否確認 registers ``safety`` with its fixed choices and a note).

A question is stored with its notice as JSON (``notice.question``) and its deadline also in
``notice.answer_deadline`` (UTC) so the reminder can find the notices due. ``parse_question``
turns the API's or the form's input into a ``Question`` or refuses it with a ``QuestionError``
that says what is wrong in Japanese and English; nothing is stored then.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Tokyo")

CHOICE_MAX_LENGTH = 40
MOTION_MAX_LENGTH = 200
MOTIONS_MAX = 20
PEOPLE_MIN, PEOPLE_MAX = 1, 20
COMMENT_MAX_LENGTH = 500

# Words the answers use; the vote kind's are fixed by how a 総会 counts.
ATTEND, ABSENT = "出席", "欠席"
PROXY, WRITTEN = "委任状", "書面表決"
FOR, AGAINST = "賛成", "反対"
VOTE_CHOICES = (ATTEND, PROXY, WRITTEN)
MOTION_CHOICES = (FOR, AGAINST)
CHAIR_PROXY = "議長"  # a 委任状 without a name goes to the chair


class QuestionError(ValueError):
    """Input that does not make a question (or an answer): ``ja`` for people, ``en`` for tools."""

    def __init__(self, ja: str, en: str) -> None:
        super().__init__(f"{ja} ({en})")
        self.ja = ja
        self.en = en


@dataclass(frozen=True)
class QuestionKind:
    """What one kind of question allows.

    ``fixed_choices``: the choices are always these (the officer cannot change them).
    ``default_choices``: offered when the officer gives none.
    ``asks_people``: the answer carries a number of people (1–20) for ``people_for`` choices.
    ``motions``: the question lists 議案 answered 賛成 / 反対 (vote).
    ``notes``: the answer may carry a free-text note even when the officer did not enable comments.
    """

    name: str
    label: str  # shown to officers: 出欠, アンケート …
    fixed_choices: tuple[str, ...] = ()
    default_choices: tuple[str, ...] = ()
    min_choices: int = 2
    max_choices: int = 6
    allows_multiple: bool = False
    asks_people: bool = False
    people_for: tuple[str, ...] = ()
    motions: bool = False
    notes: bool = False
    # Choices that count as "needs attention" (e.g. 助けが必要です): shown first in results.
    alert_choices: tuple[str, ...] = ()
    # A template the read page /r/{token} renders instead of delivery/read.html (e.g. a light
    # page for 安否確認); it gets the same context plus ``ask``.
    read_template: str = ""


_KINDS: dict[str, QuestionKind] = {}


def register_kind(kind: QuestionKind) -> QuestionKind:
    """Add (or replace) a kind of question; returns it. Call at import time of your module."""
    if not kind.name or not kind.name.isascii() or not kind.name.replace("_", "").isalnum():
        raise ValueError(f"kind name must be a short ascii word: {kind.name!r}")
    _KINDS[kind.name] = kind
    return kind


def get_kind(name: str) -> QuestionKind | None:
    return _KINDS.get(name)


def kinds() -> dict[str, QuestionKind]:
    return dict(_KINDS)


CONFIRM = register_kind(QuestionKind("confirm", "読みました", fixed_choices=("読みました",), min_choices=1))
CHOICE = register_kind(QuestionKind("choice", "アンケート", allows_multiple=True))
ATTENDANCE = register_kind(
    QuestionKind("attendance", "出欠", fixed_choices=(ATTEND, ABSENT), asks_people=True, people_for=(ATTEND,))
)
VOTE = register_kind(QuestionKind("vote", "総会の出欠・議決", fixed_choices=VOTE_CHOICES, motions=True))


@dataclass(frozen=True)
class Question:
    kind: str = "confirm"
    choices: tuple[str, ...] = ("読みました",)
    multiple: bool = False
    deadline: datetime | None = None  # aware, UTC
    comment: bool = False  # the officer asks for a free-text comment
    motions: tuple[str, ...] = ()

    @property
    def spec(self) -> QuestionKind:
        return _KINDS.get(self.kind, CONFIRM)

    @property
    def is_confirm(self) -> bool:
        return self.kind == "confirm"

    @property
    def label(self) -> str:
        return self.spec.label

    @property
    def asks_people(self) -> bool:
        return self.spec.asks_people

    @property
    def allows_comment(self) -> bool:
        return self.comment or self.spec.notes

    def needs_people(self, choice: str) -> bool:
        return self.spec.asks_people and choice in self.spec.people_for

    def closed(self, now: datetime | None = None) -> bool:
        return self.deadline is not None and (now or datetime.now(UTC)) > self.deadline

    @property
    def deadline_local(self) -> datetime | None:
        return self.deadline.astimezone(LOCAL_TZ) if self.deadline else None

    def deadline_text(self) -> str:
        local = self.deadline_local
        return f"{local.year}年{local.month}月{local.day}日 {local.hour}時{local.minute:02d}分" if local else ""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "choices": list(self.choices), "multiple": self.multiple,
                                "deadline": self.deadline.isoformat() if self.deadline else None,
                                "comment": self.comment}
        if self.motions:
            data["motions"] = list(self.motions)
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


DEFAULT = Question()


def _refuse(ja: str, en: str) -> QuestionError:
    return QuestionError(ja, en)


def _texts(values: Any, what_ja: str, what_en: str, max_length: int) -> tuple[str, ...]:
    if not isinstance(values, list | tuple) or not all(isinstance(v, str) for v in values):
        raise _refuse(f"{what_ja}は文字の並び（リスト）で送ってください", f"{what_en} must be a list of strings")
    cleaned = tuple(v.strip() for v in values if v.strip())
    for value in cleaned:
        if len(value) > max_length:
            raise _refuse(f"{what_ja}は1つ{max_length}文字までです", f"each of {what_en} is at most {max_length} characters")
        if "\n" in value or "\r" in value:
            raise _refuse(f"{what_ja}に改行は入れられません", f"{what_en} cannot contain line breaks")
    if len(set(cleaned)) != len(cleaned):
        raise _refuse(f"同じ{what_ja}が2回あります", f"{what_en} repeat")
    return cleaned


def parse_deadline(value: Any) -> datetime | None:
    """ISO 8601 with an offset, or a date / date-time without one read as Japan time (a date
    means the end of that day). None or "" means no deadline."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _refuse("締め切りは日時の文字列で送ってください", "deadline must be an ISO 8601 string")
    text = value.strip()
    try:
        if len(text) == 10:
            day = datetime.fromisoformat(text).date()
            return datetime.combine(day, time(23, 59), LOCAL_TZ).astimezone(UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _refuse("締め切りの日時が読めません（例 2026-12-20T18:00:00+09:00）",
                      "deadline is not an ISO 8601 date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL_TZ)
    return moment.astimezone(UTC)


def parse_question(data: Any, now: datetime | None = None) -> Question:
    """The API's ``"question"`` object (or the form's fields as a dict) as a Question.

    Refuses with QuestionError: unknown kind, fewer than 2 or more than 6 choices, choices for a
    kind whose choices are fixed and differ, a vote without 議案, a deadline already past.
    """
    if data is None:
        return DEFAULT
    if not isinstance(data, Mapping):
        raise _refuse("question はJSONのオブジェクトで送ってください", "question must be an object")
    kind_name = data.get("kind", "confirm")
    spec = _KINDS.get(kind_name) if isinstance(kind_name, str) else None
    if spec is None:
        names = "、".join(_KINDS)
        raise _refuse(f"質問の種類は {names} のどれかです", f"question kind is one of {', '.join(_KINDS)}")
    multiple = data.get("multiple", False)
    if not isinstance(multiple, bool):
        raise _refuse("multiple は true か false です", "multiple is true or false")
    if multiple and not spec.allows_multiple:
        raise _refuse("この種類の質問では複数は選べません", f"{spec.name} does not allow multiple answers")
    comment = data.get("comment", False)
    if not isinstance(comment, bool):
        raise _refuse("comment は true か false です", "comment is true or false")
    raw_choices = data.get("choices")
    if spec.fixed_choices:
        if raw_choices not in (None, [], list(spec.fixed_choices)):
            given = _texts(raw_choices, "選択肢", "choices", CHOICE_MAX_LENGTH)
            if given != spec.fixed_choices:
                fixed = " / ".join(spec.fixed_choices)
                raise _refuse(f"この種類の選択肢は決まっています（{fixed}）", f"{spec.name} choices are fixed: {fixed}")
        choices = spec.fixed_choices
    else:
        choices = (_texts(raw_choices, "選択肢", "choices", CHOICE_MAX_LENGTH) if raw_choices is not None
                   else spec.default_choices)
        if not spec.min_choices <= len(choices) <= spec.max_choices:
            raise _refuse(f"選択肢は{spec.min_choices}つから{spec.max_choices}つまでです",
                          f"give {spec.min_choices} to {spec.max_choices} choices")
    motions: tuple[str, ...] = ()
    if spec.motions:
        motions = _texts(data.get("motions", []), "議案", "motions", MOTION_MAX_LENGTH)
        if not 1 <= len(motions) <= MOTIONS_MAX:
            raise _refuse(f"議案を1つから{MOTIONS_MAX}まで入れてください", f"give 1 to {MOTIONS_MAX} motions")
    elif data.get("motions"):
        raise _refuse("議案は総会（vote）の質問だけに付けられます", "motions are only for kind vote")
    deadline = parse_deadline(data.get("deadline"))
    if deadline is not None and deadline <= (now or datetime.now(UTC)):
        raise _refuse("締め切りがもう過ぎています", "the deadline has already passed")
    return Question(kind=spec.name, choices=choices, multiple=multiple, deadline=deadline, comment=comment,
                    motions=motions)


def load_question(stored: str | Mapping[str, Any] | None, answer_deadline: datetime | None = None) -> Question:
    """The question stored with a notice (never refuses: a stored row was valid when written)."""
    if not stored:
        return DEFAULT
    data = json.loads(stored) if isinstance(stored, str) else dict(stored)
    kind = data.get("kind", "confirm")
    if kind not in _KINDS:  # a kind whose module is not loaded: still readable as plain choices
        kind = "choice"
    deadline = answer_deadline
    if deadline is None and data.get("deadline"):
        deadline = datetime.fromisoformat(data["deadline"]).astimezone(UTC)
    question = Question(kind=kind, choices=tuple(data.get("choices") or ()), multiple=bool(data.get("multiple")),
                        deadline=deadline, comment=bool(data.get("comment")), motions=tuple(data.get("motions") or ()))
    if not question.choices:
        question = replace(question, choices=question.spec.fixed_choices or question.spec.default_choices)
    return question


# -- answers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerInput:
    """One household's answer as given (before it is stored).

    ``value``: the choice, or for ``multiple`` the choices joined by ``MULTI_SEPARATOR`` in the
    question's order. ``detail``: for vote, ``{"motions": {議案: 賛成|反対}, "proxy": name}``.
    """

    value: str
    people: int | None = None
    comment: str = ""
    detail: dict[str, Any] = field(default_factory=dict)

    def values(self) -> list[str]:
        return split_value(self.value)


MULTI_SEPARATOR = "、"


def split_value(value: str) -> list[str]:
    return [part for part in value.split(MULTI_SEPARATOR) if part] if value else []


def _people(value: Any) -> int:
    if isinstance(value, bool):
        raise _refuse("人数は数字で入れてください", "people must be a number")
    try:
        people = int(str(value).strip().translate(str.maketrans("０１２３４５６７８９", "0123456789")))
    except (TypeError, ValueError):
        raise _refuse("人数は数字で入れてください", "people must be a number") from None
    if not PEOPLE_MIN <= people <= PEOPLE_MAX:
        raise _refuse(f"人数は{PEOPLE_MIN}人から{PEOPLE_MAX}人までです", f"people is {PEOPLE_MIN} to {PEOPLE_MAX}")
    return people


def parse_answer(
    question: Question,
    choices: Iterable[str] | str,
    people: Any = None,
    comment: Any = "",
    motions: Mapping[str, Any] | None = None,
    proxy: Any = "",
) -> AnswerInput:
    """Check an answer against its question. ``choices``: the choice text(s) picked; ``motions``:
    議案 → 賛成/反対 (vote, 書面表決); ``proxy``: whom a 委任状 goes to (empty: the chair)."""
    picked = [choices] if isinstance(choices, str) else list(choices)
    picked = [c.strip() for c in picked if isinstance(c, str) and c.strip()]
    if not picked:
        raise _refuse("選んでからボタンを押してください", "choose an answer")
    unknown = [c for c in picked if c not in question.choices]
    if unknown:
        raise _refuse("その答えはこの質問にありません。もう一度選んでください", f"unknown choice: {unknown[0]}")
    if len(set(picked)) > 1 and not question.multiple:
        raise _refuse("答えは1つだけ選んでください", "choose one answer")
    ordered = [c for c in question.choices if c in set(picked)]
    value = MULTI_SEPARATOR.join(ordered)
    number: int | None = None
    if question.asks_people and any(question.needs_people(c) for c in ordered):
        number = _people(people if people not in (None, "") else 1)
    comment_text = comment.strip() if isinstance(comment, str) else ""
    if comment_text and not question.allows_comment:
        comment_text = ""
    if len(comment_text) > COMMENT_MAX_LENGTH:
        raise _refuse(f"ひとことは{COMMENT_MAX_LENGTH}文字までです", f"comment is at most {COMMENT_MAX_LENGTH} characters")
    detail: dict[str, Any] = {}
    if question.kind == "vote":
        if value == WRITTEN:
            given = dict(motions or {})
            votes: dict[str, str] = {}
            for motion in question.motions:
                choice = given.get(motion)
                if choice not in MOTION_CHOICES:
                    raise _refuse(f"「{motion}」の賛成・反対を選んでください", f"choose for or against: {motion}")
                votes[motion] = choice
            detail["motions"] = votes
        elif value == PROXY:
            name = proxy.strip() if isinstance(proxy, str) else ""
            if len(name) > 100:
                raise _refuse("委任する人の名前は100文字までです", "proxy name is at most 100 characters")
            detail["proxy"] = name or CHAIR_PROXY
        if people not in (None, ""):  # per-person counting: how many members this answer stands for
            number = _people(people)
    return AnswerInput(value=value, people=number, comment=comment_text, detail=detail)


def describe(question: Question, value: str, people: int | None = None, detail: Mapping[str, Any] | None = None) -> str:
    """The answer in one line of plain words (thank-you replies, the read page, results)."""
    if not value:
        return ""
    text = value
    if people and question.asks_people:
        text += f"（{people}人）"
    detail = detail or {}
    if detail.get("proxy"):
        text += f"（{detail['proxy']}に委任）"
    if detail.get("motions"):
        text += "（" + "、".join(f"{m}：{v}" for m, v in detail["motions"].items()) + "）"
    return text
