"""Settings read from the environment (prefix ``CHONAIKAI_``).

Every setting has a documented default so that a fresh clone runs with nothing
set. A bad value stops start-up with one line that names the variable.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEV_SECRET_KEY = "dev-only-secret-key-do-not-use-in-production-0123456789"
SMTP_TLS_MODES = ("none", "starttls", "tls")


class SettingsError(Exception):
    """A setting has a value we cannot use. The message names the variable."""


@dataclass(frozen=True)
class Settings:
    env: str = "dev"
    database_url: str = f"sqlite:///{PROJECT_ROOT / 'var' / 'chonaikai.sqlite3'}"
    base_url: str = "http://127.0.0.1:8000"
    secret_key: str = DEV_SECRET_KEY
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_tls: str = "none"
    smtp_connections: int = 4
    mail_from: str = "chonaikai <noreply@chonaikai.invalid>"
    line_api_base: str = "https://api.line.me"
    tenants_dir: Path = PROJECT_ROOT / "tenants"
    tenant_domain: str = ""
    upload_dir: Path = PROJECT_ROOT / "var" / "uploads"
    delivery_lease_seconds: int = 300
    delivery_max_attempts: int = 8
    delivery_retry_seconds: int = 60
    sqlite_read_connections: int = 4
    behind_proxy: bool = False
    tenant_cache_seconds: int = 5
    page_cache_seconds: int = 30
    session_cache_seconds: float = 1.0
    reminder_min_hours: int = 12
    time_zone: str = "Asia/Tokyo"
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite:")

    @property
    def is_dev(self) -> bool:
        return self.env in ("dev", "test")

    @property
    def using_dev_secret(self) -> bool:
        return self.secret_key == DEV_SECRET_KEY


# name -> (attribute, description, default shown in docs). Order is the order of `--help` and docs.
DOCUMENTED = {
    "CHONAIKAI_ENV": ("env", "dev | test | production", "dev"),
    "CHONAIKAI_DATABASE_URL": (
        "database_url",
        "sqlite:///path or postgresql://user@host:port/db (DATABASE_URL is read as a fallback)",
        "sqlite:///<repo>/var/chonaikai.sqlite3",
    ),
    "CHONAIKAI_BASE_URL": ("base_url", "public address used in links of e-mails", "http://127.0.0.1:8000"),
    "CHONAIKAI_SECRET_KEY": ("secret_key", "signs cookies and tokens; required outside dev", "(dev key)"),
    "CHONAIKAI_SMTP_HOST": ("smtp_host", "mail server", "127.0.0.1"),
    "CHONAIKAI_SMTP_PORT": ("smtp_port", "mail server port", "8025"),
    "CHONAIKAI_SMTP_USER": ("smtp_user", "mail server user (empty: no login)", ""),
    "CHONAIKAI_SMTP_PASSWORD": ("smtp_password", "mail server password", ""),
    "CHONAIKAI_SMTP_TLS": ("smtp_tls", "none | starttls | tls", "none"),
    "CHONAIKAI_SMTP_CONNECTIONS": ("smtp_connections", "parallel SMTP connections per worker", "4"),
    "CHONAIKAI_MAIL_FROM": ("mail_from", "From: of every e-mail", "chonaikai <noreply@chonaikai.invalid>"),
    "CHONAIKAI_LINE_API_BASE": ("line_api_base", "LINE Messaging API host", "https://api.line.me"),
    "CHONAIKAI_TENANTS_DIR": ("tenants_dir", "folder of tenant TOML files", "<repo>/tenants"),
    "CHONAIKAI_TENANT_DOMAIN": (
        "tenant_domain",
        "domain whose sub-domains name associations (slug.domain); empty: off",
        "",
    ),
    "CHONAIKAI_UPLOAD_DIR": ("upload_dir", "where attachments are stored", "<repo>/var/uploads"),
    "CHONAIKAI_DELIVERY_LEASE_SECONDS": (
        "delivery_lease_seconds",
        "how long a worker holds claimed deliveries",
        "300",
    ),
    "CHONAIKAI_DELIVERY_MAX_ATTEMPTS": (
        "delivery_max_attempts",
        "tries before a delivery is marked failed",
        "8",
    ),
    "CHONAIKAI_DELIVERY_RETRY_SECONDS": (
        "delivery_retry_seconds",
        "wait before the first retry; doubles each time (with jitter, at most 6 h)",
        "60",
    ),
    "CHONAIKAI_SQLITE_READ_CONNECTIONS": (
        "sqlite_read_connections",
        "SQLite connections kept open for queries outside transactions",
        "4",
    ),
    "CHONAIKAI_BEHIND_PROXY": (
        "behind_proxy",
        "1 when behind Fly's proxy: client address from Fly-Client-IP",
        "0",
    ),
    "CHONAIKAI_TENANT_CACHE_SECONDS": (
        "tenant_cache_seconds",
        "how long a web process reuses an association it looked up (0: never)",
        "5",
    ),
    "CHONAIKAI_PAGE_CACHE_SECONDS": (
        "page_cache_seconds",
        "how long a web process reuses a public page it rendered for visitors not signed in (0: never)",
        "30",
    ),
    "CHONAIKAI_SESSION_CACHE_SECONDS": (
        "session_cache_seconds",
        "how long a web process reuses a signed-in session and who it is (revocations elsewhere "
        "take effect within this; 0: never)",
        "1",
    ),
    "CHONAIKAI_REMINDER_MIN_HOURS": (
        "reminder_min_hours",
        "a household is reminded of one notice at most once in this many hours",
        "12",
    ),
    "CHONAIKAI_TIME_ZONE": (
        "time_zone",
        "time zone of every time shown or exported (a city's tenant file may name its own)",
        "Asia/Tokyo",
    ),
}


def _int(name: str, raw: str, *, minimum: int = 0, maximum: int = 1 << 31) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise SettingsError(f"{name} must be between {minimum} and {maximum}, got {value}")
    return value


def _float(name: str, raw: str, *, minimum: float = 0, maximum: float) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not minimum <= value <= maximum:  # also refuses nan
        raise SettingsError(f"{name} must be between {minimum} and {maximum}, got {raw}")
    return value


def _bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"{name} must be 1 or 0, got {raw!r}")


def _database_url(name: str, raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme == "sqlite":
        if not parts.path or parts.path == "/":
            raise SettingsError(f"{name} must name a file: sqlite:///path/to/file.sqlite3, got {raw!r}")
        return raw
    if parts.scheme in ("postgres", "postgresql"):
        if not parts.hostname:
            raise SettingsError(f"{name} must name a host: postgresql://user@host:5432/db, got {raw!r}")
        if not parts.path.strip("/"):
            raise SettingsError(f"{name} must name a database: postgresql://user@host:5432/db, got {raw!r}")
        return raw
    raise SettingsError(
        f"{name} must start with sqlite:/// or postgresql://, got {raw!r}"
    )


def _http_url(name: str, raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(f"{name} must be an http(s) address like https://example.jp, got {raw!r}")
    return raw.rstrip("/")


def _time_zone(name: str, raw: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"{name} must be a time zone name like Asia/Tokyo, got {raw!r}") from None
    return raw


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build settings from ``environ`` (default ``os.environ``); raise SettingsError on bad values."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}

    def get(name: str) -> str | None:
        value = env.get(name)
        return value if value not in (None, "") else None

    if (raw := get("CHONAIKAI_ENV")) is not None:
        if raw not in ("dev", "test", "production"):
            raise SettingsError(f"CHONAIKAI_ENV must be dev, test or production, got {raw!r}")
        values["env"] = raw

    db_name = "CHONAIKAI_DATABASE_URL" if get("CHONAIKAI_DATABASE_URL") else "DATABASE_URL"
    if (raw := get(db_name)) is not None:
        values["database_url"] = _database_url(db_name, raw)

    for name, attr in (("CHONAIKAI_BASE_URL", "base_url"), ("CHONAIKAI_LINE_API_BASE", "line_api_base")):
        if (raw := get(name)) is not None:
            values[attr] = _http_url(name, raw)

    if (raw := get("CHONAIKAI_SECRET_KEY")) is not None:
        if len(raw) < 32:
            raise SettingsError("CHONAIKAI_SECRET_KEY must be at least 32 characters long")
        values["secret_key"] = raw

    for name, attr in (
        ("CHONAIKAI_SMTP_HOST", "smtp_host"),
        ("CHONAIKAI_SMTP_USER", "smtp_user"),
        ("CHONAIKAI_SMTP_PASSWORD", "smtp_password"),
        ("CHONAIKAI_MAIL_FROM", "mail_from"),
        ("CHONAIKAI_TENANT_DOMAIN", "tenant_domain"),
    ):
        if (raw := get(name)) is not None:
            values[attr] = raw.strip()

    if (raw := get("CHONAIKAI_SMTP_PORT")) is not None:
        values["smtp_port"] = _int("CHONAIKAI_SMTP_PORT", raw, minimum=1, maximum=65535)
    if (raw := get("CHONAIKAI_SMTP_CONNECTIONS")) is not None:
        values["smtp_connections"] = _int("CHONAIKAI_SMTP_CONNECTIONS", raw, minimum=1, maximum=100)
    if (raw := get("CHONAIKAI_SMTP_TLS")) is not None:
        if raw not in SMTP_TLS_MODES:
            raise SettingsError(f"CHONAIKAI_SMTP_TLS must be one of none, starttls, tls, got {raw!r}")
        values["smtp_tls"] = raw
    if (raw := get("CHONAIKAI_DELIVERY_LEASE_SECONDS")) is not None:
        values["delivery_lease_seconds"] = _int(
            "CHONAIKAI_DELIVERY_LEASE_SECONDS", raw, minimum=5, maximum=86400
        )
    if (raw := get("CHONAIKAI_DELIVERY_MAX_ATTEMPTS")) is not None:
        values["delivery_max_attempts"] = _int("CHONAIKAI_DELIVERY_MAX_ATTEMPTS", raw, minimum=1, maximum=100)
    if (raw := get("CHONAIKAI_DELIVERY_RETRY_SECONDS")) is not None:
        values["delivery_retry_seconds"] = _int("CHONAIKAI_DELIVERY_RETRY_SECONDS", raw, minimum=1, maximum=86400)
    if (raw := get("CHONAIKAI_SQLITE_READ_CONNECTIONS")) is not None:
        values["sqlite_read_connections"] = _int(
            "CHONAIKAI_SQLITE_READ_CONNECTIONS", raw, minimum=1, maximum=64
        )
    if (raw := get("CHONAIKAI_BEHIND_PROXY")) is not None:
        values["behind_proxy"] = _bool("CHONAIKAI_BEHIND_PROXY", raw)
    if (raw := get("CHONAIKAI_TENANT_CACHE_SECONDS")) is not None:
        values["tenant_cache_seconds"] = _int("CHONAIKAI_TENANT_CACHE_SECONDS", raw, minimum=0, maximum=3600)
    if (raw := get("CHONAIKAI_PAGE_CACHE_SECONDS")) is not None:
        values["page_cache_seconds"] = _int("CHONAIKAI_PAGE_CACHE_SECONDS", raw, minimum=0, maximum=3600)
    if (raw := get("CHONAIKAI_SESSION_CACHE_SECONDS")) is not None:
        values["session_cache_seconds"] = _float("CHONAIKAI_SESSION_CACHE_SECONDS", raw, minimum=0, maximum=2)
    if (raw := get("CHONAIKAI_REMINDER_MIN_HOURS")) is not None:
        values["reminder_min_hours"] = _int("CHONAIKAI_REMINDER_MIN_HOURS", raw, minimum=0, maximum=24 * 14)

    if (raw := get("CHONAIKAI_TIME_ZONE")) is not None:
        values["time_zone"] = _time_zone("CHONAIKAI_TIME_ZONE", raw.strip())

    for name, attr in (("CHONAIKAI_TENANTS_DIR", "tenants_dir"), ("CHONAIKAI_UPLOAD_DIR", "upload_dir")):
        if (raw := get(name)) is not None:
            values[attr] = Path(raw).expanduser().resolve()
    if "tenants_dir" in values and not Path(values["tenants_dir"]).is_dir():  # type: ignore[arg-type]
        raise SettingsError(f"CHONAIKAI_TENANTS_DIR must be an existing folder, got {get('CHONAIKAI_TENANTS_DIR')!r}")

    settings = Settings(**values)  # type: ignore[arg-type]
    if settings.using_dev_secret and not settings.is_dev:
        raise SettingsError("CHONAIKAI_SECRET_KEY must be set when CHONAIKAI_ENV is production")
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    settings = load_settings()
    if settings.using_dev_secret and settings.env == "dev":
        log.warning(
            "CHONAIKAI_SECRET_KEY is not set: using the built-in development key. "
            "Never run like this on the internet."
        )
    return settings
