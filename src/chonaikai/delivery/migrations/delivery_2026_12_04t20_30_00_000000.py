from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-04T20:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "delivery: due, leased and retry-group rows in partial indexes; the redundant notice index dropped"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="delivery", description=DESCRIPTION)

    async def narrow_indexes():
        from chonaikai.delivery.tables import Delivery

        # Every claim (pending -> sending) and every finish (sending -> sent) changes an indexed
        # column, so on PostgreSQL each writes a new entry into every index of the row's new
        # version whose predicate it meets; that was 8 indexes twice a row, and most of the
        # server's time in a LINE fan-out (docs/performance.md, LINE sending). An index that
        # holds only the rows a search looks for is not written at all by the other states:
        # the due rows (pending) and the leased rows (sending) in indexes of their own, and
        # (notice) is already the head of (notice, household). Both databases use a partial
        # index when the query repeats its condition.
        await Delivery.raw("DROP INDEX delivery_due")
        await Delivery.raw("DROP INDEX delivery_urgent_due")
        await Delivery.raw("DROP INDEX delivery_notice")
        await Delivery.raw("CREATE INDEX delivery_due ON delivery (next_attempt_at) WHERE status = 'pending'")
        await Delivery.raw(
            "CREATE INDEX delivery_urgent_due ON delivery (priority, next_attempt_at) "
            "WHERE status = 'pending' AND priority > 0"
        )
        await Delivery.raw("CREATE INDEX delivery_leased ON delivery (lease_until) WHERE status = 'sending'")
        # The rest of a retry group (store.claim_retry_groups): rows waiting with a key of an
        # earlier try. Few; before, that search read every pending row (SQLite: the table).
        await Delivery.raw(
            "CREATE INDEX delivery_retry_group ON delivery (retry_key) WHERE status = 'pending' AND retry_key IS NOT NULL"
        )

    async def wide_indexes():
        from chonaikai.delivery.tables import Delivery

        await Delivery.raw("DROP INDEX delivery_retry_group")
        await Delivery.raw("DROP INDEX delivery_leased")
        await Delivery.raw("DROP INDEX delivery_urgent_due")
        await Delivery.raw("DROP INDEX delivery_due")
        await Delivery.raw("CREATE INDEX delivery_notice ON delivery (notice)")
        await Delivery.raw("CREATE INDEX delivery_due ON delivery (status, next_attempt_at)")
        await Delivery.raw(
            "CREATE INDEX delivery_urgent_due ON delivery (status, next_attempt_at) WHERE priority > 0"
        )

    manager.add_raw(narrow_indexes)
    manager.add_raw_backwards(wide_indexes)
    return manager
