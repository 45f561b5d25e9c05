"""The delivery core is closed: channels plug in from outside, and only its store writes rows."""

from __future__ import annotations

import re
from pathlib import Path

from chonaikai.delivery import channels
from chonaikai.delivery.channels import ChannelSpec, DeliveryJob, Outcome
from chonaikai.delivery.outbox import create_deliveries
from chonaikai.delivery.tables import Delivery
from chonaikai.delivery.worker import Worker
from chonaikai.roster.tables import Household
from tests.delivery.helpers import make_notice
from tests.factories import make_household

SRC = Path(__file__).resolve().parents[2] / "src" / "chonaikai"


class FakeSms:
    """An SMS gateway as a test would plug one in: records what it was handed."""

    name = "sms"
    batch_size = 50
    sent: list[DeliveryJob] = []

    def __init__(self, settings=None) -> None:
        pass

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def send(self, batch: list[DeliveryJob]) -> list[Outcome]:
        FakeSms.sent.extend(batch)
        return [Outcome.sent(job.delivery_id) for job in batch]


async def test_a_channel_registered_from_outside_receives_deliveries(tenant):
    # Who has a phone number is the channel's own question (here: the phone column).
    channels.register(ChannelSpec(name="sms", reachable_sql="h.phone <> ''", sender=FakeSms, label="SMS"))
    FakeSms.sent = []
    try:
        texting = await make_household(tenant, "携帯", han="1班", channel="paper", phone="090-0000-0000")
        no_phone = await make_household(tenant, "電話なし", han="1班", channel="paper")
        await tenant.update(Household, {Household.channel: "sms"}).where(
            Household.id.is_in([texting["id"], no_phone["id"]])
        )
        notice = await make_notice(tenant)
        assert await create_deliveries(notice) == 2
        rows = {row["household"]: row for row in await Delivery.select()}
        assert rows[texting["id"]]["channel"] == "sms" and rows[texting["id"]]["next_attempt_at"] is not None
        assert rows[no_phone["id"]]["channel"] == "paper"  # unreachable by SMS: paper, not skipped
        assert await Worker([FakeSms()]).run(once=True) == 1
        assert [job.household_id for job in FakeSms.sent] == [texting["id"]]
        row = await Delivery.select().where(Delivery.household == texting["id"]).first()
        assert row["status"] == "sent" and row["sent_at"] is not None
    finally:
        channels.unregister("sms")


def _python_files():
    for path in SRC.rglob("*.py"):
        if "migrations" not in path.parts:
            yield path


def test_only_the_delivery_store_writes_the_delivery_table_or_mints_tokens():
    writes = re.compile(
        r"(INSERT\s+INTO\s+delivery\b|UPDATE\s+delivery\b|DELETE\s+FROM\s+delivery\b"
        r"|update\(\s*Delivery\b|Delivery\.(insert|update|delete)\(|\(\s*Delivery\s*,\s*\{)",
        re.IGNORECASE,
    )
    offenders = [
        f"{path.relative_to(SRC)}:{number}"
        for path in _python_files()
        if path != SRC / "delivery" / "store.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if writes.search(line)
    ]
    assert offenders == []
    minting = [
        str(path.relative_to(SRC))
        for path in _python_files()
        if re.search(r"\bnew_token\(|(?<!class )\bDelivery\(", path.read_text())
    ]
    assert minting == ["delivery/store.py"]


def test_the_core_imports_nothing_of_notices_circulars_or_channels():
    for path in (SRC / "delivery").rglob("*.py"):
        text = path.read_text()
        for package in ("notices", "circulars", "line", "printing", "channels."):
            assert f"from chonaikai.{package}" not in text, (path, package)
