from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-04T20:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = (
    "page_change also notes changes to who may see what (a session ended or changed, a role grant, "
    "an account, a household's 班, credentials or moving out) as '~access': every web process forgets "
    "its kept sessions within a second (page_changes.py, accounts/signed_in_cache.py)"
)

ACCESS = "~access"  # page_changes.ACCESS
_SQLITE_NOW = "((julianday('now') - 2440587.5) * 86400.0)"
_POSTGRES_NOW = "extract(epoch FROM clock_timestamp())"

# (table, event, condition on old/new rows or None): what a kept session, principal or viewer
# was read from (accounts/principal.py, notices/logic.load_viewer). A household's own new row,
# an account's first row and a session's renewal (its expiry only) change nobody's access.
_WATCHED = [
    ("web_session", "DELETE", None),
    ("web_session", "UPDATE", "old.value IS DISTINCT FROM new.value"),
    ("role_grant", "INSERT", None),
    ("role_grant", "UPDATE", None),
    ("role_grant", "DELETE", None),
    ("account", "UPDATE", None),
    ("account", "DELETE", None),
    ("household", "UPDATE", "old.han IS DISTINCT FROM new.han OR old.credential_epoch IS DISTINCT FROM "
                            "new.credential_epoch OR old.moved_out IS DISTINCT FROM new.moved_out OR "
                            "old.association IS DISTINCT FROM new.association"),
    ("household", "DELETE", None),
]


def _name(table: str, event: str) -> str:
    return f"{table}_access_change_{event.lower()}"


def sqlite_create() -> list[str]:
    statements = []
    for table, event, condition in _WATCHED:
        when = f" WHEN {condition.replace('IS DISTINCT FROM', 'IS NOT')}" if condition else ""
        statements.append(
            f"CREATE TRIGGER {_name(table, event)} AFTER {event} ON {table} FOR EACH ROW{when} BEGIN "
            f"INSERT INTO page_change (slug, changed_at) VALUES ('{ACCESS}', {_SQLITE_NOW}); END"
        )
    return statements


def sqlite_drop() -> list[str]:
    return [f"DROP TRIGGER {_name(table, event)}" for table, event, _ in _WATCHED]


def postgres_create() -> list[str]:
    statements = [
        "CREATE FUNCTION access_page_change() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN\n"
        f"  INSERT INTO page_change (slug, changed_at) VALUES ('{ACCESS}', {_POSTGRES_NOW});\n"
        "  RETURN NULL;\n"
        "END $$"
    ]
    for table, event, condition in _WATCHED:
        when = f" WHEN ({condition.replace('old.', 'OLD.').replace('new.', 'NEW.')})" if condition else ""
        statements.append(
            f"CREATE TRIGGER {_name(table, event)} AFTER {event} ON {table} FOR EACH ROW{when} "
            "EXECUTE FUNCTION access_page_change()"
        )
    return statements


def postgres_drop() -> list[str]:
    return [f"DROP TRIGGER {_name(table, event)} ON {table}" for table, event, _ in _WATCHED] + [
        "DROP FUNCTION access_page_change()"
    ]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="notices", description=DESCRIPTION)

    async def create():
        from chonaikai.db import is_postgres
        from chonaikai.notices.tables import Notice

        for statement in postgres_create() if is_postgres() else sqlite_create():
            await Notice.raw(statement)

    async def drop():
        from chonaikai.db import is_postgres
        from chonaikai.notices.tables import Notice

        for statement in postgres_drop() if is_postgres() else sqlite_drop():
            await Notice.raw(statement)

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
