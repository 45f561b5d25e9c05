"""Roster CSV files that answered 500 or were silently misread (issue 14, Low): a cell over
131,072 characters, an unclosed quote, NUL bytes. Each gets a Japanese error naming its row, and
nothing is written."""

from __future__ import annotations

import pytest

from chonaikai.accounts.principal import Access, Principal
from chonaikai.accounts.roles import Permission, Role
from chonaikai.roster import csv_io
from chonaikai.roster.tables import Household
from tests.auth import csrf_headers, sign_in_as
from tests.factories import make_household

FULL = Access(Permission.ROSTER_IMPORT, han_ids=None)
ACTOR = Principal(account_id=None)
HEADER = "番号,世帯主,フリガナ,班,住所,電話,メール,連絡方法,備考"
GOOD = ",試作 春子,シサク ハルコ,1班,桜町3-1,024-111-2222,haru@example.jp,メール,"

CASES = {
    "huge_cell": (f"{HEADER}\r\n{GOOD}\r\n,大きな 備考,,1班,,,,紙,{'あ' * 140_000}\r\n", 3),
    "unclosed_quote": (f'{HEADER}\r\n{GOOD}\r\n,"閉じない 引用,,1班,,,,紙,\r\n,手本 修,,2班,,,,紙,\r\n', 3),
    "nul_byte": (f"{HEADER}\r\n{GOOD}\r\n,手本\x00修,,2班,,,,紙,\r\n", 3),
}


@pytest.mark.parametrize("case", CASES)
async def test_each_bad_file_gets_a_row_numbered_error_and_changes_nothing(client, tenant, case):
    await make_household(tenant, "見本 太郎", han="1班")
    text, row = CASES[case]
    data = text.encode("utf-8")
    plan = await csv_io.plan_import(tenant, FULL, data)
    assert not plan.ok, case
    assert any(error.row == row for error in plan.errors), (case, [str(e) for e in plan.errors])
    assert all(any("\u3040" <= ch <= "\u30ff" for ch in error.message) for error in plan.errors)  # Japanese
    before = await Household.select().order_by(Household.id)
    with pytest.raises(csv_io.ImportRefused):
        await csv_io.apply_import(tenant, FULL, ACTOR, data, create_missing_han=True)
    assert await Household.select().order_by(Household.id) == before

    # and through the page: the preview names the row, no 500
    await sign_in_as(client, "chair@example.jp", Role.CHAIR, tenant)
    preview = await client.post("/a/sakura/roster/import", files={"file": ("meibo.csv", data, "text/csv")},
                                headers=await csrf_headers(client))
    assert preview.status_code == 400, (case, preview.status_code)
    assert f"<tr><td>{row}</td>" in preview.text and "直すところがあります" in preview.text, case
