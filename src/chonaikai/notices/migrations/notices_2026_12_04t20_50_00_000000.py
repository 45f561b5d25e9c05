from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-04T20:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "search: pages in board order (an index of the board's order without the status first)"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="notices", description=DESCRIPTION)

    async def create():
        from chonaikai.db import is_postgres
        from chonaikai.notices import search
        from chonaikai.notices.tables import Notice

        await Notice.raw(search.SEARCH_ORDER_CREATE["postgres" if is_postgres() else "sqlite"])

    async def drop():
        from chonaikai.notices import search
        from chonaikai.notices.tables import Notice

        await Notice.raw(search.SEARCH_ORDER_DROP)

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
