"""Ids and numbers in links and forms are ASCII digits or nothing (issue 14, Low): ``²`` or ``①``
passed ``str.isdigit()`` and then failed ``int()`` with a 500. One parser (chonaikai/params.py)
answers 400/404 instead, on every route that reads one."""

from __future__ import annotations

from pathlib import Path

import pytest

from chonaikai.accounts.roles import Role
from chonaikai.params import ascii_int
from chonaikai.roster.tables import Han
from tests.auth import csrf_headers, sign_in_as
from tests.delivery.helpers import make_notice
from tests.factories import make_household

ODD = ["²", "①", "١", "12³", " 1", "+1", "-1", "1_000", "99999999999999999999"]


def test_only_ascii_digits_are_numbers():
    assert ascii_int("12") == 12 and ascii_int("0") == 0 and ascii_int("2147483647") == 2147483647
    for text in [*ODD, "", "abc", "1.5", "１２", "2147483648"]:
        assert ascii_int(text) is None, text


@pytest.fixture
async def signed_in(client, tenant):
    await make_household(tenant, "山田", han="1班", channel="paper")
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    notice = await make_notice(tenant, "回覧のお知らせ")
    han = (await tenant.select(Han, Han.id).where(Han.name == "1班").first())["id"]
    return notice, han


@pytest.mark.parametrize("value", ["²", "①"])
async def test_each_listed_parameter_with_a_unicode_digit_is_a_4xx(client, tenant, signed_in, value):
    notice, han = signed_in
    n = f"/a/sakura/notices/{notice}"
    gets = [
        f"/a/sakura/roster?han={value}",
        f"/a/sakura/roster/export.csv?han={value}",
        f"{n}/receipts?han={value}",
        f"{n}/receipts?resent={value}",
        f"{n}/receipts?too_soon={value}",
        f"{n}/print?han={value}",
        f"{n}/print.pdf?han={value}",
        f"{n}/print/confirmations?han={value}",
    ]
    for path in gets:
        response = await client.get(path, headers={"accept": "text/html"})
        assert 400 <= response.status_code < 500, (path, response.status_code)
    headers = await csrf_headers(client)
    posts = [
        (f"{n}/print/printed", {"han": value}),
        (f"{n}/print/confirmations", {"han": str(han), "confirmed": value}),
        (f"{n}/print/confirmations", {"han": value}),
        ("/a/sakura/officers/invite", {"email": "han@example.jp", "role": "han_leader", "han": value}),
    ]
    for path, form in posts:
        response = await client.post(path, data=form, headers={**headers, "accept": "text/html"})
        assert 400 <= response.status_code < 500 or (
            response.status_code == 303 and "error" in response.headers.get("location", "")
        ), (path, form, response.status_code)


def test_no_other_place_parses_digits_by_itself():
    """str.isdigit() accepts ² and ①: every number goes through chonaikai.params instead."""
    root = Path(__file__).resolve().parents[2] / "src" / "chonaikai"
    offenders = [
        f"{path.relative_to(root)}:{number}"
        for path in root.rglob("*.py")
        if path.name != "params.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if ".isdigit()" in line
    ]
    assert offenders == []
