from pathlib import Path

from piccolo.conf.apps import AppConfig

from chonaikai.circulars.tables import Circular, CircularAttachment, CircularEntry, CircularReminder

APP_CONFIG = AppConfig(
    app_name="circulars",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[Circular, CircularAttachment, CircularEntry, CircularReminder],
    migration_dependencies=[
        "chonaikai.notices.piccolo_app",
        "chonaikai.accounts.piccolo_app",
        "chonaikai.delivery.piccolo_app",
    ],
    commands=[],
)
