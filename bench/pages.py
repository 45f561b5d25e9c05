"""Association homepage throughput against a hello route in the same server.

Measured twice: one homepage over and over, and a random one of all the associations per
request (the page cache then also pays for its misses).

Starts the real server (``chonaikai serve``) on SQLite and on PostgreSQL with the demo
data enlarged (800 associations × 40 public notices by default), loads ``/healthz/live``
(no database: the reference) and an association homepage one after the other with
``wrk`` (Debian package ``wrk``), and prints ``homepage_rps / hello_rps``, p99 and the
server's memory (RSS) after the runs.

Target: ratio ≥ 0.25 with p99 ≤ 50 ms at 64 connections.

    .venv/bin/python bench/pages.py                 # both databases
    .venv/bin/python bench/pages.py --db sqlite --associations 100 --duration 5
    .venv/bin/python bench/pages.py --no-freeze    # without gc.freeze() at start-up
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
# CHONAIKAI_BENCH_PG_DB: another name, when several people benchmark on one PostgreSQL.
PG_BENCH_DB = os.environ.get("CHONAIKAI_BENCH_PG_DB", "chonaikai_bench_pages")

# The start of a wrk script that picks at random: each wrk thread is its own Lua state with the
# same default seed, so without a seed of its own every thread would pick the same things (tokens,
# members, paths) in the same order.
SEEDED_THREADS_LUA = """local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
function init(args)
  math.randomseed(os.time() * 1000 + id)
end
"""


async def seed(associations: int, notices: int) -> None:
    """Runs in a child process whose environment points at the bench database."""
    from datetime import UTC, datetime, timedelta

    from chonaikai.cli import migrate
    from chonaikai.db import insert_many, write_transaction
    from chonaikai.notices.tables import Notice
    from chonaikai.roster.tables import Han
    from chonaikai.tenancy.tables import Association, City

    await migrate()
    now = datetime.now(UTC)
    city = City(slug="bench", name="計測市", municipality_code="079995", updated_at=now)
    await city.save()
    async with write_transaction():
        await insert_many(
            Association,
            [
                Association(
                    slug=f"bench-{i:04d}",
                    name=f"計測{i}町内会",
                    kana="けいそく",
                    city=city.id,
                    district=f"第{i % 8 + 1}地区",
                    introduction="計測用の架空の町内会です。" * 5,
                    public_officers=[{"title": "会長", "name": "見本 太郎"}],
                    updated_at=now,
                )
                for i in range(associations)
            ],
        )
    ids = [row["id"] for row in await Association.select(Association.id).order_by(Association.id)]
    async with write_transaction():
        await insert_many(Han, [Han(association=a, name=f"{n}班", position=n) for a in ids for n in (1, 2, 3)])
        rows = [
            Notice(
                association=a,
                title=f"お知らせ その{n}",
                body="計測用の本文です。\n\n" * 10,
                category="行事",
                visibility="public",
                status="published",
                published_at=now - timedelta(hours=n),
                created_at=now,
                updated_at=now,
            )
            for a in ids
            for n in range(notices)
        ]
        await insert_many(Notice, rows)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Every benchmark's server runs as deployed: no template reloading, no development key.
SERVER_SETTINGS = {
    "CHONAIKAI_ENV": "production",
    "CHONAIKAI_SECRET_KEY": "bench-only-secret-key-" + "x" * 20,
    "CHONAIKAI_BASE_URL": "http://127.0.0.1",
}


def bench_env(database_url: str | None = None) -> dict[str, str]:
    env = {**os.environ, **SERVER_SETTINGS}
    if database_url:
        env["CHONAIKAI_DATABASE_URL"] = database_url
    if "--no-freeze" in sys.argv:  # measure without gc.freeze() at start-up (app.py)
        env["CHONAIKAI_GC_FREEZE"] = "0"
    return env


class Base(str):
    """The server's base URL, also carrying its main process id (for ``rss_mb``)."""

    pid: int


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(child) for child in f.read().split()]
    except OSError:
        return []


def rss_mb(base: Base) -> float:
    """Resident memory of the server's processes (granian's main process and its workers), MB."""
    total = 0
    pending = [base.pid]
    while pending:
        pid = pending.pop()
        pending.extend(_children(pid))
        try:
            with open(f"/proc/{pid}/status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            pass
    return total / 1024


@contextmanager
def served(env: dict[str, str], name: str) -> Iterator[Base]:
    """``chonaikai serve`` on a free loopback port: yields its base URL, stops it afterwards.
    Its log goes to bench/out/{name}-server.log."""
    OUT.mkdir(parents=True, exist_ok=True)
    port = free_port()
    with open(OUT / f"{name}-server.log", "w") as log:
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "chonaikai"), "serve", "--port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=log,
            start_new_session=True,  # its own process group: granian's worker is stopped with it
        )
        try:
            base = Base(f"http://127.0.0.1:{port}")
            base.pid = server.pid
            wait_until_up(f"{base}/healthz")
            yield base
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
            with contextlib.suppress(ProcessLookupError):  # a worker that outlived its parent
                os.killpg(server.pid, signal.SIGKILL)


def wait_until_up(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server did not answer {url} within {timeout:.0f} s")


def csrf_cookie(base: str, token: str) -> str:
    """The CSRF cookie a read page sets (what a reader's browser then sends with 「読みました」)."""
    with urllib.request.urlopen(f"{base}/r/{token}") as response:
        for header in response.headers.get_all("set-cookie") or []:
            if header.startswith("chonaikai_csrf="):
                return header.split(";")[0].split("=", 1)[1]
    raise SystemExit("the read page set no CSRF cookie")


def spread_script(associations: int) -> Path:
    """A wrk script asking for a random association's homepage each time, so the page cache
    (CHONAIKAI_PAGE_CACHE_SECONDS) is measured with its misses, not only with one warm page."""
    OUT.mkdir(parents=True, exist_ok=True)
    script = OUT / "spread.lua"
    script.write_text(
        "request = function()\n"
        f'  return wrk.format("GET", string.format("/a/bench-%04d/", math.random(0, {associations - 1})))\n'
        "end\n"
    )
    return script


def wrk(url: str, connections: int, duration: int, script: Path | None = None) -> tuple[float, float]:
    result = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency",
         *(["-s", str(script)] if script else []), url],
        capture_output=True, text=True, check=True,
    )
    if os.environ.get("WRK_VERBOSE"):  # the whole latency distribution, not only p99
        print(result.stdout, flush=True)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", result.stdout).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", result.stdout)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", result.stdout)
    if non2xx:
        raise SystemExit(f"{url}: {non2xx.group(1)} error responses:\n{result.stdout}")
    return rps, float(p99.group(1)) * scale


def prepare_database(kind: str) -> str:
    if kind == "sqlite":
        OUT.mkdir(parents=True, exist_ok=True)
        for leftover in OUT.glob("pages.sqlite3*"):
            leftover.unlink()
        return f"sqlite:///{OUT / 'pages.sqlite3'}"
    import asyncpg

    async def recreate() -> None:
        connection = await asyncpg.connect(PG_ADMIN)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{PG_BENCH_DB}" WITH (FORCE)')
            await connection.execute(f'CREATE DATABASE "{PG_BENCH_DB}"')
        finally:
            await connection.close()

    asyncio.run(recreate())
    return f"postgresql://postgres@127.0.0.1:5432/{PG_BENCH_DB}"


def run_one(kind: str, args: argparse.Namespace) -> dict:
    env = bench_env(prepare_database(kind))
    started = time.monotonic()
    subprocess.run([sys.executable, __file__, "--seed", str(args.associations), str(args.notices)],
                   env=env, check=True)
    print(f"[{kind}] seeded {args.associations} associations × {args.notices} notices "
          f"in {time.monotonic() - started:.1f} s", flush=True)
    with served(env, f"pages-{kind}") as base:
        homepage = f"{base}/a/bench-{args.associations // 2:04d}/"
        for warm in (f"{base}/healthz/live", homepage):
            wrk(warm, 8, 1)
        hello_rps, hello_p99 = wrk(f"{base}/healthz/live", args.connections, args.duration)
        home_rps, home_p99 = wrk(homepage, args.connections, args.duration)
        # Every page once before measuring, as a site that is visited all day would have them.
        for number in range(args.associations):
            with urllib.request.urlopen(f"{base}/a/bench-{number:04d}/", timeout=10) as response:
                response.read()
        spread_rps, spread_p99 = wrk(base, args.connections, args.duration, spread_script(args.associations))
        rss = rss_mb(base)
    return {"db": kind, "hello_rps": hello_rps, "hello_p99": hello_p99, "home_rps": home_rps, "home_p99": home_p99,
            "spread_rps": spread_rps, "spread_p99": spread_p99, "rss": rss}


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--seed":
        from chonaikai.db import run_with_database

        run_with_database(seed(int(sys.argv[2]), int(sys.argv[3])))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--associations", type=int, default=800)
    parser.add_argument("--notices", type=int, default=40)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--no-freeze", action="store_true", help="serve without gc.freeze() (see bench_env)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    results = [run_one(kind, args) for kind in kinds]
    print(f"\n{'db':<9}{'page':<24}{'hello rps':>11}{'page rps':>10}{'ratio':>8}{'p99':>10}"
          "  target: ratio ≥ 0.25, p99 ≤ 50 ms" + ("   (no gc.freeze)" if args.no_freeze else ""))
    for r in results:
        for label, rps, p99 in (
            ("one homepage", r["home_rps"], r["home_p99"]),
            (f"{args.associations} homepages, random", r["spread_rps"], r["spread_p99"]),
        ):
            ratio = rps / r["hello_rps"]
            verdict = "ok" if ratio >= 0.25 and p99 <= 50 else "BELOW TARGET"
            print(f"{r['db']:<9}{label:<24}{r['hello_rps']:>11.0f}{rps:>10.0f}{ratio:>8.2f}{p99:>8.1f}ms  {verdict}")
        print(f"{r['db']:<9}server RSS after the run: {r['rss']:.0f} MB")


if __name__ == "__main__":
    main()
