"""`tenants sync`: idempotent, and a bad file changes nothing."""

import shutil
from pathlib import Path

import pytest

from chonaikai.roster.tables import Han
from chonaikai.settings import PROJECT_ROOT
from chonaikai.tenancy.tables import Association, City
from chonaikai.tenancy.tenant_files import (
    TenantFileError,
    is_municipality_code,
    sync_tenants,
)

DEMO = PROJECT_ROOT / "tenants"


async def snapshot():
    return (
        await City.select().order_by(City.id),
        await Association.select().order_by(Association.id),
        await Han.select().order_by(Han.id),
    )


def test_municipality_code_check_digit():
    assert is_municipality_code("072010")  # 福島市
    assert is_municipality_code("011002")  # 札幌市
    assert is_municipality_code("131016")  # 千代田区
    assert is_municipality_code("079995")  # the demo's fictional city
    assert not is_municipality_code("072011")
    assert not is_municipality_code("07201")


async def test_demo_files_sync_and_second_run_changes_nothing():
    first = await sync_tenants(DEMO)
    assert "city mihon" in first.created
    assert len([c for c in first.created if c.startswith("association")]) >= 3
    before = await snapshot()
    second = await sync_tenants(DEMO)
    assert not second.changed
    assert await snapshot() == before


async def test_changed_file_updates_only_that_association(tmp_path):
    shutil.copytree(DEMO, tmp_path / "t")
    await sync_tenants(tmp_path / "t")
    path = tmp_path / "t" / "kawabata.toml"
    path.write_text(path.read_text(encoding="utf-8").replace('district = "西部地区"', 'district = "北部地区"'), encoding="utf-8")
    report = await sync_tenants(tmp_path / "t")
    assert report.updated == ["association kawabata"]
    row = await Association.select(Association.district).where(Association.slug == "kawabata").first()
    assert row["district"] == "北部地区"


CITY = 'kind = "city"\nslug = "c"\nname = "市"\nmunicipality_code = "072010"\n'
GOOD = 'kind = "association"\nslug = "good"\nname = "良い町内会"\ncity = "c"\n'


@pytest.mark.parametrize(
    ("bad_text", "field"),
    [
        ('kind = "association"\nslug = "Bad Slug"\nname = "x"\ncity = "c"\n', "slug"),
        ('kind = "association"\nslug = "nameless"\ncity = "c"\n', "name"),
        ('kind = "association"\nslug = "orphan"\nname = "x"\ncity = "nowhere"\n', "city"),
        ('kind = "village"\nslug = "v"\n', "kind"),
        ('kind = "association"\nslug = "h"\nname = "x"\ncity = "c"\nhosts = ["not a host"]\n', "hosts"),
        ('kind = "association"\nslug = "good"\nname = "二重"\ncity = "c"\n', "slug"),
        ('kind = "association"\nslug = "l"\nname = "x"\ncity = "c"\n[line]\nchannel_id = "1"\naccess_token = "secret"\n', "line.access_token"),
        ('kind = "association"\nslug = "o"\nname = "x"\ncity = "c"\n[[officers]]\nname = "名前だけ"\n', "officers[1].title"),
        ('kind = "city"\nslug = "c2"\nname = "x"\nmunicipality_code = "072011"\n', "municipality_code"),
        ("this is = not toml [", "(file)"),
    ],
)
async def test_bad_file_is_refused_naming_file_and_field_and_nothing_changes(tmp_path: Path, bad_text, field):
    folder = tmp_path / "tenants"
    folder.mkdir()
    (folder / "city.toml").write_text(CITY, encoding="utf-8")
    (folder / "good.toml").write_text(GOOD, encoding="utf-8")
    await sync_tenants(folder)
    before = await snapshot()
    (folder / "good.toml").write_text(GOOD.replace("良い町内会", "名前を変えた町内会"), encoding="utf-8")
    (folder / "zz-bad.toml").write_text(bad_text, encoding="utf-8")
    with pytest.raises(TenantFileError) as error:
        await sync_tenants(folder)
    assert error.value.field_name == field
    assert str(error.value).startswith("zz-bad.toml: ")
    assert await snapshot() == before  # the good file's change was not applied either


async def test_cli_sync_reports_bad_file(tmp_path):
    import os
    import subprocess
    import sys

    folder = tmp_path / "tenants"
    folder.mkdir()
    (folder / "x.toml").write_text('kind = "association"\nslug = "x"\n', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "chonaikai", "tenants", "sync", str(folder)],
        capture_output=True, text=True, env=os.environ.copy(), timeout=60,
    )
    assert result.returncode == 2
    assert "x.toml: name: is required" in result.stderr
    assert "nothing was changed" in result.stderr
