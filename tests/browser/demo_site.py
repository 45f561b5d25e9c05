"""The demo, served on a loopback port with a few published notices, for screenshots and Lighthouse.

It is the demo a newcomer gets from `make run` (demo tenants from tenants/*.toml, their fictional
rosters, officers and notices), in its own SQLite file, after the worker sent the e-mails and two
households in three answered 「読みました」. The demo 会長's sign-in link (made as the e-mailed one is)
opens the receipts view.

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


async def seed() -> dict:
    """Runs in a child process whose environment points at the site's own database."""
    from chonaikai.accounts import signin
    from chonaikai.cli import migrate
    from chonaikai.delivery import readlink as receipts
    from chonaikai.delivery.tables import Delivery
    from chonaikai.devtools.demo import (
        demo_officer_email,
        load_demo_notices,
        load_demo_officers,
        load_demo_roster,
    )
    from chonaikai.notices.tables import Notice
    from chonaikai.settings import get_settings
    from chonaikai.tenancy.logic import find_tenant
    from chonaikai.tenancy.tenant_files import sync_tenants
    from chonaikai.wiring import wire

    wire()  # as every entry point does: the delivery core's content sources and channels
    settings = get_settings()
    # What `chonaikai demo` loads (src/chonaikai/cli.py, run_demo), in the same order.
    await migrate()
    await sync_tenants(settings.tenants_dir)
    await load_demo_roster(settings.tenants_dir)
    await load_demo_officers(settings.tenants_dir)
    await load_demo_notices(settings.tenants_dir)
    tenant = await find_tenant(SLUG)
    assert tenant is not None, f"the demo has no association {SLUG}"

    # The real worker e-mails the households that chose e-mail (to a loopback sink the site started).
    from chonaikai.jobs import make_worker

    await make_worker().run(once=True)

    asking = await (
        tenant.select(Notice, Notice.id).where(Notice.needs_confirmation == True).order_by(Notice.id).first()  # noqa: E712
    )
    assert asking is not None, "no demo notice asks for 「読みました」"
    notice_id = asking["id"]
    # About two households in three have answered.
    rows = await tenant.select(Delivery, Delivery.token).where(Delivery.notice == notice_id).order_by(Delivery.id)
    tokens = [row["token"] for row in rows]
    for index, token in enumerate(tokens):
        if index % 3 != 2:
            await receipts.open_by_token(token)
            await receipts.confirm_by_token(token)
    unconfirmed = [token for index, token in enumerate(tokens) if index % 3 == 2]

    officer = await signin.find_account_by_email(demo_officer_email(SLUG, "kaicho"))
    assert officer is not None, "the demo has no 会長 account"
    account_id = officer["id"]
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
