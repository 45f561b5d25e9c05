"""docs/roles.md must show exactly the matrix the code enforces."""

from __future__ import annotations

import re

from chonaikai.accounts import roles_doc
from chonaikai.accounts.roles import ASSOCIATION_MATRIX, CITY_MATRIX, HAN_LIMITED, Role


def parse_tables(text: str) -> dict[str, dict[str, str]]:
    """permission id -> {role id: cell} from every matrix table in the document."""
    result: dict[str, dict[str, str]] = {}
    roles: list[str] = []
    for line in roles_doc.current_matrix(text).splitlines():
        if line.startswith("| permission"):
            roles = re.findall(r"`([a-z_]+)`", line)
        elif line.startswith("| `"):
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            permission = cells[0].strip("`")
            result[permission] = dict(zip(roles, cells[2:], strict=True))
    return result


def test_docs_roles_md_matches_the_matrix():
    text = roles_doc.DOC.read_text(encoding="utf-8")
    assert roles_doc.current_matrix(text) == roles_doc.render_matrix(), (
        "docs/roles.md is out of date: run python -m chonaikai.accounts.roles_doc"
    )
    table = parse_tables(text)
    for matrix in (ASSOCIATION_MATRIX, CITY_MATRIX):
        for permission, allowed in matrix.items():
            row = table[str(permission)]
            for role_id, cell in row.items():
                role = Role(role_id)
                if role not in allowed:
                    assert cell == "—", (permission, role)
                elif role == Role.HAN_LEADER and permission in HAN_LIMITED:
                    assert cell == "自分の班", (permission, role)
                else:
                    assert cell == "○", (permission, role)
    assert set(table) == {str(p) for p in (*ASSOCIATION_MATRIX, *CITY_MATRIX)}
