"""Shared steps for the answers tests: publish a notice with a question through the API."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from chonaikai.accounts.api_tokens import create_token
from chonaikai.channels.email import EmailChannel
from chonaikai.delivery.tables import Delivery
from chonaikai.delivery.worker import Worker
from chonaikai.tenancy.scope import Tenant


def bearer(secret: str) -> dict[str, str]:
    return {"authorization": f"Bearer {secret}"}


async def token_for(tenant: Tenant, role: str = "chair", han: str | None = None) -> str:
    return (await create_token(role=role, association_slug=tenant.slug, han_name=han)).secret


async def publish_question(client, tenant: Tenant, question: dict[str, Any], title: str = "一斉清掃の出欠") -> int:
    secret = await token_for(tenant, "editor")
    response = await client.post(
        f"/api/v1/associations/{tenant.slug}/notices",
        json={"title": title, "body": "日曜日の朝8時から公園を掃除します。", "publish": True, "question": question},
        headers=bearer(secret),
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def send_mail(now=None) -> None:
    await Worker([EmailChannel()], **({"clock": lambda: now} if now else {})).run(once=True)


def choice_links(text: str) -> dict[str, str]:
    """The answer links of a notice mail: choice → /r/{token}?choice=…"""
    return {unquote(m.group(2)): m.group(1) + "?choice=" + m.group(2)
            for m in re.finditer(r"http://testserver(/r/[A-Za-z0-9_-]+)\?choice=([^\s\"]+)", text)}


async def token_of(household_id: int) -> str:
    row = await Delivery.select(Delivery.token).where(Delivery.household == household_id).first()
    return row["token"]
