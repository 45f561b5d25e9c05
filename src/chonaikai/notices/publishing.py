"""The one publishing service: every way a notice is published goes through here.

The posting form (``routes.py``), the JSON API (``api.py``), the worker's scheduled notices
(``logic.publish_due_notices``) and the city's circulars (``circulars``: forwarded by an
association or automatically) all call ``publish_notice`` / ``publish_new_notices``, which
apply ``RULES`` — each a function of the notice's values answering ``{field: message}`` —
then move the state and hand the notice to the delivery core in the same transaction.

A rule added to ``RULES`` applies to every path (tests/notices/test_publishing.py proves it
for each).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from chonaikai.db import write_transaction
from chonaikai.delivery import api as delivery
from chonaikai.notices.ready_texts import placeholder_names, unfilled_placeholders
from chonaikai.notices.tables import AUDIENCES, VISIBILITIES, Notice, NoticeHan
from chonaikai.tenancy.scope import Tenant

TITLE_MAX = 200
BODY_MAX = 20_000

Rule = Callable[[Any], dict[str, str]]  # NoticeInput-like values -> {field: message}


class NoticeStateError(ValueError):
    """The notice cannot change state that way (the message says why, in Japanese)."""


class PublishRefused(NoticeStateError):
    """A rule refused publishing; ``errors`` names each field with a message in Japanese."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__(" ".join(self.errors.values()))

    @property
    def field(self) -> str:
        return next(iter(self.errors))


def marks_left(text: str) -> str:
    """「【日時】【場所】」 for 文例 placeholders still in ``text`` (empty when none)."""
    return "".join(f"【{name}】" for name in unfilled_placeholders(text) if name in placeholder_names())


def rule_text(values: Any) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not (values.title or "").strip():
        errors["title"] = "題名を書いてください。"
    elif len(values.title) > TITLE_MAX:
        errors["title"] = f"題名は{TITLE_MAX}文字までにしてください。"
    if len(values.body or "") > BODY_MAX:
        errors["body"] = f"本文は{BODY_MAX}文字までにしてください。"
    return errors


def rule_placeholders(values: Any) -> dict[str, str]:
    """A 文例's 【…】 placeholders must be filled in before anyone receives it."""
    if left := marks_left((values.title or "") + "\n" + (values.body or "")):
        return {"body": f"{left} がまだ書きかえられていません。書きかえてから公開してください。"}
    return {}


def rule_audience(values: Any) -> dict[str, str]:
    if values.audience not in AUDIENCES:
        return {"audience": "届け先を選んでください。"}
    if values.visibility not in VISIBILITIES:
        return {"visibility": "公開のしかたを選んでください。"}
    if values.visibility == "public" and values.audience != "all":
        return {
            "visibility": "「班を選ぶ」「役員だけ」のお知らせはホームページに公開できません。「会員だけ」を選んでください。"
        }
    if values.audience == "han" and not values.han_ids:
        return {"han": "届ける班をひとつ以上選んでください。"}
    return {}


RULES: list[Rule] = [rule_text, rule_placeholders, rule_audience]


def check(values: Any) -> dict[str, str]:
    """Every rule's objections to publishing these values (empty: may be published)."""
    errors: dict[str, str] = {}
    for rule in RULES:
        for name, message in rule(values).items():
            errors.setdefault(name, message)
    return errors


def check_schedule(publish_at: datetime | None, now: datetime) -> dict[str, str]:
    if publish_at is None:
        return {"publish_at": "予約するときは、公開する日時を選んでください。"}
    if publish_at <= now + timedelta(minutes=1):
        return {"publish_at": "予約する日時は、これから先の日時にしてください。"}
    return {}


async def publish_notice(tenant: Tenant, notice_id: int, *, now: datetime, priority: int | None = None) -> bool:
    """Publish a draft or scheduled notice and enqueue its deliveries, if every rule agrees
    (else ``PublishRefused``). Returns False (and changes nothing) if it was already published
    — so the worker and an officer pressing 「公開」 at the same moment publish it once.
    ``priority``: of its deliveries (default: urgent notices go ahead of the others)."""
    row = await tenant.objects(Notice).where(Notice.id == notice_id).first()
    if row is None:
        return False
    if row.status in ("draft", "scheduled"):
        hans = await tenant.select(NoticeHan, NoticeHan.han).where(NoticeHan.notice == notice_id)
        if errors := check(_Values(row, [han["han"] for han in hans])):
            raise PublishRefused(errors)
    async with write_transaction():
        moved = bool(
            await tenant.update(
                Notice, {Notice.status: "published", Notice.published_at: now, Notice.updated_at: now}
            )
            .where(Notice.id == notice_id)
            .where(Notice.status.is_in(["draft", "scheduled"]))
            .returning(Notice.id)
        )
        if moved:
            if priority is None:
                priority = delivery.PRIORITY_URGENT if row.urgent else delivery.PRIORITY_NORMAL
            await delivery.enqueue([notice_id], priority=priority)
    return moved


async def publish_new_notices(
    notices: Sequence[Notice], han_ids: dict[int, Sequence[int]] | None = None, *, chunk: int = 500
) -> list[dict[str, Any]]:
    """Insert notices that are published at once (the city's circulars, one per association),
    after the rules, and enqueue them all in one go. ``han_ids``: the 班 of the notice at that
    index whose audience is ``han``. Returns ``{"id", "association"}`` per notice, in order.
    Joins the caller's transaction."""
    han_ids = han_ids or {}
    for index, row in enumerate(notices):
        values = _Values(row, han_ids.get(index, ()))
        if errors := check(values):
            raise PublishRefused(errors)
    created: list[dict[str, Any]] = []
    async with write_transaction():
        for start in range(0, len(notices), chunk):
            created += await Notice.insert(*notices[start : start + chunk]).returning(Notice.id, Notice.association)
        hans = [
            NoticeHan(association=created[index]["association"], notice=created[index]["id"], han=han)
            for index, ids in han_ids.items()
            for han in ids
        ]
        if hans:
            await NoticeHan.insert(*hans)
        await delivery.enqueue([row["id"] for row in created])
    return created


class _Values:
    """A Notice row seen as the values the rules read (what the form's NoticeInput holds)."""

    def __init__(self, row: Notice, han_ids: Sequence[int]) -> None:
        self.title = row.title
        self.body = row.body
        self.audience = row.audience
        self.visibility = row.visibility
        self.answer_by = row.answer_by
        self.needs_confirmation = row.needs_confirmation
        self.han_ids = list(han_ids)
