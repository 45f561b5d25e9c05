"""Tenant files: one TOML file per city and per association under ``tenants/``.

``sync_tenants`` reads every file first and refuses the whole set if any file is
bad (naming the file and the field), so a typo never half-applies. Applying the
same files twice changes nothing.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from chonaikai.db import write_transaction
from chonaikai.roster.tables import Han
from chonaikai.tenancy.tables import Association, City

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
HOST_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
ENV_NAME_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")


class TenantFileError(Exception):
    def __init__(self, path: Path, field_name: str, message: str) -> None:
        self.path = path
        self.field_name = field_name
        super().__init__(f"{path.name}: {field_name}: {message}")


def municipality_check_digit(first_five: str) -> str:
    """Check digit of a 全国地方公共団体コード (weights 6..2, modulus 11)."""
    total = sum(int(digit) * weight for digit, weight in zip(first_five, (6, 5, 4, 3, 2), strict=True))
    return str((11 - total % 11) % 10)


def is_municipality_code(code: str) -> bool:
    return bool(re.fullmatch(r"\d{6}", code)) and municipality_check_digit(code[:5]) == code[5]


@dataclass
class LineChannelSpec:
    channel_id: str = ""
    access_token_env: str = ""
    channel_secret_env: str = ""

    def as_json(self) -> dict[str, str]:
        if not self.channel_id:
            return {}
        return {
            "channel_id": self.channel_id,
            "access_token_env": self.access_token_env,
            "channel_secret_env": self.channel_secret_env,
        }


@dataclass
class CitySpec:
    path: Path
    slug: str
    name: str
    kana: str
    municipality_code: str
    prefecture: str
    line: LineChannelSpec
    time_zone: str = ""


@dataclass
class AssociationSpec:
    path: Path
    slug: str
    name: str
    kana: str
    city: str
    district: str
    contact: str
    introduction: str
    hosts: list[str]
    public_officers: list[dict[str, str]]
    han: list[str]
    auto_forward_circulars: bool
    line: LineChannelSpec
    demo: dict[str, Any] = field(default_factory=dict)
    links: list[dict[str, str]] = field(default_factory=list)
    show_poster_name: bool = True


class _Fields:
    """Typed access to one file's table, raising TenantFileError with the field's name."""

    def __init__(self, path: Path, data: dict[str, Any], prefix: str = "") -> None:
        self.path, self.data, self.prefix = path, data, prefix

    def error(self, name: str, message: str) -> TenantFileError:
        return TenantFileError(self.path, f"{self.prefix}{name}", message)

    def text(self, name: str, *, required: bool = False, max_length: int = 10_000) -> str:
        value = self.data.get(name)
        if value is None:
            if required:
                raise self.error(name, "is required")
            return ""
        if not isinstance(value, str):
            raise self.error(name, "must be text in quotes")
        value = value.strip()
        if required and not value:
            raise self.error(name, "must not be empty")
        if len(value) > max_length:
            raise self.error(name, f"is longer than {max_length} characters")
        return value

    def slug(self, name: str) -> str:
        value = self.text(name, required=True, max_length=64)
        if not SLUG_RE.match(value):
            raise self.error(name, "must be lower-case letters, digits and hyphens, like 'sakura-1'")
        return value

    def text_list(self, name: str) -> list[str]:
        value = self.data.get(name, [])
        if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
            raise self.error(name, "must be a list of non-empty texts, like [\"1班\", \"2班\"]")
        return [item.strip() for item in value]

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self.data.get(name, default)
        if not isinstance(value, bool):
            raise self.error(name, "must be true or false")
        return value

    def table(self, name: str) -> dict[str, Any]:
        value = self.data.get(name, {})
        if not isinstance(value, dict):
            raise self.error(name, "must be a table ([" + name + "])")
        return value


def _line(fields: _Fields) -> LineChannelSpec:
    data = fields.table("line")
    line = _Fields(fields.path, data, "line.")
    spec = LineChannelSpec(
        channel_id=line.text("channel_id", max_length=64),
        access_token_env=line.text("access_token_env", max_length=100),
        channel_secret_env=line.text("channel_secret_env", max_length=100),
    )
    for secret_field in ("access_token", "channel_secret"):
        if secret_field in data:
            raise line.error(secret_field, "secrets never go in this file: name an environment variable with "
                             f"{secret_field}_env")
    if spec.channel_id:
        for name in ("access_token_env", "channel_secret_env"):
            value = getattr(spec, name)
            if not ENV_NAME_RE.match(value):
                raise line.error(name, "must name an environment variable in capitals, like LINE_TOKEN_SAKURA")
    return spec


class LinkError(ValueError):
    """A link that cannot be shown; the message says why."""


def clean_link(title: str, url: str) -> dict[str, str]:
    """{"title", "url"} for an http(s) address; LinkError otherwise (no javascript:, no data:)."""
    url = (url or "").strip()
    title = (title or "").strip()[:60]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url):
        raise LinkError("https:// で始まるアドレスを書いてください。")
    if len(url) > 500:
        raise LinkError("アドレスが長すぎます（500文字まで）。")
    return {"title": title or parts.netloc, "url": url}


def _time_zone(fields: _Fields) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = fields.text("time_zone", max_length=64)
    if name:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise fields.error("time_zone", "must be a time zone name like \"Asia/Tokyo\"") from None
    return name


def _links(fields: _Fields, data: dict[str, Any]) -> list[dict[str, str]]:
    links = data.get("links", [])
    if not isinstance(links, list):
        raise fields.error("links", "must be a list of [[links]] tables")
    result = []
    for index, link in enumerate(links, start=1):
        if not isinstance(link, dict):
            raise fields.error(f"links[{index}]", "must be a table with title and url")
        link_fields = _Fields(fields.path, link, f"links[{index}].")
        try:
            result.append(clean_link(link_fields.text("title", max_length=60), link_fields.text("url", max_length=500)))
        except LinkError as error:
            raise link_fields.error("url", str(error)) from None
    return result


def parse_tenant_file(path: Path) -> CitySpec | AssociationSpec:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise TenantFileError(path, "(file)", "is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as error:
        raise TenantFileError(path, "(file)", f"is not valid TOML: {error}") from None
    fields = _Fields(path, data)
    kind = fields.text("kind", required=True)
    if kind == "city":
        code = fields.text("municipality_code", required=True)
        if not is_municipality_code(code):
            raise fields.error("municipality_code", "must be the 6-digit 全国地方公共団体コード with its check digit")
        return CitySpec(
            path=path,
            slug=fields.slug("slug"),
            name=fields.text("name", required=True, max_length=100),
            kana=fields.text("kana", max_length=200),
            municipality_code=code,
            prefecture=fields.text("prefecture", max_length=20),
            line=_line(fields),
            time_zone=_time_zone(fields),
        )
    if kind == "association":
        hosts = [host.lower() for host in fields.text_list("hosts")]
        for host in hosts:
            if not HOST_RE.match(host):
                raise fields.error("hosts", f"{host!r} is not a host name like www.example.jp")
        officers = data.get("officers", [])
        if not isinstance(officers, list):
            raise fields.error("officers", "must be a list of [[officers]] tables")
        public_officers = []
        for index, officer in enumerate(officers, start=1):
            if not isinstance(officer, dict):
                raise fields.error(f"officers[{index}]", "must be a table with title and name")
            officer_fields = _Fields(path, officer, f"officers[{index}].")
            public_officers.append(
                {
                    "title": officer_fields.text("title", required=True, max_length=30),
                    "name": officer_fields.text("name", max_length=60),
                }
            )
        return AssociationSpec(
            path=path,
            slug=fields.slug("slug"),
            name=fields.text("name", required=True, max_length=150),
            kana=fields.text("kana", max_length=300),
            city=fields.slug("city"),
            district=fields.text("district", max_length=100),
            contact=fields.text("contact", max_length=2000),
            introduction=fields.text("introduction", max_length=10_000),
            hosts=hosts,
            public_officers=public_officers,
            han=fields.text_list("han"),
            auto_forward_circulars=fields.boolean("auto_forward_circulars"),
            line=_line(fields),
            demo=fields.table("demo"),
            links=_links(fields, data),
            show_poster_name=fields.boolean("show_poster_name", default=True),
        )
    raise fields.error("kind", "must be \"city\" or \"association\"")


def read_tenant_dir(directory: Path) -> tuple[list[CitySpec], list[AssociationSpec]]:
    """Parse every ``*.toml`` in ``directory`` (sub-folders included) and check them as a set."""
    if not directory.is_dir():
        raise TenantFileError(directory, "(folder)", "does not exist")
    cities: list[CitySpec] = []
    associations: list[AssociationSpec] = []
    for path in sorted(directory.rglob("*.toml")):
        spec = parse_tenant_file(path)
        (cities if isinstance(spec, CitySpec) else associations).append(spec)

    seen: dict[str, Path] = {}
    for spec in [*cities, *associations]:
        key = f"{type(spec).__name__}:{spec.slug}"
        if key in seen:
            raise TenantFileError(spec.path, "slug", f"{spec.slug!r} is already used by {seen[key].name}")
        seen[key] = spec.path
    hosts: dict[str, Path] = {}
    for association in associations:
        for host in association.hosts:
            if host in hosts:
                raise TenantFileError(association.path, "hosts", f"{host!r} is already used by {hosts[host].name}")
            hosts[host] = association.path
    return cities, associations


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)


def _differs(row: dict[str, Any], values: dict[str, Any]) -> bool:
    return any(row.get(key) != value for key, value in values.items())


async def sync_tenants(directory: Path) -> SyncReport:
    """Create or update every city and association described in ``directory``; all or nothing."""
    cities, associations = read_tenant_dir(directory)
    report = SyncReport()
    now = datetime.now(UTC)
    async with write_transaction():
        known_cities = {row["slug"]: row for row in await City.select().output(load_json=True)}
        city_ids: dict[str, int] = {slug: row["id"] for slug, row in known_cities.items()}
        for spec in cities:
            values = {
                "name": spec.name,
                "kana": spec.kana,
                "municipality_code": spec.municipality_code,
                "prefecture": spec.prefecture,
                "line_channel": spec.line.as_json(),
                "time_zone": spec.time_zone,
            }
            row = known_cities.get(spec.slug)
            if row is None:
                created = await City.insert(City(slug=spec.slug, updated_at=now, **values)).returning(City.id)
                city_ids[spec.slug] = created[0]["id"]
                report.created.append(f"city {spec.slug}")
            elif _differs(row, values):
                await City.update({**values, City.updated_at: now}).where(City.id == row["id"])
                report.updated.append(f"city {spec.slug}")
            else:
                report.unchanged.append(f"city {spec.slug}")

        for spec in associations:
            if spec.city not in city_ids:
                raise TenantFileError(spec.path, "city", f"no city with slug {spec.city!r}")
        known = {row["slug"]: row for row in await Association.select().output(load_json=True)}
        for spec in associations:
            values = {
                "name": spec.name,
                "kana": spec.kana,
                "city": city_ids[spec.city],
                "district": spec.district,
                "contact": spec.contact,
                "introduction": spec.introduction,
                "public_officers": spec.public_officers,
                "hosts": spec.hosts,
                "line_channel": spec.line.as_json(),
                "auto_forward_circulars": spec.auto_forward_circulars,
                "links": spec.links,
                "show_poster_name": spec.show_poster_name,
            }
            row = known.get(spec.slug)
            if row is not None:
                # What officers changed on the homepage settings page wins over the file.
                for name in row.get("officer_edited") or []:
                    values.pop(name, None)
            if row is None:
                created = await Association.insert(
                    Association(slug=spec.slug, updated_at=now, **values)
                ).returning(Association.id)
                association_id = created[0]["id"]
                report.created.append(f"association {spec.slug}")
            else:
                association_id = row["id"]
                if _differs(row, values):
                    await Association.update({**values, Association.updated_at: now}).where(
                        Association.id == association_id
                    )
                    report.updated.append(f"association {spec.slug}")
                else:
                    report.unchanged.append(f"association {spec.slug}")
            await _ensure_han(association_id, spec.han, spec.slug, report)
    return report


async def _ensure_han(association_id: int, names: list[str], slug: str, report: SyncReport) -> None:
    """Create the 班 the file names; never delete one (households may belong to it)."""
    existing = {row["name"] for row in await Han.select(Han.name).where(Han.association == association_id)}
    missing = [(position, name) for position, name in enumerate(names) if name not in existing]
    if missing:
        await Han.insert(
            *[Han(association=association_id, name=name, position=position) for position, name in missing]
        )
        if f"association {slug}" in report.unchanged:
            report.unchanged.remove(f"association {slug}")
            report.updated.append(f"association {slug}")
