from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-04T18:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = (
    "search: two-character words through the trigrams that begin with them (SQLite fts5vocab), "
    "the board index covers a search's filters (SQLite), search_text ends with a line break"
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="notices", description=DESCRIPTION)

    async def create():
        from chonaikai.db import is_postgres
        from chonaikai.notices import search
        from chonaikai.notices.tables import Notice

        if is_postgres():
            await Notice.raw(search.END_WITH_LINE_BREAK["postgres"])
            return
        await Notice.raw(search.END_WITH_LINE_BREAK["sqlite"])
        for statement in search.SQLITE_TERMS_CREATE:
            await Notice.raw(statement)

    async def drop():
        from chonaikai.db import is_postgres
        from chonaikai.notices import search
        from chonaikai.notices.tables import Notice

        if not is_postgres():
            for statement in search.SQLITE_TERMS_DROP:
                await Notice.raw(statement)

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
