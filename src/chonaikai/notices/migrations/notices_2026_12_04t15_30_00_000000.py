from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-04T15:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "page_change: triggers note which association's pages changed, for every web process (page_changes.py)"

_SQLITE_NOW = "((julianday('now') - 2440587.5) * 86400.0)"
_POSTGRES_NOW = "extract(epoch FROM clock_timestamp())"

# (table, events, the slug the row's pages live under)
_WATCHED = [
    ("notice", ("INSERT", "UPDATE", "DELETE"), "(SELECT slug FROM association WHERE id = {row}.association)"),
    ("attachment", ("INSERT", "DELETE"), "(SELECT slug FROM association WHERE id = {row}.association)"),
    ("association", ("INSERT", "UPDATE", "DELETE"), "{row}.slug"),
    ("city", ("UPDATE", "DELETE"), "'*'"),
]


def sqlite_create() -> list[str]:
    statements = [
        "CREATE TABLE page_change (id INTEGER PRIMARY KEY AUTOINCREMENT, slug TEXT NOT NULL, changed_at REAL NOT NULL)",
        "CREATE INDEX page_change_at ON page_change (changed_at)",
    ]
    for table, events, slug in _WATCHED:
        for event in events:
            row = "old" if event == "DELETE" else "new"
            statements.append(
                f"CREATE TRIGGER {table}_page_change_{event.lower()} AFTER {event} ON {table} BEGIN "
                f"INSERT INTO page_change (slug, changed_at) SELECT {slug.format(row=row)}, {_SQLITE_NOW} "
                f"WHERE {slug.format(row=row)} IS NOT NULL; END"
            )
    return statements


def sqlite_drop() -> list[str]:
    return [
        f"DROP TRIGGER {table}_page_change_{event.lower()}" for table, events, _ in _WATCHED for event in events
    ] + ["DROP TABLE page_change"]


def postgres_create() -> list[str]:
    statements = [
        "CREATE TABLE page_change (id BIGSERIAL PRIMARY KEY, slug TEXT NOT NULL, changed_at DOUBLE PRECISION NOT NULL)",
        "CREATE INDEX page_change_at ON page_change (changed_at)",
    ]
    for table, _, slug in _WATCHED:
        statements.append(
            f"CREATE FUNCTION {table}_page_change() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            "DECLARE changed_slug TEXT;\n"
            "BEGIN\n"
            f"  IF TG_OP = 'DELETE' THEN changed_slug := {slug.format(row='OLD')};\n"
            f"  ELSE changed_slug := {slug.format(row='NEW')}; END IF;\n"
            "  IF changed_slug IS NOT NULL THEN\n"
            f"    INSERT INTO page_change (slug, changed_at) VALUES (changed_slug, {_POSTGRES_NOW});\n"
            "  END IF;\n"
            "  RETURN NULL;\n"
            "END $$"
        )
    for table, events, _ in _WATCHED:
        statements.append(
            f"CREATE TRIGGER {table}_page_change AFTER {' OR '.join(events)} ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_page_change()"
        )
    return statements


def postgres_drop() -> list[str]:
    return [f"DROP TRIGGER {table}_page_change ON {table}" for table, _, _ in _WATCHED] + [
        f"DROP FUNCTION {table}_page_change()" for table, _, _ in _WATCHED
    ] + ["DROP TABLE page_change"]


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
