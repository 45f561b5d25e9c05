from pathlib import Path

from piccolo.conf.apps import AppConfig

from chonaikai.delivery.tables import Delivery, DeliveryAlert, WorkerLock

APP_CONFIG = AppConfig(
    app_name="delivery",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[Delivery, WorkerLock, DeliveryAlert],
    migration_dependencies=["chonaikai.notices.piccolo_app"],
    commands=[],
)
