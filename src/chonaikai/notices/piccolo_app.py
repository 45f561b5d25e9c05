from pathlib import Path

from piccolo.conf.apps import AppConfig

from chonaikai.notices.tables import (
    Attachment,
    Notice,
    NoticeAnswer,
    NoticeCategory,
    NoticeHan,
    NoticeRead,
    VoteRule,
)

APP_CONFIG = AppConfig(
    app_name="notices",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=[Notice, NoticeHan, Attachment, NoticeCategory, NoticeRead, VoteRule, NoticeAnswer],
    migration_dependencies=["chonaikai.roster.piccolo_app", "chonaikai.accounts.piccolo_app"],
    commands=[],
)
