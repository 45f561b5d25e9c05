"""CSV import and export: encodings, columns, errors in the preview (in Japanese, with Excel's row
numbers), all-or-nothing, re-import changes nothing, export round-trip, formula cells."""

from __future__ import annotations

import base64

from chonaikai.accounts.principal import Access, Principal
from chonaikai.accounts.roles import Permission, Role
from chonaikai.accounts.tables import AuditEntry
from chonaikai.roster import csv_io
from chonaikai.roster.tables import Han, Household, Member
from tests.auth import csrf_headers, sign_in_as
from tests.roster.conftest import han_id

FULL = Access(Permission.ROSTER_IMPORT, han_ids=None)
ACTOR = Principal(account_id=None)
HEADER = "番号,世帯主,フリガナ,班,住所,電話,メール,連絡方法,備考"
GOOD_ROWS = [
    ",試作 春子,シサク ハルコ,1班,桜町3-1,024-111-2222,haru@example.jp,メール,",
    ",手本 修,テホン オサム,2班,桜町3-2,,,紙,足が悪いので玄関まで",
    ",雛形 和子,ヒナガタ カズコ,,桜町3-3,,,LINE,",
]


def csv_text(*rows: str, header: str = HEADER) -> str:
    return "\r\n".join([header, *rows]) + "\r\n"


async def snapshot(tenant) -> list[dict]:
    return await tenant.select(Household).order_by(Household.id)


async def assert_refused_and_unchanged(tenant, data: bytes) -> None:
    """Confirming a bad file is refused and leaves the roster exactly as it was."""
    before = await snapshot(tenant)
    try:
        await csv_io.apply_import(tenant, FULL, ACTOR, data, create_missing_han=True)
    except csv_io.ImportRefused:
        pass
    else:
        raise AssertionError("a bad file was imported")
    assert await snapshot(tenant) == before
    assert await tenant.count(Han) == 3


async def test_utf8_bom_and_cp932_and_utf16_all_read_the_same(tenant):
    text = csv_text(*GOOD_ROWS)
    encodings = {
        "UTF-8": text.encode("utf-8"),
        "UTF-8 (BOM)": b"\xef\xbb\xbf" + text.encode("utf-8"),
        "Shift_JIS": text.encode("cp932"),
        "UTF-16": text.replace(",", "\t").encode("utf-16"),
    }
    assert encodings["Shift_JIS"] != encodings["UTF-8"]  # really different bytes
    for expected, data in encodings.items():
        plan = await csv_io.plan_import(tenant, FULL, data)
        assert plan.ok, (expected, [str(e) for e in plan.errors])
        assert plan.encoding == expected
        assert [row.values["name"] for row in plan.added] == ["試作 春子", "手本 修", "雛形 和子"]
        assert plan.added[1].values["notes"] == "足が悪いので玄関まで"
        assert [row.values["channel"] for row in plan.added] == ["email", "paper", "line"]


async def test_cp932_only_characters_survive(tenant):
    # ① and 髙 exist in cp932 but not in plain Shift_JIS: Excel writes them.
    data = csv_text(",髙橋 ①郎,タカハシ イチロウ,1班,,,,紙,").encode("cp932")
    plan = await csv_io.plan_import(tenant, FULL, data)
    assert plan.ok and plan.added[0].values["name"] == "髙橋 1郎"  # NFKC folds ① to 1


async def test_import_writes_households_with_their_head_member(tenant):
    han1 = await han_id(tenant, "1班")
    plan = await csv_io.apply_import(tenant, FULL, ACTOR, csv_text(*GOOD_ROWS).encode("cp932"))
    assert len(plan.added) == 3
    rows = {r["name"]: r for r in await snapshot(tenant)}
    assert rows["試作 春子"]["han"] == han1 and rows["試作 春子"]["email"] == "haru@example.jp"
    assert rows["雛形 和子"]["han"] is None  # blank 班: not yet assigned
    assert await tenant.count(Member) == 3
    summary = await AuditEntry.select().where(AuditEntry.action == "roster.import").first()
    assert "追加 3 件" in summary["detail"]
    assert {r["updated_at"] for r in rows.values()} == {rows["手本 修"]["updated_at"]}


async def test_errors_name_row_column_and_reason_and_nothing_is_written(tenant, roster):
    before = await snapshot(tenant)
    data = csv_text(
        GOOD_ROWS[0],                                       # row 2: fine
        ",仮谷 修,カリヤ オサム,1班,,,,FAX,",                 # row 3: bad channel
        ",例村 和子,レイムラ カズコ,9班,,,,紙,",               # row 4: unknown 班
        ",,ナナシ,1班,,,,紙,",                               # row 5: no name
        ",模擬 冬香,モギ フユカ,1班,,,,メール,",              # row 6: メール without address
        ",標本 健太,ヒョウホン ケンタ,1班,,abc,bad@,紙,",      # row 7: bad phone and e-mail
        "99999,架空 次郎,カクウ ジロウ,1班,,,,紙,",            # row 8: unknown 番号
    ).encode("utf-8")
    plan = await csv_io.plan_import(tenant, FULL, data)
    messages = [str(e) for e in plan.errors]
    assert "行 3（連絡方法）: 連絡方法「FAX」は使えません。メール、LINE、紙のどれかにしてください" in messages
    assert any(m.startswith("行 4（班）: 班「9班」はありません") for m in messages)
    assert "行 5（世帯主）: 世帯主の名前を入れてください" in messages
    assert any(m.startswith("行 6（メール）") for m in messages)
    assert any(m.startswith("行 7（電話）") for m in messages) and any(m.startswith("行 7（メール）") for m in messages)
    assert any(m.startswith("行 8（番号）: 番号「99999」の世帯はこの町内会の名簿にありません") for m in messages)
    assert not any(m.startswith("行 2") for m in messages)
    try:
        await csv_io.apply_import(tenant, FULL, ACTOR, data)
    except csv_io.ImportRefused as refused:
        assert len(refused.plan.errors) == len(plan.errors)
    else:
        raise AssertionError("a broken file was imported")
    assert await snapshot(tenant) == before
    assert await AuditEntry.count().where(AuditEntry.action == "roster.import") == 0


async def test_unknown_han_is_created_when_the_officer_asks(tenant):
    data = csv_text(",例村 和子,レイムラ カズコ,9班,,,,紙,", ",例村 二郎,レイムラ ジロウ,9班,,,,紙,").encode()
    plan = await csv_io.plan_import(tenant, FULL, data, create_missing_han=True)
    assert plan.ok and plan.new_han == ["9班"]
    await csv_io.apply_import(tenant, FULL, ACTOR, data, create_missing_han=True)
    han9 = await tenant.select(Han).where(Han.name == "9班").first()
    assert han9 is not None
    assert await tenant.count(Household).where(Household.han == han9["id"]) == 2


async def test_missing_unknown_and_repeated_columns(tenant, roster):
    for data in ("フリガナ,班\r\nミホン,9班\r\n", HEADER + ",FAX\r\n,見本 一,,9班,,,,紙,,\r\n", "世帯主,世帯主\r\na,b\r\n"):
        await assert_refused_and_unchanged(tenant, data.encode())
    missing = await csv_io.plan_import(tenant, FULL, "フリガナ,班\r\nミホン,1班\r\n".encode())
    assert [str(e) for e in missing.errors] == ["行 1（世帯主）: 列「世帯主」がありません。1行目に列の名前を書いてください"]
    unknown = await csv_io.plan_import(tenant, FULL, csv_text(",見本 一,,,,,,紙,,", header=HEADER + ",FAX").encode())
    assert any("列「FAX」は使えません" in str(e) for e in unknown.errors)
    repeated = await csv_io.plan_import(tenant, FULL, "世帯主,世帯主\r\na,b\r\n".encode())
    assert any("列「世帯主」が2回あります" in str(e) for e in repeated.errors)
    # Only some of the columns is fine: the others stay as they are.
    partial = await csv_io.plan_import(tenant, FULL, "世帯主,連絡方法\r\n見本 一,紙\r\n".encode())
    assert partial.ok and len(partial.added) == 1


async def test_empty_file_header_only_and_unreadable_bytes(tenant, roster):
    for data in (b"", b"\xef\xbb\xbf", (HEADER + "\r\n").encode(), b"\x89PNG\r\n\x1a\n\x00\xff\xfe\xfd" * 10):
        await assert_refused_and_unchanged(tenant, data)
    assert [str(e) for e in (await csv_io.plan_import(tenant, FULL, b"")).errors] == ["ファイル: ファイルが空です"]
    header_only = await csv_io.plan_import(tenant, FULL, (HEADER + "\r\n").encode())
    assert "世帯の行がありません" in str(header_only.errors[0])
    binary = await csv_io.plan_import(tenant, FULL, b"\x89PNG\r\n\x1a\n\x00\xff\xfe\xfd" * 10)
    assert not binary.ok


async def test_duplicate_households_in_one_file(tenant, roster):
    taro = roster["taro"]["id"]
    data = csv_text(
        ",手本 修,テホン オサム,2班,桜町3-2,,,紙,",
        ",手本 修,てほん おさむ,2班,桜町3-2,,,紙,",  # same household, kana typed in hiragana
        f"{taro},見本 太郎,ミホン タロウ,1班,桜町1-1,,,紙,",
        f"{taro},見本 太郎,ミホン タロウ,1班,桜町1-1,,,紙,",
    ).encode()
    plan = await csv_io.plan_import(tenant, FULL, data)
    messages = [str(e) for e in plan.errors]
    await assert_refused_and_unchanged(tenant, data)
    assert any(m.startswith("行 3（世帯主）: 行 2 と同じ世帯") for m in messages)
    assert any(m.startswith(f"行 5（番号）: 番号「{taro}」は行 4 と同じです") for m in messages)


async def test_matching_by_name_kana_and_address_without_an_id(tenant, roster):
    data = csv_text(",見本 太郎,ミホン タロウ,1班,桜町1-1,024-999-9999,taro@example.jp,メール,").encode()
    plan = await csv_io.plan_import(tenant, FULL, data)
    assert plan.ok and not plan.added and len(plan.changed) == 1
    assert plan.changed[0].household_id == roster["taro"]["id"] and plan.changed[0].changed == ["phone"]


async def test_export_round_trip_changes_nothing(tenant, roster):
    await tenant.update(Household, {Household.notes: "=HYPERLINK(\"http://evil\")\n2行目", Household.phone: "+81-24-000"}).where(
        Household.id == roster["taro"]["id"]
    )
    data, count = await csv_io.export_csv(tenant, FULL)
    assert count == 3 and data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0] == HEADER
    assert "'=HYPERLINK" in text and "'+81-24-000" in text  # not run as formulas by Excel
    before = await snapshot(tenant)
    plan = await csv_io.plan_import(tenant, FULL, data)
    assert plan.ok and len(plan.unchanged) == 3 and not plan.added and not plan.changed
    await csv_io.apply_import(tenant, FULL, ACTOR, data)
    assert await snapshot(tenant) == before
    # Edited in Excel and saved as Shift_JIS: only the edited row changes.
    edited = text.replace("仮野 花子", "仮野 花江").encode("cp932")
    plan = await csv_io.apply_import(tenant, FULL, ACTOR, edited)
    assert [row.changed for row in plan.changed] == [["name"]] and not plan.added
    row = await tenant.select(Household).where(Household.id == roster["hanako"]["id"]).first()
    assert row["name"] == "仮野 花江"


async def test_five_thousand_rows(tenant):
    rows = [f",大量 {i}号,タイリョウ,{1 + i % 3}班,桜町{i},,,紙," for i in range(5000)]
    data = csv_text(*rows).encode("cp932")
    plan = await csv_io.plan_import(tenant, FULL, data)
    assert plan.ok and len(plan.added) == 5000
    await csv_io.apply_import(tenant, FULL, ACTOR, data)
    assert await tenant.count(Household) == 5000
    assert await tenant.count(Member) == 5000
    exported, count = await csv_io.export_csv(tenant, FULL)
    assert count == 5000
    again = await csv_io.plan_import(tenant, FULL, exported)
    assert again.ok and len(again.unchanged) == 5000
    # One bad row among 5,000: none is written.
    broken = csv_text(*[r.replace("大量", "追加") for r in rows[:4999]], ",追加 最後,,1班,,,,FAX,").encode()
    try:
        await csv_io.apply_import(tenant, FULL, ACTOR, broken)
    except csv_io.ImportRefused as refused:
        assert [str(e) for e in refused.plan.errors] == [
            "行 5001（連絡方法）: 連絡方法「FAX」は使えません。メール、LINE、紙のどれかにしてください"
        ]
    assert await tenant.count(Household) == 5000


async def test_pages_preview_then_confirm(client, tenant, roster):
    await sign_in_as(client, "kaicho@example.jp", Role.CHAIR, tenant)
    data = csv_text(*GOOD_ROWS).encode("cp932")
    headers = await csrf_headers(client)
    preview = await client.post("/a/sakura/roster/import", files={"file": ("meibo.csv", data, "text/csv")}, headers=headers)
    assert preview.status_code == 200
    assert "追加 <strong>3</strong> 世帯" in preview.text and "Shift_JIS" in preview.text
    assert await tenant.count(Household) == 3  # nothing written by the preview
    payload = base64.b64encode(data).decode()
    assert payload in preview.text
    done = await client.post("/a/sakura/roster/import/confirm", files={"payload": (None, payload)}, headers=headers)
    assert done.status_code == 303 and "imported=3-0" in done.headers["location"]
    assert await tenant.count(Household) == 6


async def test_page_shows_errors_in_japanese(client, tenant, roster):
    await sign_in_as(client, "kaicho@example.jp", Role.CHAIR, tenant)
    data = csv_text(",仮谷 修,カリヤ オサム,1班,,,,FAX,").encode("utf-8-sig")
    preview = await client.post("/a/sakura/roster/import", files={"file": ("m.csv", data)}, headers=await csrf_headers(client))
    assert preview.status_code == 400
    assert "連絡方法「FAX」は使えません" in preview.text and "この内容で取り込む" not in preview.text


async def test_oversized_upload_is_refused(client, tenant):
    await sign_in_as(client, "kaicho@example.jp", Role.CHAIR, tenant)
    big = b"a" * (csv_io.MAX_UPLOAD_BYTES + 100 * 1024)
    response = await client.post("/a/sakura/roster/import", files={"file": ("big.csv", big)}, headers=await csrf_headers(client))
    assert response.status_code == 413 and "ファイルが大きすぎます" in response.text
    assert await tenant.count(Household) == 0


async def test_sample_file_imports_cleanly(client, tenant):
    await sign_in_as(client, "kaicho@example.jp", Role.CHAIR, tenant)
    sample = await client.get("/a/sakura/roster/sample.csv")
    assert sample.status_code == 200 and sample.content.startswith(b"\xef\xbb\xbf")
    plan = await csv_io.plan_import(tenant, FULL, sample.content)
    assert plan.ok and len(plan.added) == 3


async def test_export_of_one_han(client, tenant, roster):
    await sign_in_as(client, "kaikei@example.jp", Role.TREASURER, tenant)
    han2 = await han_id(tenant, "2班")
    response = await client.get("/a/sakura/roster/export.csv", params={"han": str(han2)})
    text = response.content.decode("utf-8-sig")
    assert "例田 一郎" in text and "見本" not in text
    assert "attachment" in response.headers["content-disposition"]


async def test_preview_shows_what_changes_from_what_to_what(client, tenant, roster):
    await sign_in_as(client, "kaicho@example.jp", Role.CHAIR, tenant)
    taro = roster["taro"]
    data = csv_text(f"{taro['id']},見本 太郎,ミホン タロウ,2班,桜町9-9,024-000-0001,taro@example.jp,紙,").encode("utf-8")
    preview = await client.post("/a/sakura/roster/import", files={"file": ("m.csv", data)}, headers=await csrf_headers(client))
    assert preview.status_code == 200
    text = preview.text
    assert '<strong>住所</strong>: <span class="old-value">桜町1-1</span> → <span class="new-value">桜町9-9</span>' in text
    assert '<strong>班</strong>: <span class="old-value">1班</span> → <span class="new-value">2班</span>' in text
    assert '<strong>連絡方法</strong>: <span class="old-value">メール</span> → <span class="new-value">紙</span>' in text


async def test_a_missing_han_names_the_checkbox_in_the_same_words(tenant, roster):
    plan = await csv_io.plan_import(tenant, FULL, csv_text(",新参 一郎,シンザン イチロウ,9班,桜町5-5,,,紙,").encode())
    [error] = [str(e) for e in plan.errors]
    assert "「名簿にない班は、新しく作る」" in error
    from chonaikai.settings import PROJECT_ROOT

    checkbox = (PROJECT_ROOT / "templates" / "roster" / "import.html").read_text(encoding="utf-8")
    assert "名簿にない班は、新しく作る</label>" in checkbox
