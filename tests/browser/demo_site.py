"""The demo, served on a loopback port with a few published notices, for screenshots and Lighthouse.

It is the demo a newcomer gets from `make run` (demo tenants from tenants/*.toml and their fictional
rosters), in its own SQLite file, plus what a running association has after a week: notices made from
the 文例, published through the same code officers use, their deliveries, some of them confirmed.
An officer's sign-in link (made as the e-mailed one is) opens the receipts view.

    with DemoSite(Path("bench/out/site")) as site:
        site.url, site.read_link, site.officer_link, site.notice_id
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SLUG = "sakuragaoka"
OFFICER_EMAIL = "kaicho@sakuragaoka.example.jp"

# (文例 name, filled placeholders, options)
NOTICES = [
    ("gomi-touban", {"期間": "6月", "当番の班": "2班", "集積所": "集会所横の集積所",
                     "当番の仕事": "ネットをかける・あと片付け"}, {"visibility": "public"}),
    ("bousai-kunren", {"日時": "10月5日（日）午前9時", "集合場所": "桜ケ丘公園", "内容": "避難の練習と消火器の使い方",
                       "持ち物": "タオル・飲み物"}, {"visibility": "public", "pinned": True}),
    ("issei-seisou", {"日時": "6月1日（日）午前8時から1時間", "集合場所": "集会所前", "持ち物": "軍手・ごみ袋",
                      "雨天の場合": "6月8日（日）に延期"}, {"visibility": "public", "needs_confirmation": True}),
]


async def seed() -> dict:
    """Runs in a child process whose environment points at the site's own database."""
    from datetime import UTC, datetime

    from chonaikai.accounts import signin
    from chonaikai.accounts.roles import Role
    from chonaikai.accounts.tables import RoleGrant
    from chonaikai.cli import migrate
    from chonaikai.delivery import receipts
    from chonaikai.delivery.tables import Delivery
    from chonaikai.demo import load_demo_roster
    from chonaikai.notices import logic
    from chonaikai.notices.ready_texts import get_ready_text
    from chonaikai.settings import get_settings
    from chonaikai.tenancy.logic import find_tenant
    from chonaikai.tenancy.tenant_files import sync_tenants

    settings = get_settings()
    await migrate()
    await sync_tenants(settings.tenants_dir)
    await load_demo_roster(settings.tenants_dir)
    tenant = await find_tenant(SLUG)
    assert tenant is not None, f"the demo has no association {SLUG}"

    notice_id = None
    for name, fill, options in NOTICES:
        text = get_ready_text(name)
        assert text is not None, f"no 文例 {name}"
        form = logic.form_from_ready_text(text)
        for key, value in fill.items():
            form.title = form.title.replace(f"【{key}】", value)
            form.body = form.body.replace(f"【{key}】", value)
        for key, value in options.items():
            setattr(form, key, value)
        notice_id = await logic.create_notice(tenant, form, author_title="会長")
        await logic.publish_notice(tenant, notice_id)

    # The real worker e-mails the households that chose e-mail (to a loopback sink the site started).
    from chonaikai.delivery.worker import Worker, default_channels

    await Worker(default_channels()).run(once=True)

    # The last one asks for 「読みました」: about two households in three have answered.
    rows = await tenant.select(Delivery, Delivery.token).where(Delivery.notice == notice_id).order_by(Delivery.id)
    tokens = [row["token"] for row in rows]
    for index, token in enumerate(tokens):
        if index % 3 != 2:
            await receipts.open_by_token(token)
            await receipts.confirm_by_token(token)
    unconfirmed = [token for index, token in enumerate(tokens) if index % 3 == 2]

    account_id = await signin.get_or_create_account(OFFICER_EMAIL, "見本 太郎")
    await RoleGrant.insert(
        RoleGrant(account=account_id, role=str(Role.CHAIR), association=tenant.id, created_at=datetime.now(UTC))
    )
    secret = await signin.create_email_link_secret(account_id)
    return {
        "notice_id": notice_id,
        "read_token": unconfirmed[0],
        "signin": signin.signin_link(secret, f"/a/{SLUG}/notices/{notice_id}/receipts"),
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DemoSite:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHONAIKAI_")}
        return {
            **env,
            "CHONAIKAI_DATABASE_URL": f"sqlite:///{self.directory / 'demo.sqlite3'}",
            "CHONAIKAI_BASE_URL": self.url,
            "CHONAIKAI_UPLOAD_DIR": str(self.directory / "uploads"),
            # Mail goes to a loopback sink that lives as long as the site: nothing leaves the machine.
            "CHONAIKAI_SMTP_HOST": "127.0.0.1",
            "CHONAIKAI_SMTP_PORT": str(self.mail.port),
            "CHONAIKAI_SMTP_TLS": "none",
        }

    def __enter__(self) -> DemoSite:
        from tests.mailsink import MailSink

        self.mail = MailSink().start()
        self.directory.mkdir(parents=True, exist_ok=True)
        for leftover in self.directory.glob("demo.sqlite3*"):
            leftover.unlink()
        seeded = subprocess.run(
            [sys.executable, "-m", "tests.browser.demo_site"], env=self.env(), cwd=ROOT,
            capture_output=True, text=True, timeout=120,
        )
        if seeded.returncode != 0:
            raise RuntimeError(f"seeding the demo failed:\n{seeded.stdout[-2000:]}\n{seeded.stderr[-3000:]}")
        facts = json.loads(seeded.stdout.strip().splitlines()[-1])
        self.notice_id = facts["notice_id"]
        self.read_link = f"{self.url}/r/{facts['read_token']}"
        self.officer_link = facts["signin"]
        log = (self.directory / "server.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chonaikai", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env(), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError((self.directory / "server.log").read_text()[-3000:])
            time.sleep(0.1)

    def __exit__(self, *exc: object) -> None:
        self.mail.stop()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


if __name__ == "__main__":
    from chonaikai.db import run_with_database

    facts = {}

    async def main() -> None:
        facts.update(await seed())

    run_with_database(main())
    print(json.dumps(facts))
