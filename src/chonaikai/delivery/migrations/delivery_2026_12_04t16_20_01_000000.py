from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-04T16:20:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "partial index of due urgent deliveries (priority > 0) for the claim's first search"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="delivery", description=DESCRIPTION)

    async def add_index():
        from chonaikai.delivery.tables import Delivery

        # Only urgent rows: tiny, and the claim's first search walks it in order (both databases
        # use a partial index when the query repeats its condition).
        await Delivery.raw(
            "CREATE INDEX delivery_urgent_due ON delivery (status, next_attempt_at) WHERE priority > 0"
        )

    async def drop_index():
        from chonaikai.delivery.tables import Delivery

        await Delivery.raw("DROP INDEX delivery_urgent_due")

    manager.add_raw(add_index)
    manager.add_raw_backwards(drop_index)
    return manager
