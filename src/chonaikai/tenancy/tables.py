from piccolo.columns import JSON, Boolean, ForeignKey, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.table import Table


class City(Table, tablename="city"):
    slug = Varchar(length=64, unique=True, index=True)
    name = Varchar(length=100)
    kana = Varchar(length=200, default="")
    # 全国地方公共団体コード: 6 digits, the last one a check digit.
    municipality_code = Varchar(length=6, unique=True)
    prefecture = Varchar(length=20, default="")
    line_channel = JSON(default="{}")
    # An IANA zone name ("Asia/Tokyo") when the city's tenant file names one; empty: CHONAIKAI_TIME_ZONE.
    time_zone = Varchar(length=64, default="")
    updated_at = Timestamptz()


class Association(Table, tablename="association"):
    """The tenant: one 町内会 / 自治会. Every row that belongs to it carries its id."""

    slug = Varchar(length=64, unique=True, index=True)
    name = Varchar(length=150)
    kana = Varchar(length=300, default="")
    city = ForeignKey(City, null=False, on_delete=OnDelete.restrict, index=True)
    district = Varchar(length=100, default="", index=True)
    contact = Text(default="")
    introduction = Text(default="")
    # [{"title": "会長", "name": "見本 太郎"}]: only what the association chose to publish.
    public_officers = JSON(default="[]")
    hosts = JSON(default="[]")
    line_channel = JSON(default="{}")
    auto_forward_circulars = Boolean(default=False)
    # The homepage, edited by 会長 and 広報 on /a/{slug}/settings/homepage (tenancy/homepage.py).
    # [{"title": "市のごみ情報", "url": "https://…"}]
    links = JSON(default="[]")
    # [{"key": "12/abc.jpg", "filename": "清掃.jpg", "content_type": "image/jpeg", "size_bytes": 1, "caption": ""}]
    photos = JSON(default="[]")
    show_poster_name = Boolean(default=True)
    # Fields officers changed on the web: `tenants sync` leaves these alone (the officers' edit wins).
    officer_edited = JSON(default="[]")
    updated_at = Timestamptz()


def association_column() -> ForeignKey:
    """The tenant column every association-owned table declares."""
    return ForeignKey(Association, null=False, on_delete=OnDelete.restrict, index=True)
