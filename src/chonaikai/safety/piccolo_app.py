from pathlib import Path

from piccolo.conf.apps import AppConfig

from chonaikai.safety.tables import SafetyBatchCheck, SafetyCheck, SafetyCityBatch

APP_CONFIG = AppConfig(
    app_name="safety",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[SafetyCityBatch, SafetyCheck, SafetyBatchCheck],
    migration_dependencies=["chonaikai.notices.piccolo_app", "chonaikai.roster.piccolo_app"],
    commands=[],
)
