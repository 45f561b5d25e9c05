"""Word search on the notice board: the text kept for search and the text index over it.

What is searched is ``notice.search_text``: the title and body folded (full/half width
unified, lower case, katakana as hiragana) followed by their kana reading, so 「せいそう」 and
「セイソウ」 find 一斉清掃 and 「ごみとうばん」 finds ごみ当番. Whoever saves a notice calls
``search_text(title, body)`` for that column (notices.logic, the circular forwarding); the index
follows the column by itself:

- SQLite: an FTS5 table with the trigram tokenizer (``notice_fts``), kept by triggers on
  ``notice`` (insert, update of search_text, delete) — no code path can forget it.
- PostgreSQL: a ``pg_trgm`` GIN index on ``notice.search_text`` (an ordinary index: it follows
  every write).

Trigrams need three characters. A word of two characters (清掃, 会費: common in Japanese) is
found on SQLite through the trigrams that begin with it: FTS5's own list of its terms
(``notice_fts_terms``, an fts5vocab table) gives them by a range read (清掃 → 清掃の, 清掃に, …) and
the index is asked for any of them. search_text ends with a line break, so a word at the very
end still begins a trigram. On PostgreSQL (pg_trgm cannot) and for one character on both, the
association's rows are scanned. Archiving changes only the status: searching still finds
archived notices (past notices must be easy to find again).

What the board does with it (notices.logic.list_notices): the count of matches and the ids of
one page, both in SQL; only the page's rows are read. On SQLite the board's index also holds
visibility, audience and category, so neither the count nor the skipped rows of a later page
read the table (see docs/performance.md, "Search (issue 20)"). The count is made once per
search and sight and kept with the association's pieces (notices.signed_in.search_board), so
a search's other pages only read their rows, in the order of ``notice_search_order`` (below),
stopping at the page's last match.

Readings come from SudachiPy with its small dictionary (measured on the 文例 in notices/, see
docs/performance.md): it read 26 of 28 association words as we would (集会所, 避難所 came out
as しゅうかいしょ, ひなんしょ — both in use) and 集積所 as しゅうせきしょ where pykakasi said
しゅうせきところ; 1.4 µs a character against pykakasi's 20; its dictionary is a memory-mapped
file (shared between processes, ~9 MB of private memory) where pykakasi built 122 MB per
process. It is loaded on the first save, not at start-up.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from chonaikai.db import is_postgres
from chonaikai.notices.render import fold

TRIGRAM = 3
LAST_CHARACTER = "\U0010ffff"  # terms (trigrams) beginning with a word w sort from w to w + this
# SudachiPy refuses inputs over ~49 KB; notices are cut into lines and long lines into pieces.
_PIECE = 2000
_KANJI = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3005\u3006]")  # 々 and 〆 are read too
_local = threading.local()


def _tokenizer() -> Any:
    tokenizer = getattr(_local, "tokenizer", None)
    if tokenizer is None:
        from sudachipy import Dictionary, SplitMode

        dictionary = Dictionary(dict="small")
        make = getattr(dictionary, "tokenizer", None) or dictionary.create  # 0.7 renamed create()
        tokenizer = (make(mode=SplitMode.C), dictionary)
        _local.tokenizer = tokenizer  # the dictionary must outlive its tokenizer
    return tokenizer[0]


def reading(text: str) -> str:
    """The kana reading (hiragana) of ``text``'s words written with kanji, other words as they are."""
    if not text or not _KANJI.search(text):
        return ""
    tokenizer = _tokenizer()
    out: list[str] = []
    for line in text.splitlines():
        if not _KANJI.search(line):
            continue
        for start in range(0, len(line), _PIECE):
            for morpheme in tokenizer.tokenize(line[start : start + _PIECE]):
                surface = morpheme.surface()
                out.append(morpheme.reading_form() if _KANJI.search(surface) else surface)
        out.append("\n")
    return fold("".join(out)).strip()


def search_text(title: str, body: str) -> str:
    """What ``notice.search_text`` holds: the folded text, then its reading."""
    text = (title or "") + "\n" + (body or "")
    return fold(text) + "\n\n" + reading(text) + "\n"  # the last line break: see the module's doc


def _phrase(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def _like_pattern(word: str) -> str:
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def word_clause(word: str) -> tuple[str, list[Any]]:
    """SQL (with ``{}`` placeholders, for ``WhereRaw``) true for the notices holding ``word``.

    Rows whose search_text was never written (made by code that does not call
    ``search_text``) are still found by their raw title and body, through a partial index of
    exactly those rows."""
    folded = fold(word)
    lowered = word.lower()
    if is_postgres():
        # On the row itself (no sub-select): PostgreSQL combines the GIN trigram index and the
        # partial index of unfolded rows (BitmapOr) when the word is rare, and reads the
        # association's rows when it is common. A self-join chose a 20 s plan on fresh statistics.
        unfolded = "(strpos(lower(notice.title), {}) > 0 OR strpos(lower(notice.body), {}) > 0)"
        if len(folded) >= TRIGRAM:
            clause = f"(notice.search_text LIKE {{}} OR (notice.search_text = '' AND {unfolded}))"
            return clause, [_like_pattern(folded), lowered, lowered]
        clause = f"(strpos(notice.search_text, {{}}) > 0 OR (notice.search_text = '' AND {unfolded}))"
        return clause, [folded, lowered, lowered]
    if len(folded) < TRIGRAM - 1:  # one character: the association's rows (the outer query's)
        unfolded = "(instr(lower(notice.title), {}) > 0 OR instr(lower(notice.body), {}) > 0)"
        clause = f"(instr(notice.search_text, {{}}) > 0 OR (notice.search_text = '' AND {unfolded}))"
        return clause, [folded, lowered, lowered]
    unfolded = "(instr(lower(n2.title), {}) > 0 OR instr(lower(n2.body), {}) > 0)"
    if len(folded) >= TRIGRAM:  # the FTS5 trigram table
        indexed = "SELECT rowid FROM notice_fts WHERE notice_fts MATCH {}"
        args = [_phrase(folded)]
    else:  # two characters: any trigram that begins with them (none: the phrase, which matches nothing)
        indexed = (
            "SELECT rowid FROM notice_fts WHERE notice_fts MATCH (SELECT coalesce(group_concat("
            "'\"' || replace(term, '\"', '\"\"') || '\"', ' OR '), {}) "
            "FROM notice_fts_terms WHERE term >= {} AND term <= {})"
        )
        args = [_phrase(folded), folded, folded + LAST_CHARACTER]
    # "+notice.id": not a lookup of each match's row by id (what SQLite picks once ANALYZE has
    # run), but a walk of the association's entries in the board index, which holds every
    # column the search filters by; ~1.7 µs a match against ~0.15 µs an entry of the board
    # (docs/performance.md).
    clause = (
        f"+notice.id IN ({indexed} UNION ALL "
        f"SELECT n2.id FROM notice n2 WHERE n2.search_text = '' AND {unfolded})"
    )
    return clause, [*args, lowered, lowered]


# --- the index itself (created by the notices migration "text index") -----------------------

SQLITE_CREATE = [
    "CREATE VIRTUAL TABLE notice_fts USING fts5(search_text, content='notice', content_rowid='id', "
    "tokenize='trigram')",
    "CREATE TRIGGER notice_fts_insert AFTER INSERT ON notice BEGIN "
    "INSERT INTO notice_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER notice_fts_delete AFTER DELETE ON notice BEGIN "
    "INSERT INTO notice_fts(notice_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER notice_fts_update AFTER UPDATE OF search_text ON notice BEGIN "
    "INSERT INTO notice_fts(notice_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO notice_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "INSERT INTO notice_fts(notice_fts) VALUES ('rebuild')",
    "CREATE INDEX notice_unfolded ON notice (id) WHERE search_text = ''",
]
SQLITE_DROP = [
    "DROP INDEX notice_unfolded",
    "DROP TRIGGER notice_fts_update",
    "DROP TRIGGER notice_fts_delete",
    "DROP TRIGGER notice_fts_insert",
    "DROP TABLE notice_fts",
]
# pg_trgm is a trusted extension (PostgreSQL 13+): the database's owner may create it, no
# superuser needed (Fly's and most managed PostgreSQL allow it).
POSTGRES_CREATE = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX notice_search_trgm ON notice USING gin (search_text gin_trgm_ops)",
    "CREATE INDEX notice_unfolded ON notice (id) WHERE search_text = ''",
]
POSTGRES_DROP = ["DROP INDEX notice_unfolded", "DROP INDEX notice_search_trgm"]


async def backfill(table: Any, batch: int = 500) -> int:
    """Write search_text (with readings) for every notice: rows saved before readings existed."""
    done = 0
    last = 0
    while True:
        rows = await table.raw(
            "SELECT id, title, body FROM notice WHERE id > {} ORDER BY id LIMIT {}", last, batch
        )
        if not rows:
            return done
        for row in rows:
            await table.raw(
                "UPDATE notice SET search_text = {} WHERE id = {}",
                search_text(row["title"], row["body"]), row["id"],
            )
        last = rows[-1]["id"]
        done += len(rows)



# --- created by the notices migration "search: two-character words, counts without rows" ----

# The board's index, also holding what a search filters by (visibility, audience, category):
# counting a common word's matches and skipping to a later page then read only the index.
# SQLite only: on PostgreSQL the pattern is checked on the row anyway.
_BOARD_INDEX = "CREATE INDEX notice_board_order ON notice (association, status, urgent, pinned, published_at, id{})"
SQLITE_TERMS_CREATE = [
    "CREATE VIRTUAL TABLE notice_fts_terms USING fts5vocab(notice_fts, 'row')",
    "DROP INDEX notice_board_order",
    _BOARD_INDEX.format(", visibility, audience, category"),
]
SQLITE_TERMS_DROP = [
    "DROP INDEX notice_board_order",
    _BOARD_INDEX.format(""),
    "DROP TABLE notice_fts_terms",
]
# search_text ends with a line break (search_text()): rows written before get theirs.
END_WITH_LINE_BREAK = {
    "sqlite": "UPDATE notice SET search_text = search_text || char(10) "
    "WHERE search_text <> '' AND substr(search_text, -1) <> char(10)",
    "postgres": "UPDATE notice SET search_text = search_text || chr(10) "
    "WHERE search_text <> '' AND right(search_text, 1) <> chr(10)",
}


# --- created by the notices migration "search: pages in board order" -----------------------

# The board's order without the status first: a search shows published and archived notices
# together, which the board index (association, status, …) gives only as two runs to be sorted
# together (every match read and sorted to show 20). In this order a search's page is read from
# its start and stops at its last match: a common word's page reads ~20 rows a page deep
# instead of every match (PostgreSQL: ~30 % less per page over the bench's searches, more for
# the commonest; SQLite, covering the filters too: ~15 %, the text index's own work being the
# rest). A rare word is still found through the text index and sorted (the planner's choice).
SEARCH_ORDER_CREATE = {
    "sqlite": "CREATE INDEX notice_search_order ON notice "
    "(association, urgent, pinned, published_at, id, status, visibility, audience, category)",
    "postgres": "CREATE INDEX notice_search_order ON notice (association, urgent, pinned, published_at, id)",
}
SEARCH_ORDER_DROP = "DROP INDEX notice_search_order"
