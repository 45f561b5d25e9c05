"""The 安否確認 question kind, registered with the notices' question registry: three fixed choices
in やさしい日本語, an optional note (けが・建物・薬・その他), 助けが必要です first in results, and the
light read page (templates/safety/read.html: no script, one POST)."""

from __future__ import annotations

from chonaikai.notices.questions import Question, QuestionKind, register_kind
from chonaikai.safety import wording

_CHOICES = wording.choices()

SAFETY = register_kind(
    QuestionKind(
        "safety",
        "安否確認",
        fixed_choices=(_CHOICES["safe"], _CHOICES["need_help"], _CHOICES["away"]),
        min_choices=3,
        max_choices=3,
        notes=True,
        alert_choices=(_CHOICES["need_help"],),
        read_template="safety/read.html",
    )
)

# What a 班長 saw at a door when nobody answered: stored like a choice, counted as 未確認.
NO_RESPONSE_TEXT = wording.answer_labels()["no_response"]
# value key ↔ the text stored as the answer (the button's text, as every channel sends it)
TEXT_OF = {"safe": _CHOICES["safe"], "need_help": _CHOICES["need_help"], "away": _CHOICES["away"],
           "no_response": NO_RESPONSE_TEXT}
VALUE_OF = {text: value for value, text in TEXT_OF.items()}


def safety_question() -> Question:
    return Question(kind=SAFETY.name, choices=SAFETY.fixed_choices)
