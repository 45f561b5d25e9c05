from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-04T18:15:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "PostgreSQL: delivery pages keep 30 % free so writes of unindexed columns are HOT updates"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="delivery", description=DESCRIPTION)

    async def set_fillfactor():
        from chonaikai.db import is_postgres
        from chonaikai.delivery.tables import Delivery

        # Each delivery row is written two to four times after its insert (sent, opened,
        # confirmed, a retry). With full pages every such write is a new tuple on another page
        # plus an entry in each of the table's nine indexes; with room on the page, a write that
        # changes no indexed column stays on the
        # page and touches no index (a HOT update): "opened", written for every visitor of a
        # read link (bench/read.py, PostgreSQL: 0.73 -> 0.93 of hello). Status and confirmation
        # are indexed and still write their indexes. Applies to pages written from now on.
        if is_postgres():
            await Delivery.raw("ALTER TABLE delivery SET (fillfactor = 70)")

    async def reset_fillfactor():
        from chonaikai.db import is_postgres
        from chonaikai.delivery.tables import Delivery

        if is_postgres():
            await Delivery.raw("ALTER TABLE delivery RESET (fillfactor)")

    manager.add_raw(set_fillfactor)
    manager.add_raw_backwards(reset_fillfactor)
    return manager
