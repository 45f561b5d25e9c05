"""GET /api/v1/associations/{slug}/households with bearer tokens, scoped like the pages."""

from __future__ import annotations

import os
import subprocess
import sys

from chonaikai.accounts.api_tokens import TokenError, create_token
from chonaikai.accounts.roles import Role
from chonaikai.accounts.tables import ApiToken, AuditEntry
from tests.auth import sign_in_as


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_officer_token_lists_households(client, tenant, roster):
    token = (await create_token(role="treasurer", association_slug="sakura", label="会費の表")).secret
    response = await client.get("/api/v1/associations/sakura/households", headers=bearer(token))
    assert response.status_code == 200
    households = response.json()["households"]
    assert {h["name"] for h in households} == {"見本 太郎", "仮野 花子", "例田 一郎"}
    assert set(households[0]) == {"id", "name", "han", "channel", "effective_channel", "line_linked"}
    assert "taro@example.jp" not in response.text  # only id, name, 班, channel (chosen and effective)
    assert await AuditEntry.count().where(AuditEntry.action == "roster.view") == 1
    assert (await ApiToken.select(ApiToken.last_used_at).first())["last_used_at"] is not None


async def test_han_leader_token_sees_only_its_han(client, tenant, roster):
    token = (await create_token(role="han_leader", association_slug="sakura", han_name="2班")).secret
    response = await client.get("/api/v1/associations/sakura/households", headers=bearer(token))
    assert [h["name"] for h in response.json()["households"]] == ["例田 一郎"]


async def test_tokens_are_refused_elsewhere_and_when_missing(client, tenant, roster, other):
    token = (await create_token(role="chair", association_slug=other.slug)).secret
    assert (await client.get("/api/v1/associations/sakura/households", headers=bearer(token))).status_code == 403
    assert (await client.get("/api/v1/associations/sakura/households")).status_code == 401
    wrong = await client.get("/api/v1/associations/sakura/households", headers=bearer("ckt_" + "x" * 43))
    assert wrong.status_code == 401 and "見本" not in wrong.text
    await ApiToken.update({ApiToken.revoked: True}, force=True)
    assert (await client.get("/api/v1/associations/kawa/households", headers=bearer(token))).status_code == 401


async def test_session_cookie_does_not_open_the_api(client, tenant, roster):
    await sign_in_as(client, "kaicho@example.jp", Role.CHAIR, tenant)
    assert (await client.get("/api/v1/associations/sakura/households")).status_code == 401


async def test_member_and_unknown_roles_cannot_get_tokens(tenant):
    for role in ("member", "city_staff", "boss"):
        try:
            await create_token(role=role, association_slug="sakura")
        except TokenError:
            pass
        else:
            raise AssertionError(role)
    try:
        await create_token(role="han_leader", association_slug="sakura")
    except TokenError as error:
        assert "--han" in str(error)


def test_token_create_command(tenant, roster):
    result = subprocess.run(
        [sys.executable, "-m", "chonaikai", "token", "create", "--association", "sakura", "--role", "han_leader", "--han", "1班"],
        capture_output=True, text=True, env={**os.environ}, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    secret = result.stdout.strip().splitlines()[-1]
    assert secret.startswith("ckt_") and "not shown again" in result.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "chonaikai", "token", "create", "--association", "sakura", "--role", "member"],
        capture_output=True, text=True, env={**os.environ}, timeout=60,
    )
    assert bad.returncode == 2 and "officer role" in bad.stderr
