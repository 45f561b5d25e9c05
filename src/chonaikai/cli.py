"""The ``chonaikai`` command for operators: migrate, tenants, serve, worker, demo."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from chonaikai.db import run_with_database
from chonaikai.settings import DOCUMENTED, SettingsError, get_settings

log = logging.getLogger("chonaikai")

# Each command registers itself here: name -> (help, add_arguments, run).
Command = tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]
COMMANDS: dict[str, Command] = {}


def command(name: str, help_text: str, arguments: Callable[[argparse.ArgumentParser], None] = lambda p: None):
    def register(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = (help_text, arguments, run)
        return run

    return register


async def migrate() -> None:
    from piccolo.apps.migrations.commands.forwards import run_forwards

    # Piccolo prints a heading per app; our operators only need the result.
    result = await run_forwards(app_name="all")
    if not result.success:
        raise RuntimeError(f"migration failed: {result.message}")


@command("migrate", "データベースを最新の形にする (run database migrations forward)")
def run_migrate(args: argparse.Namespace) -> int:
    run_with_database(migrate())
    print("migrations: up to date")
    return 0


def _tenants_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="tenants_command", required=True, metavar="sync")
    sync = sub.add_parser("sync", help="create or update cities and associations from TOML files")
    sync.add_argument("directory", nargs="?", type=Path, help="folder of tenant files (default CHONAIKAI_TENANTS_DIR)")


@command("tenants", "市町村・町内会の設定ファイルを読み込む (tenant files)", _tenants_arguments)
def run_tenants(args: argparse.Namespace) -> int:
    from chonaikai.tenancy.tenant_files import TenantFileError, sync_tenants

    directory = args.directory or get_settings().tenants_dir
    try:
        report = run_with_database(sync_tenants(directory))
    except TenantFileError as error:
        print(f"error: {error} — nothing was changed", file=sys.stderr)
        return 2
    for line in report.created:
        print(f"created   {line}")
    for line in report.updated:
        print(f"updated   {line}")
    print(f"{len(report.created)} created, {len(report.updated)} updated, {len(report.unchanged)} unchanged")
    return 0


def _serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--workers", type=int, default=1, help="server processes (default 1)")


def serve(host: str, port: int, workers: int = 1) -> None:
    import uvicorn

    uvicorn.run(
        "chonaikai.app:create_asgi_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=get_settings().behind_proxy,
        forwarded_allow_ips="*" if get_settings().behind_proxy else None,
        log_level="info",
        access_log=False,
    )


@command("serve", "ウェブサーバーを動かす (run the web server)", _serve_arguments)
def run_serve(args: argparse.Namespace) -> int:
    serve(args.host, args.port, args.workers)
    return 0


def _worker_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--once", action="store_true", help="deliver what is due, then exit")


@command("worker", "お知らせを配信する (deliver e-mail and LINE messages)", _worker_arguments)
def run_worker(args: argparse.Namespace) -> int:
    from chonaikai.delivery.worker import WorkerBusy, run_worker_process

    try:
        handled = run_with_database(run_worker_process(once=args.once))
    except WorkerBusy as error:
        print(f"worker: 配信係はすでに動いています — {error}", file=sys.stderr)
        return 3
    print(f"worker: stopped after {handled} deliveries")
    return 0


@command("demo", "見本データで動かす (migrate, load demo tenants and serve)", _serve_arguments)
def run_demo(args: argparse.Namespace) -> int:
    import os

    from chonaikai.demo import (
        demo_officer_email,
        load_demo_city_staff,
        load_demo_officers,
        load_demo_roster,
    )
    from chonaikai.mail.catcher import start_demo_mail
    from chonaikai.tenancy.tenant_files import sync_tenants

    browser_host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    url = f"http://{browser_host}:{args.port}/"
    # Links in e-mails must reach this server, whatever port it was given.
    if not os.environ.get("CHONAIKAI_BASE_URL"):
        os.environ["CHONAIKAI_BASE_URL"] = url.rstrip("/")
        get_settings.cache_clear()
    # No mail server named: catch the demo's e-mails on loopback and show them at /dev/mail.
    catcher = start_demo_mail()
    settings = get_settings()

    async def prepare() -> None:
        await migrate()
        await sync_tenants(settings.tenants_dir)
        await load_demo_roster(settings.tenants_dir)
        await load_demo_officers(settings.tenants_dir)
        city_staff.extend(await load_demo_city_staff(settings.tenants_dir))

    city_staff: list[tuple[str, str]] = []

    run_with_database(prepare())
    print()
    print("  電子町内会 chonaikai — demo")
    print(f"  Open {url} in your browser (ブラウザで開いてください)")
    if catcher is not None:
        print(f"  Sign in (ログイン): {url}signin  with  {demo_officer_email('sakuragaoka', 'kaicho')}  (会長)")
        print(f"  then open the demo mailbox {url}dev/mail and click the link in the mail")
        print(f"  (メールは外に出ず、ここに届きます — SMTP catcher on 127.0.0.1:{catcher[1]})")
        for city_slug, email in city_staff:  # 市職員 send circulars to every association
            print(f"  City staff (市職員): sign in with {email}, then open {url}c/{city_slug}/circulars/")
    else:
        print(f"  E-mail goes to the SMTP server {settings.smtp_host}:{settings.smtp_port}")
    print(f"  An association homepage: {url}a/sakuragaoka/")
    print("  Stop with Ctrl+C")
    print()
    try:
        serve(args.host, args.port, args.workers)
    finally:
        if catcher is not None:
            catcher[0].stop()
    return 0


def build_parser() -> argparse.ArgumentParser:
    settings_help = "\n".join(f"  {name:<34} {info[1]} (default {info[2]})" for name, info in DOCUMENTED.items())
    parser = argparse.ArgumentParser(
        prog="chonaikai",
        description="電子町内会 chonaikai — homepages, rosters, notices and circulars for neighbourhood associations.",
        epilog="settings (environment variables):\n" + settings_help,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, add_arguments, _) in COMMANDS.items():
        add_arguments(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        get_settings()
        return COMMANDS[args.command][2](args)
    except SettingsError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


# Commands that live with their domain register themselves on import.
from chonaikai.accounts import token_commands  # noqa: E402, F401
from chonaikai.circulars import commands as circular_commands  # noqa: E402, F401
