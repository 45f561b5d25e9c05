"""Demo notices, made from the 文例 so `make run` shows a living board."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from chonaikai.notices import logic
from chonaikai.notices.ready_texts import get_ready_text
from chonaikai.notices.tables import Notice
from chonaikai.tenancy.logic import find_tenant
from chonaikai.tenancy.tenant_files import read_tenant_dir

# (文例, filled placeholders, overrides, days ago)
DEMO = [
    ("shi-kairan", {"市の担当課": "見本市 市民協働課", "お知らせの内容": "来年度の町内会活動補助金の申請を受け付けます。申請書は公民館にあります。",
                    "問い合わせ先": "見本市役所 000-000-0000"}, {"visibility": "public"}, 20),
    ("issei-seisou", {"日時": "12月7日（日）午前8時から1時間", "集合場所": "見本公園の入口", "持ち物": "軍手、ごみ袋（町内会で用意します）",
                      "雨天の場合": "12月14日（日）に延期します"}, {"visibility": "public", "pinned": True}, 3),
    ("soukai", {"日時": "来年4月19日（日）午前10時", "場所": "見本町公民館 2階", "議題": "決算・予算、役員の選出",
                "委任状の締切": "4月12日"}, {}, 2),
    ("bouhan", {"起きたこと": "市役所の職員を名のる電話で、還付金があると言われた家がありました",
                "場所": "2丁目付近", "気をつけること": "市役所が電話でATMへ行くように言うことはありません"}, {}, 0),
]


async def load_demo_notices(directory: Path) -> list[str]:
    """Post the demo notices in every demo association that has none yet."""
    _, associations = read_tenant_dir(directory)
    loaded = []
    now = datetime.now(UTC)
    for spec in associations:
        tenant = await find_tenant(spec.slug)
        if not spec.demo or tenant is None or await tenant.count(Notice) > 0:
            continue
        for name, values, overrides, days_ago in DEMO:
            text = get_ready_text(name)
            if text is None:
                continue
            form = logic.form_from_ready_text(text)
            form.title, form.body = text.fill(values)
            for key, value in overrides.items():
                setattr(form, key, value)
            when = now - timedelta(days=days_ago, hours=1)
            notice_id = await logic.create_notice(tenant, form, author_title="会長", now=when)
            await logic.publish_notice(tenant, notice_id, now=when)
        loaded.append(spec.slug)
    return loaded
