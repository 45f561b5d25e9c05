"""要支援 on a household: set on the form only with the date of the household's consent."""

from __future__ import annotations

from chonaikai.accounts.roles import Role
from chonaikai.accounts.tables import AuditEntry
from chonaikai.roster.tables import Household
from tests.auth import csrf_headers, sign_in_as
from tests.roster.conftest import han_id


def form(household, han, **extra):
    return {"name": household["name"], "han": str(han), "channel": household["channel"],
            "email": household["email"], "address": household["address"], **extra}


async def test_needs_support_is_kept_only_with_a_consent_date(client, tenant, roster):
    await sign_in_as(client, "kaicho@example.jp", Role.CHAIR, tenant)
    taro = roster["taro"]
    han1 = await han_id(tenant, "1班")
    url = f"/a/sakura/roster/{taro['id']}"
    refused = await client.post(url, data=form(taro, han1, needs_support="1"), headers=await csrf_headers(client))
    assert refused.status_code == 400
    assert "同意をもらった日を入れてください" in refused.text
    row = await Household.select(Household.needs_support, Household.support_consent_on).where(
        Household.id == taro["id"]).first()
    assert row == {"needs_support": False, "support_consent_on": None}

    future = await client.post(url, data=form(taro, han1, needs_support="1", support_consent_on="2999-01-01"),
                               headers=await csrf_headers(client))
    assert future.status_code == 400 and "今日までの日付" in future.text

    saved = await client.post(url, data=form(taro, han1, needs_support="1", support_consent_on="2026-04-01"),
                              headers=await csrf_headers(client))
    assert saved.status_code == 303
    row = await Household.select(Household.needs_support, Household.support_consent_on).where(
        Household.id == taro["id"]).first()
    assert row["needs_support"] is True and str(row["support_consent_on"]) == "2026-04-01"
    page = await client.get(url)
    assert 'name="needs_support" value="1" checked' in page.text and 'value="2026-04-01"' in page.text
    entry = await AuditEntry.select(AuditEntry.detail).where(AuditEntry.action == "household.update").first()
    assert "要支援" in entry["detail"]

    # Unticked: the flag and its date go together.
    await client.post(url, data=form(taro, han1), headers=await csrf_headers(client))
    row = await Household.select(Household.needs_support, Household.support_consent_on).where(
        Household.id == taro["id"]).first()
    assert row == {"needs_support": False, "support_consent_on": None}


async def test_csv_import_leaves_needs_support_alone(tenant, roster):
    """The CSV has no 要支援 column: re-importing the roster never clears a consented flag."""
    from datetime import date

    from chonaikai.accounts.principal import Access, Principal
    from chonaikai.accounts.roles import Permission
    from chonaikai.roster import csv_io

    await tenant.update(Household, {Household.needs_support: True, Household.support_consent_on: date(2026, 4, 1)}).where(
        Household.id == roster["taro"]["id"])
    full = Access(Permission.ROSTER_IMPORT, han_ids=None)
    data, _ = await csv_io.export_csv(tenant, full)
    changed = data.decode("utf-8-sig").replace("024-000-0001", "024-000-0002").encode("utf-8-sig")
    await csv_io.apply_import(tenant, full, Principal(account_id=None), changed)
    row = await Household.select(Household.phone, Household.needs_support, Household.support_consent_on).where(
        Household.id == roster["taro"]["id"]).first()
    assert row == {"phone": "024-000-0002", "needs_support": True, "support_consent_on": date(2026, 4, 1)}
