from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-23T10:51:11:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique (notice, household); index for claiming due deliveries"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="delivery", description=DESCRIPTION)

    async def add_indexes():
        # Piccolo has no composite indexes; these statements work on SQLite and PostgreSQL alike.
        from chonaikai.delivery.tables import Delivery

        await Delivery.raw("CREATE UNIQUE INDEX delivery_notice_household ON delivery (notice, household)")
        await Delivery.raw("CREATE INDEX delivery_due ON delivery (status, next_attempt_at)")

    async def drop_indexes():
        from chonaikai.delivery.tables import Delivery

        await Delivery.raw("DROP INDEX delivery_due")
        await Delivery.raw("DROP INDEX delivery_notice_household")

    manager.add_raw(add_indexes)
    manager.add_raw_backwards(drop_indexes)
    return manager
