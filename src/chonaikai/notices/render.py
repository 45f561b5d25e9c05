"""A notice body (a small Markdown subset) as safe HTML, as plain text, and as a short excerpt.

markdown-it-py parses (CommonMark, raw HTML switched off) and nh3 (the Rust ``ammonia``
sanitiser) cleans the result against an allow-list, so even a parser bug or a future
option that lets HTML through cannot put a script on a member's phone. The e-mail and LINE
channels use ``plain_text`` and ``excerpt``.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

ALLOWED_TAGS = {
    "p", "br", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "strong", "em", "a",
    "blockquote", "hr", "code", "pre", "table", "thead", "tbody", "tr", "th", "td", "del",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = {"http", "https", "mailto", "tel"}


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    # breaks=True: officers type line breaks in Japanese text and expect to see them.
    md = MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    # Pictures come as attachments (our own files, sized for phones), never from other sites.
    md.disable("image")
    return md


def _tokens(body: str) -> list[Token]:
    tokens = _parser().parse(body or "")
    for token in tokens:
        # The notice title is the page's h1: body headings start one level lower.
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 1, 6)}"
    return tokens


def render_html(body: str) -> Markup:
    """The body as HTML that is safe to put into a page."""
    md = _parser()
    return Markup(sanitise(md.renderer.render(_tokens(body), md.options, {})))


def sanitise(html: str) -> str:
    """Keep only the allow-listed tags, attributes and link schemes of ``html``."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def _inline_text(token: Token) -> str:
    parts: list[str] = []
    href: str | None = None
    link_text: list[str] = []
    for child in token.children or []:
        if child.type == "link_open":
            href = str(child.attrs.get("href", ""))
            link_text = []
            continue
        if child.type == "link_close":
            text = "".join(link_text)
            parts.append(text if not href or href in (text, f"mailto:{text}") else f"{text} ({href})")
            href = None
            continue
        if child.type in ("softbreak", "hardbreak"):
            piece = "\n"
        elif child.type in ("text", "code_inline"):
            piece = child.content
        else:
            continue
        (link_text if href is not None else parts).append(piece)
    return "".join(parts)


def plain_text(body: str) -> str:
    """The body as plain text for e-mail and LINE: paragraphs kept, Markdown marks removed."""
    blocks: list[tuple[str, str]] = []  # (separator before, text)
    list_stack: list[list[int]] = []  # per open list: [next number] or [] for bullets
    prefix = ""
    separator = "\n\n"
    for token in _tokens(body):
        if token.type == "bullet_list_open":
            list_stack.append([])
        elif token.type == "ordered_list_open":
            list_stack.append([int(token.attrs.get("start", 1) or 1)])
        elif token.type in ("bullet_list_close", "ordered_list_close"):
            list_stack.pop()
            separator = "\n\n" if not list_stack else "\n"
        elif token.type == "list_item_open":
            indent = "  " * (len(list_stack) - 1)
            if list_stack and list_stack[-1]:
                prefix = f"{indent}{list_stack[-1][0]}. "
                list_stack[-1][0] += 1
            else:
                prefix = f"{indent}・"
        elif token.type == "inline":
            text = _inline_text(token)
            if prefix:
                text, prefix = prefix + text, ""
            blocks.append((separator, text))
            # Items of a list sit on consecutive lines; other blocks get a blank line between.
            separator = "\n" if list_stack else "\n\n"
        elif token.type in ("fence", "code_block"):
            blocks.append((separator, token.content.rstrip("\n")))
            separator = "\n\n"
        elif token.type == "hr":
            blocks.append((separator, "――――――"))
            separator = "\n\n"
    return "".join(sep + text for sep, text in blocks).strip()


@lru_cache(maxsize=2048)
def excerpt(body: str, n: int = 80) -> str:
    """The start of the body on one line, at most ``n`` characters (ending in … when cut).

    Cached: boards and homepages show the same few excerpts on every view, and parsing
    Markdown was the largest cost of those pages (bench/pages.py)."""
    flat = " ".join(plain_text(body).split())
    if len(flat) <= n:
        return flat
    return flat[: max(n - 1, 0)].rstrip() + "…"


_KATAKANA_TO_HIRAGANA = {code: code - 0x60 for code in range(0x30A1, 0x30F7)}


def fold(text: str) -> str:
    """Text as search compares it: full/half width unified (NFKC), lower case, katakana as
    hiragana — so 「ゴミ」 finds 「ごみ」 and 「ＡＥＤ」 finds 「AED」."""
    return unicodedata.normalize("NFKC", text or "").lower().translate(_KATAKANA_TO_HIRAGANA)


def normalise_query(text: str) -> list[str]:
    """Search words from what a member typed (str.split also splits on the full-width space)."""
    return [word for word in (text or "").split() if word][:5]
