"""Notice board throughput against a hello route in the same server.

Seeds one association with many notices (5,000 by default: years of a busy board), starts the
real server (``chonaikai serve``) on SQLite and/or PostgreSQL, and loads with ``wrk``:
``/healthz/live`` (no database: the reference), the board, a word search on the board (a
substring scan of title and body) and one notice page. Prints each page's rps as a ratio of
the hello rps, and p99.

Targets: board ratio ≥ 0.2, search ratio ≥ 0.05 (it reads every notice's text), p99 ≤ 100 ms.

    .venv/bin/python bench/board.py
    .venv/bin/python bench/board.py --db sqlite --notices 2000 --duration 5
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pages  # noqa: E402  (the server, wrk and database helpers of the homepage bench)

SLUG = "bench-board"
WORDS = ["清掃", "防災訓練", "会費", "ごみ当番", "夏祭り", "総会", "回覧", "防犯"]


async def seed(notices: int) -> None:
    from datetime import UTC, datetime, timedelta

    from chonaikai.cli import migrate
    from chonaikai.db import insert_many, write_transaction
    from chonaikai.notices.render import fold
    from chonaikai.notices.tables import DEFAULT_CATEGORIES, Notice
    from chonaikai.tenancy.tables import Association, City

    await migrate()
    now = datetime.now(UTC)
    city = City(slug="bench", name="計測市", municipality_code="079995", updated_at=now)
    await city.save()
    association = Association(slug=SLUG, name="計測町内会", kana="けいそく", city=city.id, updated_at=now)
    await association.save()

    def title(n: int) -> str:
        return f"{WORDS[n % len(WORDS)]}のお知らせ その{n}"

    def body(n: int) -> str:
        return f"{WORDS[(n * 7) % len(WORDS)]}について、次のとおりお知らせします。\n\n- 日時：{n % 28 + 1}日\n- 場所：公民館\n\n" * 3

    rows = [
        Notice(
            association=association.id,
            title=title(n),
            body=body(n),
            search_text=fold(title(n) + "\n" + body(n)),  # as the app writes it
            category=DEFAULT_CATEGORIES[n % len(DEFAULT_CATEGORIES)],
            visibility="public" if n % 3 else "members",
            status="published" if n % 10 else "archived",
            urgent=n % 97 == 0,
            pinned=n % 89 == 0,
            published_at=now - timedelta(hours=n),
            created_at=now,
            updated_at=now,
        )
        for n in range(notices)
    ]
    async with write_transaction():
        await insert_many(Notice, rows)


def run_one(kind: str, args: argparse.Namespace) -> dict:
    env = pages.bench_env(pages.prepare_database(kind))
    started = time.monotonic()
    subprocess.run([sys.executable, __file__, "--seed", str(args.notices)], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    print(f"[{kind}] seeded {args.notices} notices in {time.monotonic() - started:.1f} s", flush=True)
    results: dict = {"db": kind}
    with pages.served(env, f"board-{kind}") as base:
        targets = {
            "hello": f"{base}/healthz/live",
            "board": f"{base}/a/{SLUG}/notices/",
            "search": f"{base}/a/{SLUG}/notices/?q=%E9%98%B2%E7%81%BD%E8%A8%93%E7%B7%B4",  # 防災訓練
            "notice": f"{base}/a/{SLUG}/notices/2",
        }
        for target in targets.values():
            pages.wrk(target, 8, 1)
        for name, target in targets.items():
            results[name] = pages.wrk(target, args.connections, args.duration)
    return results


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--seed":
        from chonaikai.db import run_with_database

        run_with_database(seed(int(sys.argv[2])))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--notices", type=int, default=5000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    results = [run_one(kind, args) for kind in kinds]
    print(f"\n{'db':<9}{'page':<8}{'rps':>8}{'ratio':>8}{'p99':>10}   targets: board ≥ 0.2, search ≥ 0.05, p99 ≤ 100 ms")
    for r in results:
        hello_rps = r["hello"][0]
        for name in ("hello", "board", "search", "notice"):
            rps, p99 = r[name]
            ratio = rps / hello_rps
            floor = {"hello": 0, "board": 0.2, "search": 0.05, "notice": 0.2}[name]
            verdict = "" if name == "hello" else ("ok" if ratio >= floor and p99 <= 100 else "BELOW TARGET")
            print(f"{r['db']:<9}{name:<8}{rps:>8.0f}{ratio:>8.2f}{p99:>8.1f}ms  {verdict}")


if __name__ == "__main__":
    main()
