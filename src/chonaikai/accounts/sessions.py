"""Server-side sessions stored in the database, so every web process (and machine) shares them."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.stores.base import Store
from litestar.types import Empty, Message, ScopeSession

from chonaikai.accounts.signed_in_cache import signed_in_cache
from chonaikai.accounts.tables import WebSession
from chonaikai.db import fetch_rows

log = logging.getLogger(__name__)
SESSION_COOKIE = "chonaikai_session"
# Members should rarely have to sign in again: 90 days, renewed on use (at most once a day).
SESSION_MAX_AGE = 90 * 24 * 3600


def _expiry(expires_in: int | timedelta | None) -> datetime | None:
    if expires_in is None:
        return None
    seconds = expires_in.total_seconds() if isinstance(expires_in, timedelta) else expires_in
    return datetime.now(UTC) + timedelta(seconds=seconds)


def _worth_renewing(expires_at: datetime, renew_for: int | timedelta) -> bool:
    # Renew at most once a day: otherwise every page view of a signed-in member is a write.
    renewed = _expiry(renew_for)
    return renewed is not None and renewed - expires_at > timedelta(days=1)


def _stored_key(key: str) -> str:
    # Only a hash of the session id is stored: a leaked backup holds no usable session.
    return hashlib.sha256(key.encode()).hexdigest()


class DatabaseStore(Store):
    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        signed_in_cache.forget(("session", key))
        data = value.encode() if isinstance(value, str) else value
        expires_at = _expiry(expires_in)
        updated = await WebSession.update({WebSession.value: data, WebSession.expires_at: expires_at}).where(
            WebSession.key == _stored_key(key)
        ).returning(WebSession.id)
        if not updated:
            await WebSession.insert(WebSession(key=_stored_key(key), value=data, expires_at=expires_at))

    async def get_with_expiry(self, key: str) -> tuple[bytes, datetime | None] | None:
        """The session's data and expiry, without writing anything (an expired row is removed)."""
        rows = await fetch_rows("SELECT value, expires_at FROM web_session WHERE key = {}", _stored_key(key))
        if not rows:
            return None
        row = rows[0]
        if row["expires_at"] is not None and row["expires_at"] <= datetime.now(UTC):
            try:
                await self.delete(key)
            except Exception:  # bookkeeping: purge_expired_sessions removes it later anyway
                log.warning("expired session not removed now", exc_info=True)
            return None
        return bytes(row["value"]), row["expires_at"]

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        found = await self.get_with_expiry(key)
        if found is None:
            return None
        data, expires_at = found
        if renew_for is not None and expires_at is not None and _worth_renewing(expires_at, renew_for):
            await WebSession.update({WebSession.expires_at: _expiry(renew_for)}).where(WebSession.key == _stored_key(key))
        return data

    async def delete(self, key: str) -> None:
        signed_in_cache.forget(("session", key))
        await WebSession.delete().where(WebSession.key == _stored_key(key))

    async def delete_all(self) -> None:
        await WebSession.delete(force=True)

    async def exists(self, key: str) -> bool:
        return await self.get(key) is not None

    async def expires_in(self, key: str) -> int | None:
        row = await WebSession.select(WebSession.expires_at).where(WebSession.key == _stored_key(key)).first()
        if row is None or row["expires_at"] is None:
            return None
        return int((row["expires_at"] - datetime.now(UTC)).total_seconds())


async def purge_expired_sessions() -> int:
    rows = await WebSession.delete().where(WebSession.expires_at < datetime.now(UTC)).returning(WebSession.id)
    return len(rows)


ROTATE_FLAG = "chonaikai_new_session_id"


def begin_session(request: Request, data: dict) -> None:
    """Sign someone in: a fresh session id every time, so an id planted in the browser
    before sign-in (session fixation) never becomes a signed-in session."""
    request.clear_session()
    request.set_session(data)
    request.state[ROTATE_FLAG] = True


def _kept_session(session_id: str) -> tuple[bytes, datetime | None] | None:
    """The session row as read less than a second ago on this process (signed_in_cache.py), if
    it has not expired since."""
    found = signed_in_cache.get(("session", session_id))
    if found is not None and found[1] is not None and found[1] <= datetime.now(UTC):
        return None  # expired: the store removes it
    return found


LOADED = "chonaikai_session_loaded"  # connection state: (data, expires_at) as read at the start


async def read_session(store: DatabaseStore, session_id: str, state: Any) -> tuple[bytes, datetime | None] | None:
    """The session row (data, expiry), kept or read with its person's rows in one statement; both
    are put into the connection's ``state`` for ``provide_principal`` and the answer's end.
    None: no such session, or it expired (then removed)."""
    found = _kept_session(session_id)
    if found is None:
        from chonaikai.accounts.principal import PERSON_ROWS, session_with_person

        generation = signed_in_cache.generation
        found, person = await session_with_person(_stored_key(session_id))
        if found is not None and found[1] is not None and found[1] <= datetime.now(UTC):
            found = await store.get_with_expiry(session_id)  # expired: removed there
        if found is None:
            return None
        state[PERSON_ROWS] = person
        signed_in_cache.keep_watched(("session", session_id), found, generation)
    state[LOADED] = found
    return found


def renewal_due(found: tuple[bytes, datetime | None]) -> bool:
    """The session's expiry is renewed (written) on this view: at most once a day."""
    return found[1] is not None and _worth_renewing(found[1], SESSION_MAX_AGE)


class QuietSessionBackend(ServerSideSessionBackend):
    """Litestar stores a session row (and sets a cookie) for every visitor, even one who never
    signed in, and with ``renew_on_access`` writes it back on every answer. Here:

    - most visitors read public pages: they get no session, no cookie and no write;
    - a signed-in page view whose session did not change writes nothing either; the expiry (and
      the cookie's Max-Age) is renewed at most once a day, and that renewal is bookkeeping: if the
      database is busy the answer goes out anyway and the next day's view renews it;
    - signing in or out (the data changed) is written as before, and a write that fails fails
      the request before any of its answer was sent.
    """

    async def load_from_connection(self, connection: ASGIConnection) -> dict:
        session_id = connection.cookies.get(self.config.key)
        if not session_id:
            return {}
        store = self.config.get_store_from_app(connection.scope["app"])
        if not isinstance(store, DatabaseStore):
            return await super().load_from_connection(connection)
        found = await read_session(store, session_id, connection.state)
        return {} if found is None else self.deserialize_data(found[0])

    def _unchanged(self, scope_session: ScopeSession, connection: ASGIConnection) -> tuple[bool, bool]:
        """(data unchanged since it was loaded, expiry due for renewal)."""
        loaded = connection.state.get(LOADED)
        if loaded is None or connection.state.get(ROTATE_FLAG) is not None:
            return False, False
        data, expires_at = loaded
        if self.serialize_data(scope_session, connection.scope) != data:
            return False, False
        due = expires_at is not None and _worth_renewing(expires_at, self.config.max_age)
        return True, due

    async def store_in_message(self, scope_session: ScopeSession, message: Message, connection: ASGIConnection) -> None:
        has_cookie = bool(connection.cookies.get(self.config.key))
        if (scope_session is Empty or not scope_session) and not has_cookie:
            return
        if not scope_session:
            scope_session = Empty  # signed out: delete the row and the cookie
        elif connection.state.get(ROTATE_FLAG) is True:
            old_id = connection.cookies.get(self.config.key)
            if old_id:
                await self.delete(old_id, store=self.config.get_store_from_app(connection.scope["app"]))
            connection.state[ROTATE_FLAG] = self.generate_session_id()
        else:
            unchanged, due = self._unchanged(scope_session, connection)
            if unchanged:
                if due:
                    try:
                        await super().store_in_message(scope_session, message, connection)
                    except Exception:
                        log.warning("session renewal not written; the answer goes out anyway", exc_info=True)
                return
        await super().store_in_message(scope_session, message, connection)

    def get_session_id(self, connection: ASGIConnection) -> str:
        rotated = connection.state.get(ROTATE_FLAG)
        if isinstance(rotated, str):
            return rotated
        return super().get_session_id(connection)


@dataclass
class QuietSessionConfig(ServerSideSessionConfig):
    _backend_class = QuietSessionBackend


def session_config(secure: bool) -> ServerSideSessionConfig:
    return QuietSessionConfig(
        key=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        renew_on_access=True,
        secure=secure,
        httponly=True,
        samesite="lax",
        store="sessions",
        # /api/ authenticates by bearer token only (it is exempt from CSRF): the session
        # cookie is not even read there. Browser pages have their own JSON (receipts.json).
        exclude=["^/static/", "^/healthz", "^/api/"],
    )
