"""``chonaikai roster import|export``: the same rules as the roster page, for operators."""

from __future__ import annotations

import sys
from pathlib import Path

from chonaikai.accounts.principal import Access, Principal
from chonaikai.accounts.roles import Permission
from chonaikai.roster import csv_io, logic
from chonaikai.roster.tables import Han
from chonaikai.tenancy.logic import find_tenant

# The operator acts for the whole association; audit entries have no account and say "CLI".
OPERATOR = Principal(account_id=None, display_name="CLI")


async def import_roster(slug: str, path: Path, *, dry_run: bool = False, create_han: bool = False) -> int:
    tenant = await find_tenant(slug)
    if tenant is None:
        print(f"error: no association {slug!r}", file=sys.stderr)
        return 2
    try:
        data = path.read_bytes()
    except OSError as error:
        print(f"error: cannot read {path}: {error}", file=sys.stderr)
        return 2
    if len(data) > csv_io.MAX_UPLOAD_BYTES:
        print("error: ファイルが大きすぎます（5MBまで） — nothing was changed", file=sys.stderr)
        return 1
    access = Access(Permission.ROSTER_IMPORT)
    if dry_run:
        plan = await csv_io.plan_import(tenant, access, data, create_missing_han=create_han)
    else:
        try:
            plan = await csv_io.apply_import(tenant, access, OPERATOR, data, create_missing_han=create_han)
        except csv_io.ImportRefused as refused:
            plan = refused.plan
    if not plan.ok:
        for error in plan.errors:
            print(str(error), file=sys.stderr)
        print(f"{len(plan.errors)} error(s) — nothing was changed", file=sys.stderr)
        return 1
    for row in plan.rows:
        if row.action == "add":
            print(f"行 {row.row}: 追加 {row.values['name']}")
        elif row.action == "change":
            fields = "、".join(logic.FIELD_LABELS[name] for name in row.changed)
            print(f"行 {row.row}: 変更 番号 {row.household_id}（{fields}）")
    verb = "would add" if dry_run else "added"
    print(f"{plan.encoding}: {verb} {len(plan.added)}, changed {len(plan.changed)}, unchanged {len(plan.unchanged)}"
          + (f", new 班 {', '.join(plan.new_han)}" if plan.new_han else "")
          + (" (dry run: nothing written)" if dry_run else ""))
    return 0


async def export_roster(slug: str, han: str = "") -> int:
    tenant = await find_tenant(slug)
    if tenant is None:
        print(f"error: no association {slug!r}", file=sys.stderr)
        return 2
    han_filter = ""
    if han:
        row = await tenant.select(Han, Han.id).where(Han.name == han).first()
        if row is None:
            print(f"error: no 班 {han!r} in {slug}", file=sys.stderr)
            return 2
        han_filter = str(row["id"])
    data, count = await csv_io.export_csv(tenant, Access(Permission.ROSTER_EXPORT), han=han_filter)
    await logic.audit(tenant, OPERATOR, "roster.export", f"CLI {count} 世帯" + (f"（{han}）" if han else ""))
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    return 0
