"""Ready texts (文例): Markdown files with TOML front matter in the ``notices/`` folder.

See notices/README.md for the format. Loaded once per process; the folder is small.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from chonaikai.notices.tables import AUDIENCES, DEFAULT_CATEGORIES, VISIBILITIES
from chonaikai.settings import PROJECT_ROOT

READY_TEXTS_DIR = PROJECT_ROOT / "notices"
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
PLACEHOLDER_PATTERN = re.compile(r"【([^【】\n]{1,30})】")


class ReadyTextError(ValueError):
    """A 文例 file is malformed; the message names the file and the problem."""


@dataclass(frozen=True)
class ReadyText:
    name: str
    title: str
    category: str
    description: str
    placeholders: tuple[str, ...]
    body: str
    needs_confirmation: bool = False
    urgent: bool = False
    audience: str = "all"
    visibility: str = "members"
    # The question a notice from this 文例 asks (notices.questions, e.g. {kind = "attendance"}).
    question: dict | None = None

    def fill(self, values: dict[str, str]) -> tuple[str, str]:
        """Title and body with the given placeholders replaced; others stay as 【name】."""

        def replace(match: re.Match[str]) -> str:
            value = values.get(match.group(1), "").strip()
            return value or match.group(0)

        return PLACEHOLDER_PATTERN.sub(replace, self.title), PLACEHOLDER_PATTERN.sub(replace, self.body)


def unfilled_placeholders(text: str) -> list[str]:
    """The 【…】 marks still in a text, in order, each once (the preview warns about them)."""
    seen: dict[str, None] = {}
    for match in PLACEHOLDER_PATTERN.finditer(text or ""):
        seen.setdefault(match.group(1), None)
    return list(seen)


def parse_ready_text(name: str, source: str) -> ReadyText:
    where = f"notices/{name}.md"
    if not NAME_PATTERN.match(name):
        raise ReadyTextError(f"{where}: file name must be lower-case ASCII letters, digits and '-'")
    lines = source.replace("\r\n", "\n").split("\n")
    if not lines or lines[0].strip() != "+++":
        raise ReadyTextError(f"{where}: must start with a '+++' line (TOML front matter)")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "+++")
    except StopIteration:
        raise ReadyTextError(f"{where}: front matter has no closing '+++' line") from None
    try:
        meta = tomllib.loads("\n".join(lines[1:end]))
    except tomllib.TOMLDecodeError as error:
        raise ReadyTextError(f"{where}: front matter is not valid TOML: {error}") from None
    body = "\n".join(lines[end + 1 :]).strip() + "\n"

    for key in ("title", "category", "placeholders"):
        if key not in meta:
            raise ReadyTextError(f"{where}: front matter needs '{key}'")
    title, category, placeholders = meta["title"], meta["category"], meta["placeholders"]
    if not isinstance(title, str) or not title.strip():
        raise ReadyTextError(f"{where}: 'title' must be a non-empty string")
    if category not in DEFAULT_CATEGORIES:
        raise ReadyTextError(f"{where}: 'category' must be one of {', '.join(DEFAULT_CATEGORIES)}")
    if not isinstance(placeholders, list) or not all(isinstance(p, str) and p for p in placeholders):
        raise ReadyTextError(f"{where}: 'placeholders' must be a list of names")
    audience = meta.get("audience", "all")
    visibility = meta.get("visibility", "members")
    if audience not in AUDIENCES or audience == "han":
        raise ReadyTextError(f"{where}: 'audience' must be all or officers")
    if visibility not in VISIBILITIES:
        raise ReadyTextError(f"{where}: 'visibility' must be public or members")
    question = meta.get("question")
    if question is not None:
        from chonaikai.notices.questions import QuestionError, parse_question

        try:
            parse_question(question)
        except QuestionError as error:
            raise ReadyTextError(f"{where}: 'question' is not a valid question: {error.en}") from None
    used = set(unfilled_placeholders(title + "\n" + body))
    missing = [p for p in placeholders if p not in used]
    if missing:
        raise ReadyTextError(f"{where}: placeholders not used as 【name】 in the text: {', '.join(missing)}")
    unlisted = sorted(used - set(placeholders))
    if unlisted:
        raise ReadyTextError(f"{where}: 【…】 marks not listed in 'placeholders': {', '.join(unlisted)}")
    return ReadyText(
        name=name,
        title=title.strip(),
        category=category,
        description=str(meta.get("description", "")),
        placeholders=tuple(placeholders),
        body=body,
        needs_confirmation=bool(meta.get("needs_confirmation", False)),
        urgent=bool(meta.get("urgent", False)),
        audience=audience,
        visibility=visibility,
        question=dict(question) if question else None,
    )


def load_ready_texts(directory: Path = READY_TEXTS_DIR) -> dict[str, ReadyText]:
    """Every 文例 in ``directory`` by name; raises ReadyTextError on the first bad file."""
    texts: dict[str, ReadyText] = {}
    for path in sorted(directory.glob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        texts[path.stem] = parse_ready_text(path.stem, path.read_text(encoding="utf-8"))
    return texts


@lru_cache(maxsize=1)
def ready_texts() -> dict[str, ReadyText]:
    return load_ready_texts()


def get_ready_text(name: str) -> ReadyText | None:
    return ready_texts().get(name)


@lru_cache(maxsize=1)
def placeholder_names() -> frozenset[str]:
    """Every placeholder of every 文例: left in a notice, it was meant to be filled in."""
    return frozenset(name for text in ready_texts().values() for name in text.placeholders)
