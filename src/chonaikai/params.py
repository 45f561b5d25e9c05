"""Ids and numbers from links and forms: ASCII digits only, in the range a database id can hold.

``str.isdigit()`` is true for ``²``, ``①`` and other scripts' digits, which ``int()`` then refuses
(a 500), and ``int()`` itself accepts ``" 1"``, ``"+1"`` and ``"1_000"``. Every route reading a
number from the query or a form goes through here and answers 400 (or finds nothing: 404).
"""

from __future__ import annotations

from litestar.exceptions import ValidationException

MAX_ID = 2**31 - 1  # PostgreSQL integer; SQLite overflows past 2^63 anyway
_ASCII_DIGITS = frozenset("0123456789")


def ascii_int(text: object, maximum: int = MAX_ID) -> int | None:
    """``text`` as a non-negative integer when it is 1–10 ASCII digits not above ``maximum``; else None."""
    if not isinstance(text, str) or not 0 < len(text) <= 10 or not set(text) <= _ASCII_DIGITS:
        return None
    value = int(text)
    return value if value <= maximum else None


def optional_int(text: object, what: str = "数") -> int | None:
    """An optional number from a query or form: "" (or missing) is None, anything else must be
    ASCII digits, or the request is refused with 400."""
    if text is None or text == "":
        return None
    value = ascii_int(text)
    if value is None:
        raise ValidationException(f"{what}の指定が正しくありません")
    return value


def is_id(text: object) -> bool:
    return ascii_int(text) is not None
