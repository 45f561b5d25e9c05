"""CSV in and out of the roster, the way officers keep it in Excel.

- Reads UTF-8, UTF-8 with BOM, Shift_JIS/cp932 (Excel's 「CSV (コンマ区切り)」 on Japanese Windows) and
  UTF-16 with BOM (Excel's 「Unicode テキスト」, tab-separated).
- One row per household; the columns are documented in docs/roster-csv.md.
- ``plan_import`` checks every row and says what would happen, writing nothing; ``apply_import``
  checks again inside one transaction and writes all rows or none.
- Export writes the same columns (UTF-8 with BOM, CRLF) so an exported file can be edited in Excel
  and imported back; cells that Excel would run as a formula are quoted with a leading ``'``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from piccolo.table import Table

from chonaikai.accounts.principal import Access, Principal
from chonaikai.accounts.tables import AuditEntry
from chonaikai.db import insert_many, write_transaction
from chonaikai.params import ascii_int
from chonaikai.roster import logic
from chonaikai.roster.tables import Han, Household, Member
from chonaikai.tenancy.scope import Tenant

COLUMNS = ["番号", "世帯主", "フリガナ", "班", "住所", "電話", "メール", "連絡方法", "備考"]
COLUMN_FIELDS = {
    "番号": "id",
    "世帯主": "name",
    "フリガナ": "kana",
    "班": "han",
    "住所": "address",
    "電話": "phone",
    "メール": "email",
    "連絡方法": "channel",
    "備考": "notes",
}
# Headings people commonly write for the same thing.
ALIASES = {
    "ID": "番号",
    "NO": "番号",
    "NO.": "番号",
    "世帯番号": "番号",
    "氏名": "世帯主",
    "名前": "世帯主",
    "ふりがな": "フリガナ",
    "カナ": "フリガナ",
    "よみがな": "フリガナ",
    "電話番号": "電話",
    "メールアドレス": "メール",
    "EMAIL": "メール",
    "E-MAIL": "メール",
    "連絡": "連絡方法",
    "メモ": "備考",
}
REQUIRED = ("世帯主",)
CHANNEL_WORDS = {"メール": "email", "LINE": "line", "紙": "paper", "": "paper"}
CHANNEL_OUT = {"email": "メール", "line": "LINE", "paper": "紙"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000


@dataclass
class RowError:
    row: int  # as Excel numbers it: the header is row 1
    column: str
    message: str

    def __str__(self) -> str:
        where = f"行 {self.row}" if self.row else "ファイル"
        return f"{where}（{self.column}）: {self.message}" if self.column else f"{where}: {self.message}"


@dataclass
class RowPlan:
    row: int
    action: str  # "add" | "change" | "same"
    household_id: int | None
    values: dict[str, Any]
    changed: list[str] = field(default_factory=list)
    han_name: str = ""
    # field -> (what the roster says now, what the file says), as shown on the preview
    differences: dict[str, tuple[str, str]] = field(default_factory=dict)


@dataclass
class ImportPlan:
    rows: list[RowPlan] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    new_han: list[str] = field(default_factory=list)
    encoding: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def added(self) -> list[RowPlan]:
        return [row for row in self.rows if row.action == "add"]

    @property
    def changed(self) -> list[RowPlan]:
        return [row for row in self.rows if row.action == "change"]

    @property
    def unchanged(self) -> list[RowPlan]:
        return [row for row in self.rows if row.action == "same"]


class ImportRefused(Exception):
    def __init__(self, plan: ImportPlan) -> None:
        super().__init__("; ".join(str(e) for e in plan.errors[:5]))
        self.plan = plan


# --- reading the file ---------------------------------------------------------------------------


def decode(data: bytes) -> tuple[str, str]:
    """The text of an uploaded file and the encoding it was in; ValueError when none fits."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "UTF-8 (BOM)"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "UTF-16"
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp932"), "Shift_JIS"
    except UnicodeDecodeError as error:
        raise ValueError("文字コードが読めません。Excelで「CSV UTF-8」か「CSV (コンマ区切り)」で保存してください") from error


def unquote_formula(value: str) -> str:
    """Undo the ``'`` our export puts before a cell that starts like a formula."""
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_START:
        return value[1:]
    return value


class UnreadableRow(ValueError):
    def __init__(self, error: RowError) -> None:
        super().__init__(str(error))
        self.error = error


def read_rows(text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header cells and (Excel row number, cells) of every non-blank row; UnreadableRow names the
    first row that cannot be read (a quote left open, a cell too long, a NUL character)."""
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    # strict: a quote left open is an error, not the rest of the file swallowed into one cell.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    number = 0
    try:
        for number, cells in enumerate(reader, start=1):
            if any("\x00" in cell for cell in cells):
                raise UnreadableRow(RowError(number, "", "見えない制御文字（NUL）が入っています。Excelで開いて保存し直してください"))
            if header is None:
                header = cells
                continue
            if any(cell.strip() for cell in cells):
                rows.append((number, cells))
    except csv.Error as error:
        row = number + 1  # the record being read when it failed
        if "field larger" in str(error):
            message = f"ひとつの欄が長すぎます（{csv.field_size_limit():,}文字まで）"
        else:
            message = "「\"」（引用符）が閉じられていないか、引用符のあとに文字が続いています。Excelで開いて保存し直してください"
        raise UnreadableRow(RowError(row, "", message)) from None
    return header or [], rows


def map_header(header: list[str]) -> tuple[dict[int, str], list[RowError]]:
    """Column index → our column name, and errors for unknown, repeated or missing columns."""
    errors: list[RowError] = []
    mapping: dict[int, str] = {}
    seen: dict[str, int] = {}
    for index, raw in enumerate(header):
        name = logic.clean(raw).replace(" ", "")
        if not name:
            continue
        name = ALIASES.get(name.upper(), ALIASES.get(name, name))
        if name not in COLUMN_FIELDS:
            errors.append(
                RowError(1, raw.strip(), f"列「{raw.strip()}」は使えません。使える列: {'、'.join(COLUMNS)}")
            )
            continue
        if name in seen:
            errors.append(RowError(1, name, f"列「{name}」が2回あります"))
            continue
        seen[name] = index
        mapping[index] = name
    for name in REQUIRED:
        if name not in seen and header:
            errors.append(RowError(1, name, f"列「{name}」がありません。1行目に列の名前を書いてください"))
    return mapping, errors


# --- planning -----------------------------------------------------------------------------------


def match_key(name: str, kana: str, address: str) -> tuple[str, str, str]:
    return logic.search_key(name), logic.search_key(kana), logic.search_key(address)


async def plan_import(
    tenant: Tenant, access: Access, data: bytes, *, create_missing_han: bool = False
) -> ImportPlan:
    """What importing ``data`` would do, with every error; writes nothing."""
    plan = ImportPlan()
    if not data.strip():
        plan.errors.append(RowError(0, "", "ファイルが空です"))
        return plan
    try:
        text, plan.encoding = decode(data)
    except ValueError as error:
        plan.errors.append(RowError(0, "", str(error)))
        return plan
    try:
        header, rows = read_rows(text)
    except UnreadableRow as unreadable:
        plan.errors.append(unreadable.error)
        return plan
    mapping, plan.errors = map_header(header)
    if plan.errors:
        return plan
    if not rows:
        plan.errors.append(RowError(0, "", "世帯の行がありません。2行目から1世帯ずつ書いてください"))
        return plan
    if len(rows) > MAX_ROWS:
        plan.errors.append(RowError(0, "", f"行が多すぎます（{MAX_ROWS:,}行まで）"))
        return plan

    han_by_name = {logic.clean(row["name"]): row["id"] for row in await logic.list_han(tenant)}
    han_names = {han_id: name for name, han_id in han_by_name.items()}
    existing = await tenant.select(Household, *logic.HOUSEHOLD_COLUMNS).where(Household.erased_at.is_null())
    by_id = {row["id"]: row for row in existing}
    by_key: dict[tuple[str, str, str], list[dict]] = {}
    for row in existing:
        if not row["moved_out"]:
            by_key.setdefault(match_key(row["name"], row["kana"], row["address"]), []).append(row)

    seen_ids: dict[int, int] = {}
    seen_keys: dict[tuple[str, str, str], int] = {}
    new_han: list[str] = []
    for number, cells in rows:
        raw = {name: unquote_formula(cells[index]) if index < len(cells) else "" for index, name in mapping.items()}
        extra = [cell for index, cell in enumerate(cells) if index not in mapping and cell.strip()]
        row_errors: list[RowError] = []
        if extra and len(cells) > len(header):
            row_errors.append(RowError(number, "", "列の数が1行目より多くなっています"))

        values = logic.normalize_values({COLUMN_FIELDS[name]: value for name, value in raw.items()})
        for field_name in ("name", "kana", "address", "phone", "email", "notes"):
            message = logic.check_field(field_name, values[field_name])
            if message:
                row_errors.append(RowError(number, logic.FIELD_LABELS[field_name], message))

        channel_word = logic.clean(raw.get("連絡方法", ""))
        channel_word = "LINE" if channel_word.upper() == "LINE" else channel_word
        channel = CHANNEL_WORDS.get(channel_word)
        if channel is None:
            row_errors.append(
                RowError(number, "連絡方法", f"連絡方法「{channel_word}」は使えません。メール、LINE、紙のどれかにしてください")
            )
        elif channel == "email" and not values["email"]:
            row_errors.append(RowError(number, "メール", "連絡方法がメールなのに、メールアドレスがありません"))

        han_name = logic.clean(raw.get("班", ""))
        han_id: int | None = None
        if han_name:
            han_id = han_by_name.get(han_name)
            if han_id is None:
                if len(han_name) > 50:  # checked before creating it too: Han.name is Varchar(50)
                    row_errors.append(RowError(number, "班", "班の名前は50文字までです"))
                elif create_missing_han:
                    if han_name not in new_han:
                        new_han.append(han_name)
                else:
                    row_errors.append(
                        RowError(number, "班", f"班「{han_name}」はありません。班の名前を直すか、「名簿にない班は、新しく作る」に印をつけてください")
                    )
        if han_id is not None and not access.covers_han(han_id):
            row_errors.append(RowError(number, "班", f"班「{han_name}」の世帯は変更できません"))

        # Which household this row is.
        target: dict | None = None
        id_text = logic.clean(raw.get("番号", ""))
        if id_text:
            household_id = ascii_int(id_text)
            if household_id not in by_id:
                row_errors.append(RowError(number, "番号", f"番号「{id_text}」の世帯はこの町内会の名簿にありません。新しい世帯なら番号を空にしてください"))
            else:
                if household_id in seen_ids:
                    row_errors.append(RowError(number, "番号", f"番号「{id_text}」は行 {seen_ids[household_id]} と同じです。1世帯は1行にしてください"))
                seen_ids.setdefault(household_id, number)
                target = by_id[household_id]
                if not access.covers_han(target["han"]):
                    row_errors.append(RowError(number, "番号", f"番号「{id_text}」の世帯は変更できません"))
        key = match_key(values["name"], values["kana"], values["address"])
        if values["name"]:
            if key in seen_keys:
                row_errors.append(RowError(number, "世帯主", f"行 {seen_keys[key]} と同じ世帯（世帯主・フリガナ・住所が同じ）です。1世帯は1行にしてください"))
            seen_keys.setdefault(key, number)
        if target is None and not id_text and not row_errors:
            candidates = by_key.get(key, [])
            if len(candidates) > 1:
                ids = "、".join(str(c["id"]) for c in candidates)
                row_errors.append(RowError(number, "番号", f"同じ名前・住所の世帯が名簿に複数あります（番号 {ids}）。番号を入れてください"))
            elif candidates:
                target = candidates[0]
                if target["id"] in seen_ids:
                    row_errors.append(RowError(number, "世帯主", f"行 {seen_ids[target['id']]} と同じ世帯です。1世帯は1行にしてください"))
                seen_ids.setdefault(target["id"], number)
        if row_errors:
            plan.errors.extend(row_errors)
            continue

        final: dict[str, Any] = {**values, "channel": channel, "han": han_id}
        present = {COLUMN_FIELDS[name] for name in raw} - {"id"}
        if target is None:
            plan.rows.append(RowPlan(number, "add", None, final, han_name=han_name))
            continue
        # Columns missing from the file leave those fields as they are.
        update = {name: final[name] for name in logic.EDITABLE_FIELDS if name in present}
        if han_name and han_id is None:
            update["han"] = None  # created on apply; compare by name below
        changed = logic.changed_fields(target, update)
        if han_name and han_id is None:
            changed = [*[c for c in changed if c != "han"], "han"]
        if target["moved_out"]:
            plan.errors.append(RowError(number, "番号", f"番号「{target['id']}」の世帯は転出済みです。名簿の画面で「転出を取り消す」を押してから取り込んでください"))
            continue
        differences = {
            name: (shown(name, target.get(name), han_names), shown(name, update.get(name), han_names, han_name))
            for name in changed
        }
        plan.rows.append(
            RowPlan(number, "change" if changed else "same", target["id"], update, changed, han_name=han_name,
                    differences=differences)
        )
    plan.new_han = new_han
    return plan


def shown(name: str, value: Any, han_names: dict[int, str], han_name: str = "") -> str:
    """A field's value as the import preview shows it (班 by name, 連絡方法 in words, blank as （空）)."""
    if name == "han":
        text = han_names.get(value, "") if value is not None else han_name
    elif name == "channel":
        text = logic.CHANNEL_LABELS.get(value, value or "")
    else:
        text = "" if value is None else str(value)
    return text or "（空）"


async def apply_import(
    tenant: Tenant, access: Access, actor: Principal, data: bytes, *, create_missing_han: bool = False
) -> ImportPlan:
    """Import for real: all rows or none. Raises ImportRefused with the errors when any row is bad."""
    async with write_transaction():
        # Planned again inside the transaction: what is written is checked against the roster as it
        # is now, not as it was when the preview was shown.
        plan = await plan_import(tenant, access, data, create_missing_han=create_missing_han)
        if not plan.ok:
            raise ImportRefused(plan)
        now = datetime.now(UTC)
        han_ids = {logic.clean(row["name"]): row["id"] for row in await logic.list_han(tenant)}
        if plan.new_han:
            position = len(han_ids)
            for offset, name in enumerate(plan.new_han):
                rows = await Han.insert(tenant.new(Han, name=name, position=position + offset)).returning(Han.id)
                han_ids[name] = rows[0]["id"]

        entries: list[AuditEntry] = []

        def entry(action: str, detail: str, household_id: int | None) -> AuditEntry:
            return AuditEntry(
                association=tenant.id, account=actor.account_id, household=household_id,
                action=action, detail=detail, created_at=now,
            )

        additions = plan.added
        for row in additions:
            row.values["han"] = han_ids.get(row.han_name) if row.han_name else None
        columns = ["association", *logic.EDITABLE_FIELDS, "created_at", "updated_at", "updated_by"]
        inserted = await bulk_insert(
            Household,
            columns,
            [[tenant.id, *[row.values[k] for k in logic.EDITABLE_FIELDS], now, now, actor.account_id] for row in additions],
            returning=("id", "name", "kana", "address"),
        )
        # Map returned ids back by content (unique within the file), not by position.
        by_key = {match_key(r["name"], r["kana"], r["address"]): r["id"] for r in inserted}
        for row in additions:
            row.household_id = by_key[match_key(row.values["name"], row.values["kana"], row.values["address"])]
        await bulk_insert(
            Member,
            ["association", "household", "name", "kana", "relation"],
            [[tenant.id, row.household_id, row.values["name"], row.values["kana"], "世帯主"] for row in additions],
        )
        # Added households carry updated_by/updated_at; one summary entry below records the import
        # (an entry per added row doubled the time of a 5,000-row import).

        for row in plan.changed:
            if row.han_name:
                row.values["han"] = han_ids.get(row.han_name)
            values = {getattr(Household, name): row.values[name] for name in row.changed}
            await tenant.update(
                Household, {**values, Household.updated_at: now, Household.updated_by: actor.account_id}
            ).where(Household.id == row.household_id)
            if "name" in row.changed or "kana" in row.changed:
                await tenant.update(
                    Member,
                    {Member.name: row.values.get("name", ""), Member.kana: row.values.get("kana", "")},
                ).where((Member.household == row.household_id) & (Member.relation == "世帯主"))
            detail = f"CSV 行 {row.row} 変更: " + "、".join(logic.FIELD_LABELS[n] for n in row.changed)
            entries.append(entry("household.update", detail, row.household_id))
        summary = f"追加 {len(additions)} 件、変更 {len(plan.changed)} 件、変更なし {len(plan.unchanged)} 件"
        if plan.new_han:
            summary += f"、新しい班: {'、'.join(plan.new_han)}"
        entries.append(entry("roster.import", summary, None))
        await insert_many(AuditEntry, entries)
    return plan


async def bulk_insert(
    table: type[Table], columns: list[str], rows: list[list[Any]], returning: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """A multi-row INSERT in chunks, without building a Piccolo object per row (that cost ~0.2 ms
    a row, most of a 5,000-row import). Column names are ours, never from the file."""
    result: list[dict[str, Any]] = []
    per_statement = max(1, 30_000 // len(columns))  # asyncpg allows 32,767 parameters
    row_sql = "(" + ", ".join(["{}"] * len(columns)) + ")"
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        sql = f"INSERT INTO {table._meta.tablename} ({', '.join(columns)}) VALUES " + ", ".join([row_sql] * len(chunk))
        if returning:
            sql += f" RETURNING {', '.join(returning)}"
        result.extend(await table.raw(sql, *[value for row in chunk for value in row]) or [])
    return result


# --- export -------------------------------------------------------------------------------------


def guard_formula(value: str) -> str:
    """Excel runs a cell starting with = + - @ as a formula: a leading ' makes it plain text."""
    return "'" + value if value.startswith(FORMULA_START) else value


def rows_to_csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([guard_formula(cell) for cell in row])
    return b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")


async def export_csv(tenant: Tenant, access: Access, han: str = "") -> tuple[bytes, int]:
    """The current (not moved-out) households as CSV bytes, and how many rows."""
    query = logic.RosterQuery(han=han)
    households = await logic.list_households(tenant, access, query)
    order = {row["id"]: index for index, row in enumerate(await logic.list_han(tenant))}
    households.sort(key=lambda h: (order.get(h["han"], len(order)), h["kana"], h["id"]))
    rows = [
        [
            str(h["id"]), h["name"], h["kana"], h["han_name"], h["address"], h["phone"], h["email"],
            CHANNEL_OUT.get(h["channel"], "紙"), h["notes"],
        ]
        for h in households
    ]
    return rows_to_csv(rows), len(rows)


def sample_csv() -> bytes:
    """The sample file offered for download (fictional people)."""
    return rows_to_csv(
        [
            ["", "見本 太郎", "ミホン タロウ", "1班", "見本町1-2-3", "024-000-0000", "taro@example.jp", "メール", ""],
            ["", "仮野 花子", "カリノ ハナコ", "1班", "見本町1-2-5", "", "", "紙", "回覧板は玄関のポストへ"],
            ["", "例田 一郎", "レイダ イチロウ", "2班", "見本町2-1-1", "090-0000-0000", "", "LINE", ""],
        ]
    )
