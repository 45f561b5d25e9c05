"""文例: every file in notices/ parses, uses its placeholders, and fills the posting form."""

import re

import pytest

from chonaikai.accounts.roles import Role
from chonaikai.notices.ready_texts import (
    PLACEHOLDER_PATTERN,
    READY_TEXTS_DIR,
    ReadyTextError,
    load_ready_texts,
    parse_ready_text,
    unfilled_placeholders,
)
from chonaikai.notices.tables import DEFAULT_CATEGORIES
from tests.notices.helpers import sign_in_officer

REQUIRED_TOPICS = ["総会", "一斉清掃", "防災訓練", "会費", "ごみ当番", "市からのお知らせ", "祭り", "役員会", "訃報", "防犯"]


def test_every_ready_text_parses_and_uses_its_placeholders():
    texts = load_ready_texts()
    assert len(texts) >= 10
    for text in texts.values():
        assert text.title and text.category in DEFAULT_CATEGORIES, text.name
        assert text.placeholders, f"{text.name} has no placeholders"
        marks = set(PLACEHOLDER_PATTERN.findall(text.title + text.body))
        assert marks == set(text.placeholders), text.name
        filled_title, filled_body = text.fill({name: "★" for name in text.placeholders})
        assert unfilled_placeholders(filled_title + filled_body) == [], text.name


def test_the_topics_the_issue_names_are_all_there():
    titles = " ".join(text.title for text in load_ready_texts().values())
    for topic in REQUIRED_TOPICS:
        assert topic in titles, topic


def test_every_md_file_in_the_folder_is_loaded():
    files = {p.stem for p in READY_TEXTS_DIR.glob("*.md") if p.name != "README.md"}
    assert set(load_ready_texts()) == files


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("title = 'x'\n", "must start with a '+++'"),
        ("+++\ntitle = 'x'\n", "no closing"),
        ("+++\ntitle = 'x'\ncategory = '行事'\n+++\n本文", "needs 'placeholders'"),
        ("+++\ntitle = 'x'\ncategory = '天気'\nplaceholders = []\n+++\n本文", "'category'"),
        ("+++\ntitle = 'x'\ncategory = '行事'\nplaceholders = ['日時']\n+++\n本文", "not used"),
        ("+++\ntitle = 'x'\ncategory = '行事'\nplaceholders = []\n+++\n【場所】で", "not listed"),
        ("+++\ntitle = \n+++\n", "not valid TOML"),
    ],
)
def test_a_broken_ready_text_is_refused_with_the_reason(source, problem):
    with pytest.raises(ReadyTextError, match=re.escape(problem)):
        parse_ready_text("broken", source)


async def test_choosing_a_ready_text_fills_the_form_without_javascript(client, tenant):
    await sign_in_officer(client, tenant, Role.EDITOR, "editor@example.jp")
    response = await client.get("/a/sakura/notices/new?from=issei-seisou")
    assert response.status_code == 200
    assert 'value="一斉清掃のお知らせ"' in response.text
    assert "【集合場所】" in response.text  # the body, ready to be filled in
    assert '<option value="行事" selected>' in response.text


async def test_choosing_a_ready_text_with_htmx_returns_only_the_form(client, tenant):
    await sign_in_officer(client, tenant, Role.EDITOR, "editor@example.jp")
    response = await client.get(
        "/a/sakura/notices/new?from=bousai-kunren", headers={"HX-Request": "true", "HX-Target": "notice-form"}
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<form id="notice-form"')
    assert "防災訓練のお知らせ" in response.text


async def test_an_unknown_ready_text_says_so(client, tenant):
    await sign_in_officer(client, tenant)
    response = await client.get("/a/sakura/notices/new?from=nothing-here")
    assert response.status_code == 200
    assert "その文例は見つかりませんでした" in response.text
