"""Writes the permission matrix of roles.py into docs/roles.md, so the document cannot drift.

    python -m chonaikai.accounts.roles_doc          # rewrite the table in docs/roles.md
    python -m chonaikai.accounts.roles_doc --check  # exit 1 when docs/roles.md is out of date

tests/roster/test_roles_doc.py runs the check.
"""

from __future__ import annotations

import sys
from pathlib import Path

from chonaikai.accounts.roles import (
    ASSOCIATION_MATRIX,
    CITY_MATRIX,
    HAN_LIMITED,
    ROLE_LABELS,
    Permission,
    Role,
)
from chonaikai.settings import PROJECT_ROOT

DOC = PROJECT_ROOT / "docs" / "roles.md"
START = "<!-- matrix:start (generated from src/chonaikai/accounts/roles.py; do not edit by hand) -->"
END = "<!-- matrix:end -->"

PERMISSION_LABELS = {
    Permission.ROSTER_VIEW: "名簿を見る",
    Permission.ROSTER_EDIT: "名簿を変える（追加・変更・班の移動・転出）",
    Permission.ROSTER_IMPORT: "名簿をCSVで取り込む",
    Permission.ROSTER_EXPORT: "名簿をCSVで書き出す",
    Permission.ROSTER_ERASE: "転出した世帯の個人情報を削除する",
    Permission.AUDIT_VIEW: "記録（監査ログ）を見る",
    Permission.OFFICERS_MANAGE: "役員を招待する・役割を変える",
    Permission.SIGNIN_CARD_ISSUE: "ログインカードを印刷する",
    Permission.NOTICE_POST: "お知らせを出す",
    Permission.NOTICE_READ_MEMBERS: "会員向けのお知らせを読む",
    Permission.NOTICE_READ_OFFICERS: "役員向けのお知らせを読む",
    Permission.RECEIPTS_VIEW: "だれが読んだかを見る",
    Permission.RECEIPTS_TICK: "読んだ印を手で付ける（紙の回覧板）",
    Permission.PRINT_SHEETS: "回覧板を印刷する",
    Permission.CIRCULAR_REVIEW: "市からの回覧物を回す・見送る",
    Permission.SETTINGS_EDIT: "町内会の設定を変える",
    Permission.SAFETY_START: "安否確認を始める・終える",
    Permission.SAFETY_VIEW: "安否確認の結果を見る（名前・電話・住所）",
    Permission.SAFETY_RECORD: "安否を記入する（訪問・電話・ハンカチ）",
    Permission.HOMEPAGE_EDIT: "ホームページ・分類・回覧の自動転送を変える",
    Permission.OWN_HOUSEHOLD: "自分の世帯の登録を見る・変える",
    Permission.CITY_CIRCULAR_SEND: "回覧物を町内会へ送る",
    Permission.CITY_DASHBOARD: "町内会ごとの届き具合を見る",
    Permission.CITY_SAFETY: "安否確認を町内会へ一斉に始める・数だけを見る",
}

ASSOCIATION_COLUMNS = [
    Role.CHAIR, Role.VICE_CHAIR, Role.TREASURER, Role.EDITOR, Role.HAN_LEADER, Role.SAFETY_OFFICER, Role.MEMBER
]


def _table(matrix: dict[Permission, frozenset[Role]], roles: list[Role]) -> list[str]:
    header = "| permission | | " + " | ".join(f"{ROLE_LABELS[r]} `{r}`" for r in roles) + " |"
    lines = [header, "|---|---|" + "---|" * len(roles)]
    for permission, allowed in matrix.items():
        cells = []
        for role in roles:
            if role not in allowed:
                cells.append("—")
            elif role == Role.HAN_LEADER and permission in HAN_LIMITED:
                cells.append("自分の班")
            else:
                cells.append("○")
        label = PERMISSION_LABELS.get(permission, "")
        lines.append(f"| `{permission}` | {label} | " + " | ".join(cells) + " |")
    return lines


def render_matrix() -> str:
    lines = [START, "", "### In an association (町内会・自治会)", ""]
    lines += _table(ASSOCIATION_MATRIX, ASSOCIATION_COLUMNS)
    lines += ["", "### In a city (市町村)", ""]
    lines += _table(CITY_MATRIX, [Role.CITY_STAFF])
    lines += ["", END]
    return "\n".join(lines)


def current_matrix(text: str) -> str:
    start, end = text.index(START), text.index(END) + len(END)
    return text[start:end]


def write(path: Path = DOC) -> None:
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(current_matrix(text), render_matrix()), encoding="utf-8")


def main(argv: list[str]) -> int:
    if "--check" in argv:
        ok = current_matrix(DOC.read_text(encoding="utf-8")) == render_matrix()
        print("docs/roles.md is up to date" if ok else "docs/roles.md is out of date: run python -m chonaikai.accounts.roles_doc")
        return 0 if ok else 1
    write()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
