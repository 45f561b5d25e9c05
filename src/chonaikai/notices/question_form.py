"""The question part of the officers' notice form (fields ``q_*``), kept apart from the notice's
own fields: what the form shows, and the Question (or a message) it posts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chonaikai.notices.questions import (
    LOCAL_TZ,
    Question,
    QuestionError,
    load_question,
    parse_question,
)

# The kinds an officer picks on the form (安否確認 has its own page).
FORM_KINDS = (
    ("confirm", "「読みました」だけ"),
    ("attendance", "出欠（出席・欠席と人数）"),
    ("choice", "アンケート（選んでもらう）"),
    ("vote", "総会（出席・委任状・書面表決と議案の賛否）"),
)


@dataclass(frozen=True)
class QuestionForm:
    kind: str = "confirm"
    choices_text: str = ""
    multiple: bool = False
    motions_text: str = ""
    deadline_text: str = ""  # datetime-local, Japan time
    comment: bool = False

    @property
    def kinds(self) -> tuple[tuple[str, str], ...]:
        return FORM_KINDS


def from_question(question: Question) -> QuestionForm:
    local = question.deadline.astimezone(LOCAL_TZ) if question.deadline else None
    return QuestionForm(
        kind=question.kind,
        choices_text="\n".join(question.choices) if question.kind == "choice" else "",
        multiple=question.multiple,
        motions_text="\n".join(question.motions),
        deadline_text=local.strftime("%Y-%m-%dT%H:%M") if local else "",
        comment=question.comment,
    )


def from_notice(notice: dict[str, Any] | None) -> QuestionForm:
    if notice is None:
        return QuestionForm()
    return from_question(load_question(notice.get("question"), notice.get("answer_deadline")))


def _first(data: dict[str, list[Any]], name: str) -> str:
    values = data.get(name) or [""]
    return values[0] if isinstance(values[0], str) else ""


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def parse(data: dict[str, list[Any]], stored: Question | None = None) -> tuple[QuestionForm, Question | None, str]:
    """(what to show again, the Question or None, the message when refused). A deadline already
    past is accepted only when it is the one stored (editing the text of a closed question)."""
    form = QuestionForm(
        kind=_first(data, "q_kind") or "confirm",
        choices_text=_first(data, "q_choices"),
        multiple=_first(data, "q_multiple") == "1",
        motions_text=_first(data, "q_motions"),
        deadline_text=_first(data, "q_deadline"),
        comment=_first(data, "q_comment") == "1",
    )
    if form.kind not in dict(FORM_KINDS) and not (stored and stored.kind == form.kind):
        return form, None, "質問の種類を選んでください。"
    raw: dict[str, Any] = {"kind": form.kind, "comment": form.comment}
    if form.kind == "choice":
        raw["choices"] = _lines(form.choices_text)
        raw["multiple"] = form.multiple
    if form.kind == "vote":
        raw["motions"] = _lines(form.motions_text)
    raw["deadline"] = form.deadline_text or None
    now = None
    if stored and stored.deadline and form.deadline_text and from_question(stored).deadline_text == form.deadline_text:
        now = datetime(2000, 1, 1, tzinfo=UTC)  # unchanged: keep it even if it has passed
    try:
        return form, parse_question(raw, now=now), ""
    except QuestionError as error:
        return form, None, error.ja
