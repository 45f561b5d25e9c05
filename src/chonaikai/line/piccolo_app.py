from pathlib import Path

from piccolo.conf.apps import AppConfig

from chonaikai.line.tables import LineLink, LineWebhookEvent

APP_CONFIG = AppConfig(
    app_name="line",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[LineLink, LineWebhookEvent],
    migration_dependencies=["chonaikai.roster.piccolo_app", "chonaikai.delivery.piccolo_app"],
    commands=[],
)
