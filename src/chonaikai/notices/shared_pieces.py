"""Signed-in pages of the board, rendered once per visibility level and per process.

A signed-in member's board and notice pages are never kept whole (page_cache.py keeps only pages
rendered for nobody): they carry the member's name, menu and CSRF token, and the board its
unread marks. But everything else on them is the same for every reader who may see the same
things, so it is kept here, per web process:

- the notices' data (a board page's cards, a notice with its attachments and its body rendered
  from Markdown) per association;
- whole pages rendered for a **level** — the reader's roles in the association and, for a
  member, their 班 (which decides the 班-only notices they see) — never for a person: with
  stand-ins where the person's own values go (``StandIns``), put in per request. A level
  principal (``level_principal``) holds only roles: no account, household, name or address.

Kept like the public pages (CHONAIKAI_PAGE_CACHE_SECONDS, 30 s) and forgotten with them: at
once after a write through this process, within about a second after a change anywhere
(page_changes.py). A render that began before such a forget is not kept (``generation``).
"""

from __future__ import annotations

import re
import secrets
import struct
import time
import zlib
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from chonaikai.accounts.principal import Grant, Principal
from chonaikai.kept import KeptValues

_MARK = "s" + secrets.token_hex(12)
WHO = Markup(f"{_MARK}who")  # the signed-in person's e-mail address (or 「世帯としてログイン中」)
CSRF = Markup(f"{_MARK}csrf")  # the request's CSRF token
CARDS = Markup(f"{_MARK}cards")  # the board's cards, with this reader's unread marks
CONFIRM = Markup(f"{_MARK}confirm")  # a notice's 「読みました」 box, for this household
_SPLIT = re.compile(f"({_MARK}(?:who|csrf|cards|confirm))")


@dataclass(frozen=True)
class Deflated:
    """A piece of a page and the same piece as raw deflate, compressed on its own and ending on a
    byte boundary (a full flush): such pieces can follow each other in one deflate stream in any
    order, so a page's fixed parts are compressed once and a request only joins them."""

    raw: bytes
    deflated: bytes


def deflated(raw: bytes, level: int = 6) -> Deflated:
    compressor = zlib.compressobj(level, zlib.DEFLATED, -15)
    return Deflated(raw, compressor.compress(raw) + compressor.flush(zlib.Z_FULL_FLUSH))


def stored(raw: bytes) -> Deflated:
    """Not compressed (stored blocks): for the few bytes of a name or token."""
    blocks = [
        b"\x00" + struct.pack("<HH", len(chunk), len(chunk) ^ 0xFFFF) + chunk
        for chunk in (raw[i:i + 0xFFFF] for i in range(0, len(raw), 0xFFFF))
    ]
    return Deflated(raw, b"".join(blocks))


_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # no name, no time, "unknown" OS
_LAST_BLOCK = b"\x03\x00"  # an empty final block


def gzip_join(pieces: Sequence[Deflated]) -> bytes:
    """One gzip member (RFC 1952) of the pieces in order: what a browser gets for the whole page."""
    crc = size = 0
    out = [_GZIP_HEADER]
    for piece in pieces:
        crc = zlib.crc32(piece.raw, crc)
        size += len(piece.raw)
        out.append(piece.deflated)
    out.append(_LAST_BLOCK)
    out.append(struct.pack("<II", crc, size & 0xFFFFFFFF))
    return b"".join(out)


class StandIns:
    """A page rendered with stand-ins, split at them once: filled per request by joining, as
    text or as gzip (its fixed parts compressed once, the reader's own values added)."""

    __slots__ = ("_deflated", "parts")

    def __init__(self, page: str) -> None:
        self.parts = _SPLIT.split(page)
        self._deflated: list[Deflated] | None = None

    def fill(self, values: Mapping[str, str]) -> str:
        parts = self.parts
        out = [parts[0]]
        for i in range(1, len(parts), 2):
            out.append(values[parts[i][len(_MARK):]])
            out.append(parts[i + 1])
        return "".join(out)

    def fill_gzip(self, values: Mapping[str, Deflated | Sequence[Deflated]]) -> bytes:
        if self._deflated is None:
            self._deflated = [deflated(part.encode()) for part in self.parts[::2]]
        fixed = self._deflated
        pieces: list[Deflated] = [fixed[0]]
        for i in range(1, len(self.parts), 2):
            value = values[self.parts[i][len(_MARK):]]
            if isinstance(value, Deflated):
                pieces.append(value)
            else:
                pieces.extend(value)
            pieces.append(fixed[(i + 1) // 2])
        return gzip_join(pieces)

    def __contains__(self, text: str) -> bool:
        return any(text in part for part in self.parts[::2])


def csrf_context() -> dict[str, Any]:
    """What Litestar's Template gives a template for CSRF, with the stand-in instead of the token."""
    return {"csrf_input": f'<input type="hidden" name="_csrf_token" value="{CSRF}" />', "csrf_token": lambda: CSRF}


def level_of(principal: Principal, association_id: int, han_id: int | None) -> tuple[Hashable, ...]:
    """What decides a signed-in page apart from the person: roles here, and the 班 of a member."""
    return (tuple(sorted(principal.roles_in(association_id))), han_id)


def level_principal(principal: Principal, association_id: int) -> Principal:
    """A principal holding only the roles ``principal`` has in the association, named by the
    stand-in: menus and role names render exactly as for the person, nothing else can."""
    roles = sorted(principal.roles_in(association_id))
    return Principal(email=str(WHO), grants=tuple(Grant(role, association_id=association_id) for role in roles))


def who_value(principal: Principal) -> str:
    return str(escape(principal.email or "世帯としてログイン中"))


class SharedPieces(KeptValues):
    """Keys begin with the association's slug (what ``forget`` goes by).

    Searches (their pages of results and their counts) are kept apart, in ``searches``, with
    entries of their own: anyone, a visitor too, can ask for new words without end, and filling
    the one store would empty it of every level's board and notice pages as well. The two are
    kept as long and forgotten together."""

    def __init__(self, seconds: float | None = None, max_entries: int = 5000,
                 clock: Callable[[], float] = time.monotonic, search_entries: int = 5000) -> None:
        super().__init__(seconds, max_entries, clock, setting="page_cache_seconds")
        self.searches = _Searches(self, search_entries)

    def forget(self, slug: str | None) -> None:
        """An association's pieces (``None``: every association's)."""
        matches = None if slug is None else lambda key: key[0] == slug  # type: ignore[index]
        self.forget_where(matches)
        self.searches.forget_where(matches)


class _Searches(KeptValues):
    """``SharedPieces.searches``: kept as long as the pieces they go with."""

    def __init__(self, pieces: SharedPieces, max_entries: int) -> None:
        super().__init__(None, max_entries, pieces.clock)
        self.pieces = pieces

    @property  # type: ignore[override]
    def seconds(self) -> float:
        return self.pieces.seconds


shared_pieces = SharedPieces()
