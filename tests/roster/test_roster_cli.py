"""`chonaikai roster import SLUG FILE [--dry-run]` and `chonaikai roster export SLUG`."""

from __future__ import annotations

import os
import subprocess
import sys

from chonaikai.accounts.tables import AuditEntry
from chonaikai.roster.cli import export_roster, import_roster
from chonaikai.roster.tables import Household

HEADER = "番号,世帯主,フリガナ,班,住所,電話,メール,連絡方法,備考"


async def test_import_errors_go_to_stderr_with_nonzero_exit(tenant, roster, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(f"{HEADER}\r\n,試作 春子,シサク ハルコ,1班,,,,紙,\r\n,仮谷 修,,1班,,,,FAX,\r\n".encode("cp932"))
    assert await import_roster("sakura", bad) == 1
    captured = capsys.readouterr()
    assert "行 3（連絡方法）: 連絡方法「FAX」は使えません" in captured.err
    assert "nothing was changed" in captured.err
    assert await tenant.count(Household) == 3


async def test_dry_run_writes_nothing_then_import_writes(tenant, roster, tmp_path, capsys):
    good = tmp_path / "good.csv"
    good.write_bytes(("\ufeff" + f"{HEADER}\r\n,試作 春子,シサク ハルコ,9班,,,,紙,\r\n").encode())
    assert await import_roster("sakura", good, dry_run=True, create_han=True) == 0
    out = capsys.readouterr().out
    assert "行 2: 追加 試作 春子" in out and "dry run" in out
    assert await tenant.count(Household) == 3
    assert await import_roster("sakura", good, create_han=True) == 0
    assert await tenant.count(Household) == 4
    assert await AuditEntry.count().where(AuditEntry.action == "roster.import") == 1
    assert await import_roster("nowhere", good) == 2


def test_export_from_the_command_line(tenant, roster):
    result = subprocess.run(
        [sys.executable, "-m", "chonaikai", "roster", "export", "sakura", "--han", "2班"],
        capture_output=True, env={**os.environ}, timeout=60,
    )
    assert result.returncode == 0, result.stderr.decode()
    text = result.stdout.decode("utf-8-sig")
    assert text.splitlines()[0] == HEADER
    assert "例田 一郎" in text and "見本" not in text


async def test_export_round_trips_through_import(tenant, roster, tmp_path, capsysbinary):
    assert await export_roster("sakura") == 0
    data = capsysbinary.readouterr().out
    path = tmp_path / "export.csv"
    path.write_bytes(data)
    assert await import_roster("sakura", path) == 0
    assert "added 0, changed 0, unchanged 3" in capsysbinary.readouterr().out.decode()
