"""The board and a notice page for signed-in readers: their shared parts from shared_pieces.py,
the reader's own parts (name, CSRF token, unread marks, 「読みました」) put in per request.

Two kinds of thing are kept, both per association and forgotten with its public pages:

- data: a board page's cards for a level (``level_viewer``), a notice with its attachments
  and its body rendered from Markdown (whoever reads it: who may is checked per request);
- pages: the whole page rendered for a level with stand-ins (shared_pieces.StandIns) — only
  when nothing else on it belongs to the reader (no 安否確認 banner of theirs, no question form,
  no draft's reach): those are rendered for the reader as before.

A signed-in reader's search is made the same way: its page of results per sight (who may read
what: ``logic.sight_of``), words, category and page, the page per level with the reader's own
parts put in; each card's HTML is kept per notice for every page showing it; the reader's
unread marks come from all their read marks, read once for a few seconds (``logic.read_among``).
The number of a search's matches is kept per sight for visitors too (``search_board``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from litestar import MediaType, Request, Response
from litestar.utils.scope.state import ScopeState
from markupsafe import Markup, escape

from chonaikai.accounts.principal import Principal
from chonaikai.notices import attachments as files
from chonaikai.notices import logic
from chonaikai.notices.questions import load_question
from chonaikai.notices.render import normalise_query, render_html
from chonaikai.notices.shared_pieces import (
    CARDS,
    CONFIRM,
    Deflated,
    StandIns,
    csrf_context,
    deflated,
    level_principal,
    shared_pieces,
    stored,
    who_value,
)
from chonaikai.tenancy.scope import Tenant
from chonaikai.web import TEXT_SIZE_COOKIE


def level_viewer(viewer: logic.Viewer) -> logic.Viewer:
    """The viewer without the person: what they may see and do, and the 班 that decides which
    班-only notices they see. Two readers with the same level see the same board."""
    return dataclasses.replace(viewer, account_id=None, household_id=None)


def _page_key(request: Request, principal: Principal, tenant: Tenant, level: logic.Viewer) -> tuple[Any, ...]:
    """Everything a page's frame shows apart from the stand-ins: the level, the roles (menu and
    role names), the text size and the address (the text-size switch comes back to it)."""
    return (level, tuple(sorted(principal.roles_in(tenant.id))), request.cookies.get(TEXT_SIZE_COOKIE, ""),
            request.url.path, request.url.query)


def shareable_frame(request: Request, tenant: Tenant) -> bool:
    """No 安否確認 banner of this association on the page (officers', from safety/banner.py)."""
    return not any(check["association"] == tenant.id for check in request.state.get("safety_open", ()))


def _render(request: Request, template_name: str, context: dict[str, Any], level_who: Principal) -> StandIns:
    template = request.app.template_engine.get_template(template_name)
    return StandIns(template.render({
        **context,
        "request": request,
        **csrf_context(),
        "current_principal": lambda request: level_who,
    }))


def _gzip(request: Request) -> bool:
    return "gzip" in request.headers.get("accept-encoding", "")


def _answer(request: Request, body: str | bytes) -> Response:
    """The page as text, or as gzip made by ``StandIns.fill_gzip``: its fixed parts compressed once
    (compressing a whole 11 KB page took ~0.1 ms a request, the biggest single cost)."""
    if isinstance(body, str):
        return Response(body, media_type=MediaType.HTML)
    # Litestar's compression then passes the answer on as it is (as for its response cache).
    ScopeState.from_scope(request.scope).is_cached = True
    return Response(body, media_type=MediaType.HTML, headers={"content-encoding": "gzip", "vary": "Accept-Encoding"})


def _csrf(request: Request) -> str:
    token = ScopeState.from_scope(request.scope).csrf_token
    return str(escape(token if isinstance(token, str) else ""))


# --- the board --------------------------------------------------------------------------------


@dataclass
class SharedBoard:
    board: logic.Board  # its cards carry no unread marks
    cards_html: list[tuple[str, str]] = field(default_factory=list)  # per card: (read, unread)
    pages: dict[tuple[Any, ...], StandIns] = field(default_factory=dict)
    # The cards as gzip pieces: for the few unread patterns most readers share, the whole list
    # compressed at once; otherwise one piece per card.
    cards_gzip: dict[tuple[bool, ...], Deflated] = field(default_factory=dict)
    card_pieces: list[tuple[Deflated, Deflated]] = field(default_factory=list)
    # A search's page is one of many kept (every word and page): fewer patterns kept whole.
    max_patterns: int = 64

    MAX_PAGES = 16  # frames (per level, text size, address): an address with odd parameters is rendered anew

    def gzip_cards(self, html: list[tuple[str, str]], unread: set[int]) -> Deflated | list[Deflated]:
        pattern = tuple(card.id in unread for card in self.board.cards)
        kept = self.cards_gzip.get(pattern)
        if kept is not None:
            return kept
        if len(self.cards_gzip) < self.max_patterns:
            kept = self.cards_gzip[pattern] = deflated("".join(v[u] for v, u in zip(html, pattern, strict=True)).encode())
            return kept
        if not self.card_pieces:
            self.card_pieces = [(deflated(read.encode()), deflated(unread_.encode())) for read, unread_ in html]
        return [pieces[u] for pieces, u in zip(self.card_pieces, pattern, strict=True)]


async def shared_board(tenant: Tenant, level: logic.Viewer, *, category: str, page: int, archived: bool) -> SharedBoard:
    async def read() -> SharedBoard:
        return SharedBoard(await logic.list_notices(tenant, level, category=category, page=page, archived=archived))

    return await shared_pieces.load((tenant.slug, "board", level, category, page, archived), read)


async def board_for(tenant: Tenant, viewer: logic.Viewer, *, category: str, page: int,
                    archived: bool) -> tuple[SharedBoard, set[int]]:
    """The level's board and the ids of its cards this reader has not opened."""
    shared = await shared_board(tenant, level_viewer(viewer), category=category, page=page, archived=archived)
    return shared, await _unread(tenant, viewer, shared)


async def _unread(tenant: Tenant, viewer: logic.Viewer, shared: SharedBoard,
                  read_of: Callable[..., Awaitable[set[int]]] = logic.read_notice_ids) -> set[int]:
    ids = [card.id for card in shared.board.cards]
    read = await read_of(tenant, viewer, ids) if viewer.reader_known else set(ids)
    return {i for i in ids if i not in read}


async def search_board(tenant: Tenant, viewer: logic.Viewer, *, q: str, category: str, page: int,
                       archived: bool) -> logic.Board:
    """One page of a search for what ``viewer`` may read (their sight, ``logic.sight_of``), the
    number of matches counted once per search and kept with the association's pieces: the
    search's other pages, for anyone with the same sight, then read only their own rows."""
    sight = logic.sight_of(viewer)
    key = (tenant.slug, "search total", sight, tuple(normalise_query(q)), category, archived)
    searches = shared_pieces.searches
    generation = searches.generation
    total = searches.get(key)
    board = await logic.list_notices(tenant, sight, category=category, q=q, page=page, archived=archived,
                                     total=total)
    if total is None:
        searches.keep(key, board.total, generation)
    return board


async def search_for(tenant: Tenant, viewer: logic.Viewer, *, q: str, category: str, page: int,
                     archived: bool) -> tuple[SharedBoard, set[int]]:
    """A signed-in reader's search: its page of results kept per sight, words, category and
    page (``search_board``), and the ids of its cards this reader has not opened. The page
    itself is made per level by ``board_page``, like the board's."""
    async def read() -> SharedBoard:
        board = await search_board(tenant, viewer, q=q, category=category, page=page, archived=archived)
        return SharedBoard(board, max_patterns=4)

    key = (tenant.slug, "search", logic.sight_of(viewer), tuple(normalise_query(q)), category, page, archived)
    shared = await shared_pieces.searches.load(key, read)
    return shared, await _unread(tenant, viewer, shared, logic.read_among)


def with_unread(board: logic.Board, unread: set[int]) -> logic.Board:
    """A copy for one reader (the kept board is never changed)."""
    cards = [dataclasses.replace(card, unread=card.id in unread) for card in board.cards]
    return dataclasses.replace(board, cards=cards)


def _cards_html(request: Request, tenant: Tenant, shared: SharedBoard, base: str) -> list[tuple[str, str]]:
    """Each card read and unread, rendered once per notice for every board and search page
    showing it (kept with the association's other pieces)."""
    if len(shared.cards_html) != len(shared.board.cards):
        key = (tenant.slug, "cards", base)
        known: dict[int, tuple[logic.NoticeCard, tuple[str, str]]] | None = shared_pieces.get(key)
        if known is None:
            known = {}
            shared_pieces.keep(key, known, shared_pieces.generation)
        template = request.app.template_engine.get_template("notices/_card.html")
        html = []
        for card in shared.board.cards:
            seen = known.get(card.id)
            if seen is None or seen[0] != card:  # a card is its notice's row: the same until forgotten
                seen = known[card.id] = (card, (template.render({"card": card, "base": base}), template.render(
                    {"card": dataclasses.replace(card, unread=True), "base": base})))
            html.append(seen[1])
        shared.cards_html = html
    return shared.cards_html


def board_page(request: Request, principal: Principal, tenant: Tenant, shared: SharedBoard, unread: set[int],
               context: dict[str, Any]) -> Response:
    """The whole board page for this reader, from the page rendered for their level."""
    level = context["viewer"]
    key = _page_key(request, principal, tenant, level)
    page = shared.pages.get(key)
    if page is None:
        if len(shared.pages) >= shared.MAX_PAGES:
            shared.pages.clear()
        page = shared.pages[key] = _render(request, "notices/board.html", {**context, "cards_html": CARDS},
                                           level_principal(principal, tenant.id))
    cards = _cards_html(request, tenant, shared, context["base"])
    if _gzip(request):
        return _answer(request, page.fill_gzip({
            "who": stored(who_value(principal).encode()), "csrf": stored(_csrf(request).encode()),
            "cards": shared.gzip_cards(cards, unread), "confirm": _NOTHING,
        }))
    own = "".join(variants[1 if card.id in unread else 0] for card, variants in zip(shared.board.cards, cards, strict=True))
    return _answer(request, page.fill({"who": who_value(principal), "csrf": _csrf(request), "cards": own, "confirm": ""}))


_NOTHING = stored(b"")


# --- a notice ---------------------------------------------------------------------------------


@dataclass
class SharedNotice:
    notice: dict[str, Any]
    context: dict[str, Any]  # what page.html shows of the notice itself
    asks_question: bool
    pages: dict[tuple[Any, ...], StandIns] = field(default_factory=dict)


async def shared_notice(tenant: Tenant, notice_id: int) -> SharedNotice | None:
    """The notice, whoever reads it (who may is checked by the caller, per request)."""
    async def read() -> SharedNotice | None:
        notice = await logic.get_notice(tenant, notice_id)
        if notice is None:
            return None
        return SharedNotice(
            notice=notice,
            context={
                "notice": notice,
                "body_html": render_html(notice["body"]),
                "date": logic.jp_date(notice["published_at"] or notice["updated_at"], with_time=True),
                "edited": logic.jp_date(notice["edited_at"], with_time=True),
                "answer_by": logic.jp_date(notice["answer_by"]),
                "publish_at": logic.jp_date(notice["publish_at"], with_time=True),
                "attachments": await files.list_attachments(tenant, notice_id),
            },
            asks_question=bool(notice.get("question")) and not load_question(notice["question"]).is_confirm,
        )

    return await shared_pieces.load((tenant.slug, "notice", notice_id), read)


def notice_page(request: Request, principal: Principal, tenant: Tenant, shared: SharedNotice,
                context: dict[str, Any], confirm_html: str) -> Response:
    """The whole notice page for this reader, from the page rendered for their level; their
    「読みました」 box (``confirm_html``, rendered for them) put in."""
    key = _page_key(request, principal, tenant, context["viewer"])
    page = shared.pages.get(key)
    if page is None:
        page = shared.pages[key] = _render(request, "notices/page.html", {**context, "confirm_html": CONFIRM},
                                           level_principal(principal, tenant.id))
    if _gzip(request):
        return _answer(request, page.fill_gzip({
            "who": stored(who_value(principal).encode()), "csrf": stored(_csrf(request).encode()),
            "cards": _NOTHING, "confirm": stored(confirm_html.encode()),
        }))
    return _answer(request, page.fill({"who": who_value(principal), "csrf": _csrf(request), "cards": "",
                                       "confirm": confirm_html}))


def confirm_box(request: Request, context: dict[str, Any]) -> str:
    """The 「読みました」 box of one household (its own time, or the button with its CSRF token)."""
    template = request.app.template_engine.get_template("notices/_confirm.html")
    token = _csrf(request)
    return Markup(template.render({**context, "csrf_input": f'<input type="hidden" name="_csrf_token" value="{token}" />'}))


async def categories(tenant: Tenant) -> list[str]:
    """The board's categories (its filter), kept with the association's other pieces."""
    return await shared_pieces.load((tenant.slug, "categories"), lambda: logic.categories(tenant))
