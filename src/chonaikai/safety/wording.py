"""The words of 安否確認, shipped in ``notices/safety/wording.toml`` (やさしい日本語)."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from typing import Any

from chonaikai.settings import PROJECT_ROOT

WORDING_FILE = PROJECT_ROOT / "notices" / "safety" / "wording.toml"


@lru_cache(maxsize=1)
def wording() -> dict[str, Any]:
    with WORDING_FILE.open("rb") as file:
        return tomllib.load(file)


def default_title() -> str:
    return wording()["default_title"]


def drill_label() -> str:
    return wording()["drill_label"]


def full_title(title: str, drill: bool) -> str:
    """The title households see; a drill says so first (【訓練】地震の安否確認)."""
    return f"【{drill_label()}】{title}" if drill else title


def body(association_name: str, message: str, drill: bool) -> str:
    text = wording()["drill_body" if drill else "body"].strip().format(association=association_name)
    message = message.strip()
    return f"{message}\n\n{text}" if message else text


def choices() -> dict[str, str]:
    """value → the text on the member's button (safe → 無事です)."""
    return dict(wording()["choices"])


def answer_labels() -> dict[str, str]:
    return dict(wording()["answer_labels"])


def notes() -> dict[str, str]:
    return dict(wording()["notes"])


def checklist() -> dict[str, str]:
    return dict(wording()["checklist"])


def via_labels() -> dict[str, str]:
    return dict(wording()["via_labels"])


def reply(key: str) -> str:
    return wording()["replies"][key]
