"""Which LINE channel serves an association, and its credentials.

The tenant file names the channel id and the *names* of two environment variables
(access token, channel secret); the secrets themselves never reach the repository or the
database. An association without its own channel uses its city's shared channel.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chonaikai.tenancy.tables import Association, City


class LineNotConfigured(Exception):
    """No channel, or its environment variables are unset: said plainly to officers."""


@dataclass(frozen=True)
class LineChannel:
    channel_id: str
    access_token: str
    secret: str
    shared: bool  # the city's channel, used by several associations

    def __repr__(self) -> str:  # never print secrets in logs
        return f"LineChannel({self.channel_id!r}, shared={self.shared})"


def _spec(raw: Any) -> dict[str, str]:
    if isinstance(raw, str):
        raw = json.loads(raw or "{}")
    return raw or {}


def channel_from_spec(spec: Mapping[str, str], *, shared: bool, environ: Mapping[str, str] | None = None) -> LineChannel:
    env = os.environ if environ is None else environ
    channel_id = spec.get("channel_id", "")
    if not channel_id:
        raise LineNotConfigured("LINEのチャネルが設定されていません")
    token = env.get(spec.get("access_token_env", ""), "")
    secret = env.get(spec.get("channel_secret_env", ""), "")
    if not token or not secret:
        raise LineNotConfigured(
            f"LINEチャネル {channel_id} の環境変数 {spec.get('access_token_env')} / "
            f"{spec.get('channel_secret_env')} が設定されていません"
        )
    return LineChannel(channel_id=channel_id, access_token=token, secret=secret, shared=shared)


def effective_spec(association_row: Mapping[str, Any], city_row: Mapping[str, Any] | None) -> tuple[dict[str, str], bool]:
    """The association's own channel spec, else the city's shared one (spec, shared?)."""
    own = _spec(association_row.get("line_channel"))
    if own.get("channel_id"):
        return own, False
    city = _spec(city_row.get("line_channel")) if city_row else {}
    return city, True


async def channel_for_association(association_id: int) -> LineChannel:
    row = await Association.select(Association.line_channel, Association.city).where(
        Association.id == association_id
    ).first()
    if row is None:
        raise LineNotConfigured("町内会が見つかりません")
    city = await City.select(City.line_channel).where(City.id == row["city"]).first()
    spec, shared = effective_spec(row, city)
    return channel_from_spec(spec, shared=shared)


async def channel_id_for_association(association_id: int) -> str:
    """The channel id only (no secrets needed): for grouping and for checking webhooks."""
    row = await Association.select(Association.line_channel, Association.city).where(
        Association.id == association_id
    ).first()
    if row is None:
        return ""
    city = await City.select(City.line_channel).where(City.id == row["city"]).first()
    spec, _ = effective_spec(row, city)
    return spec.get("channel_id", "")


async def channel_by_id(channel_id: str) -> LineChannel | None:
    """The channel a webhook names in its path: an association's own, or a city's shared one."""
    for table, shared in ((Association, False), (City, True)):
        for row in await table.select(table.line_channel):
            spec = _spec(row["line_channel"])
            if spec.get("channel_id") == channel_id:
                try:
                    return channel_from_spec(spec, shared=shared)
                except LineNotConfigured:
                    return None
    return None
