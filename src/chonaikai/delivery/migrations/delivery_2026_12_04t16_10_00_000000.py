from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import Integer, Text, Timestamptz, Varchar
from piccolo.table import Table

from chonaikai.tenancy.tables import association_column

ID = "2026-12-04T16:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "delivery_alert: messages to officers' accounts (city circular arrived, safety check), claimed like deliveries"


class DeliveryAlert(Table, tablename="delivery_alert"):
    """The table as this migration makes it (frozen here: later changes come in later migrations)."""

    association = association_column()
    kind = Varchar(length=30)
    ref_id = Integer()
    account = Integer(index=True)
    channel = Varchar(length=10)
    status = Varchar(length=12, default="pending")
    attempts = Integer(default=0)
    next_attempt_at = Timestamptz(null=True, default=None)
    lease_until = Timestamptz(null=True, default=None)
    claimed_by = Varchar(length=40, null=True, default=None)
    last_error = Text(default="")
    sent_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz()


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="delivery", description=DESCRIPTION)

    async def create():
        await DeliveryAlert.create_table(if_not_exists=True)
        await DeliveryAlert.raw(
            "CREATE UNIQUE INDEX delivery_alert_once ON delivery_alert (kind, ref_id, account, channel)"
        )
        await DeliveryAlert.raw("CREATE INDEX delivery_alert_due ON delivery_alert (status, next_attempt_at)")
        await DeliveryAlert.raw("CREATE INDEX delivery_alert_ref ON delivery_alert (kind, ref_id)")

    async def drop():
        await DeliveryAlert.raw("DROP TABLE delivery_alert")

    manager.add_raw(create)
    manager.add_raw_backwards(drop)
    return manager
