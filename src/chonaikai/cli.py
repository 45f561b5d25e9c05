"""The ``chonaikai`` command for operators: migrate, tenants, serve, worker, demo."""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from chonaikai.commands import COMMANDS, command
from chonaikai.db import run_with_database
from chonaikai.settings import DOCUMENTED, SettingsError, get_settings

log = logging.getLogger("chonaikai")

async def migrate() -> None:
    from piccolo.apps.migrations.commands.forwards import run_forwards

    # Piccolo prints a heading per app; our operators only need the result (or all of it on failure).
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        result = await run_forwards(app_name="all")
    if not result.success:
        sys.stdout.write(printed.getvalue())
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
    # Granian: measured here on a template page, p99 20 ms where uvicorn reached 234 ms at 64
    # connections (docs/performance.md, bench/pages.py). Fly's proxy adds Fly-Client-IP, which
    # the app reads itself (CHONAIKAI_BEHIND_PROXY), so no proxy-header parsing is needed here.
    from granian import Granian
    from granian.constants import Interfaces

    Granian(
        "chonaikai.app:create_asgi_app",
        factory=True,
        address=host,
        port=port,
        workers=workers,
        interface=Interfaces.ASGI,
        log_access=False,
    ).serve()


@command("serve", "ウェブサーバーを動かす (run the web server)", _serve_arguments)
def run_serve(args: argparse.Namespace) -> int:
    serve(args.host, args.port, args.workers)
    return 0


def _worker_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--once", action="store_true", help="deliver what is due, then exit")


@command("worker", "お知らせを配信する (deliver e-mail and LINE messages)", _worker_arguments)
def run_worker(args: argparse.Namespace) -> int:
    from chonaikai.delivery.worker import WorkerBusy
    from chonaikai.jobs import run_worker_process

    try:
        handled = run_with_database(run_worker_process(once=args.once))
    except WorkerBusy as error:
        print(f"worker: 配信係はすでに動いています — {error}", file=sys.stderr)
        return 3
    print(f"worker: stopped after {handled} deliveries")
    return 0


@command("demo", "見本データで動かす (migrate, load demo tenants and serve; also runs a delivery worker, "
         "the fake LINE server and a mail catcher shown at /dev/mail)", _serve_arguments)
def run_demo(args: argparse.Namespace) -> int:
    import os

    from chonaikai.devtools.demo import (
        demo_officer_email,
        demo_officer_lines,
        load_demo_city_staff,
        load_demo_notices,
        load_demo_officers,
        load_demo_roster,
    )
    from chonaikai.devtools.line_demo import link_demo_households, start_fake_line
    from chonaikai.devtools.mail_catcher import start_demo_mail
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
    line_preview = start_fake_line(browser_host, args.port)

    async def prepare() -> list[str]:
        await migrate()
        await sync_tenants(settings.tenants_dir)
        await load_demo_roster(settings.tenants_dir)
        await load_demo_officers(settings.tenants_dir)
        city_staff.extend(await load_demo_city_staff(settings.tenants_dir))
        if line_preview:
            await link_demo_households()
        await load_demo_notices(settings.tenants_dir)
        return await demo_officer_lines("sakuragaoka")

    city_staff: list[tuple[str, str]] = []

    officer_lines = run_with_database(prepare())
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
    if line_preview:
        print(f"  LINE preview (fake LINE server): {line_preview}")
    print("  Demo officers of sakuragaoka (other demo associations: same names with their slug):")
    for line in officer_lines:
        print(f"    {line}")
    print("  Stop with Ctrl+C")
    print()
    # The delivery worker runs beside the server, so published notices really go out.
    worker = start_demo_worker()
    try:
        serve(args.host, args.port, args.workers)
    finally:
        stop_demo_worker(worker)
        if catcher is not None:
            catcher[0].stop()
    return 0


def start_demo_worker():
    return subprocess.Popen([sys.executable, "-m", "chonaikai", "worker"])


def stop_demo_worker(process) -> None:
    process.terminate()  # SIGTERM: the worker finishes its batch and lets go of its lock
    try:
        process.wait(timeout=40)
    except subprocess.TimeoutExpired:
        process.kill()


def _roster_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="roster_command", required=True, metavar="import|export")
    imp = sub.add_parser("import", help="import a roster CSV (all rows or none)")
    imp.add_argument("slug", help="association slug")
    imp.add_argument("file", type=Path, help="CSV file (UTF-8, UTF-8 with BOM or Shift_JIS)")
    imp.add_argument("--dry-run", action="store_true", help="check and show what would change; write nothing")
    imp.add_argument("--create-han", action="store_true", help="create 班 that do not exist yet")
    exp = sub.add_parser("export", help="write the roster as CSV (UTF-8 with BOM) to stdout")
    exp.add_argument("slug", help="association slug")
    exp.add_argument("--han", default="", help="only this 班 (its name)")


@command("roster", "名簿のCSVを取り込む・書き出す (roster CSV import and export)", _roster_arguments)
def run_roster(args: argparse.Namespace) -> int:
    from chonaikai.roster.cli import export_roster, import_roster

    if args.roster_command == "import":
        return run_with_database(import_roster(args.slug, args.file, dry_run=args.dry_run, create_han=args.create_han))
    return run_with_database(export_roster(args.slug, han=args.han))


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
        from chonaikai.wiring import wire

        wire()  # the delivery core's content sources and channels, for every command
        return COMMANDS[args.command][2](args)
    except SettingsError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


# Commands that live with their domain register themselves on import.
from chonaikai.accounts import token_commands  # noqa: E402, F401
from chonaikai.circulars import commands as circular_commands  # noqa: E402, F401
