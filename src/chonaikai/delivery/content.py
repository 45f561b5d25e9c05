"""The content port: what a delivery carries, lent to the core by the package that owns it.

The delivery core stores (content id, household) rows and sends them; it does not know what a
notice is. A producer (notices today; city circulars reach households as notices) implements
``ContentSource`` and registers it at start-up (``chonaikai.wiring``). The core asks it:

- who the audience of some content is (``audience_sql``: SQL the outbox runs, so a city-wide
  publish stays one statement per chunk);
- what to put in an e-mail (``mail_parts``) and on the read page (``read_content``), and which
  attached file a read link may download (``attachment``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

NOTICE = "notice"


@dataclass(frozen=True)
class MailParts:
    """One piece of content as an e-mail: the same for every recipient."""

    title: str
    association_name: str
    text: str
    html: str | None = None
    # The content's question (出欠, アンケート …): each choice a link to the read page pre-selected.
    choices: tuple[str, ...] = ()
    answer_deadline: str = ""  # in words, Japan time


@dataclass(frozen=True)
class ReadContent:
    """What the read page (/r/{token}) shows: ``item`` holds title, body, category, urgent,
    published_at, answer_by, author_title; ``body_html`` the sanitised body."""

    item: dict[str, Any]
    body_html: Any = None
    attachments: list[Any] = field(default_factory=list)


@runtime_checkable
class ContentSource(Protocol):
    kind: str

    def audience_sql(self, count: int) -> str:
        """SQL selecting ``association, content, household`` (one row per household in the
        audience) for ``count`` content ids given as ``{}`` placeholders. The core joins it to
        the household, leaves out those who moved out or already have a row, and picks each
        household's channel."""

    def in_audience_sql(self, content: str, household: str) -> str:
        """An SQL condition: household ``household`` (a column) is in the audience of content
        ``content`` (a column) — the same rule as ``audience_sql``, for one read link's lookup."""

    def own_part_sql(self, content: str, household: str) -> str:
        """An SQL condition: the read page of this household shows something of its own (an
        answer it gave), so the page every other reader shares is not its page."""

    async def describe(self, association_id: int, content_id: int) -> dict[str, Any] | None:
        """For officers' pages: ``id, title, status, published_at, audience`` (None: no such
        content in this association)."""

    async def association_of(self, content_id: int) -> int | None:
        """The association a piece of content belongs to (None: there is none)."""

    async def stamps(self, content_ids: list[int]) -> dict[int, datetime | None]:
        """When each piece was last changed (a corrected notice is sent corrected)."""

    async def mail_parts(self, content_id: int) -> MailParts | None:
        """None: the content is gone (deleted) and must not be sent."""

    async def read_content(self, association_id: int, content_id: int) -> ReadContent | None:
        """None: not (or no longer) readable through a read link."""

    async def attachment(
        self, association_id: int, content_id: int, attachment_id: int
    ) -> tuple[dict[str, Any], bytes] | None:
        """A file of this content (and of no other), or None."""


_sources: dict[str, ContentSource] = {}


def register(source: ContentSource) -> None:
    _sources[source.kind] = source


def source(kind: str = NOTICE) -> ContentSource:
    try:
        return _sources[kind]
    except KeyError:
        raise RuntimeError(
            f"no content source {kind!r} is registered: call chonaikai.wiring.wire() at start-up"
        ) from None


# -- the read page's extensions ---------------------------------------------------------------
# A producer may add to the read page /r/{token} (a notice's question and its answer form):
# an async function (token, query: {"choice": [...], "change": "…", "answered": "…"}) returning
# extra template context — its key ``template`` names another template — or None for nothing.

#
# An extension that returns the key SHARED_UNTIL says the page with its extras is the same for
# every reader of the content whose link has no part of its own (``own_part_sql``), until that
# moment (an aware datetime, e.g. an answer deadline) or for good (None). Without it the page is
# rendered for the one reader.
SHARED_UNTIL = "shared_until"

ReadExtension = Callable[[str, Mapping[str, Any]], Awaitable[dict[str, Any] | None]]
_read_extensions: list[ReadExtension] = []


def register_read_extension(extension: ReadExtension) -> None:
    if extension not in _read_extensions:
        _read_extensions.append(extension)


async def read_extras(token: str, query: Mapping[str, Any]) -> dict[str, Any]:
    extras: dict[str, Any] = {}
    for extension in _read_extensions:
        extras.update(await extension(token, query) or {})
    return extras
