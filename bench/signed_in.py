"""A signed-in member's board under load: 64 connections, one session (issue 14, High 2).

Seeds one association with 20 members-only notices and one member with a server-side session,
starts the real server (``chonaikai serve``) and loads ``/a/{slug}/notices/`` with that session
cookie using ``wrk``. Prints rps, p99 and the answers that were not 200 (before the fix, every
signed-in view wrote the session back and SQLite answered some with 500), and whether the
session row was written during the run.

    .venv/bin/python bench/signed_in.py --db sqlite --duration 10
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pages  # noqa: E402

SLUG = "bench-signed-in"
SESSION_ID = "b" * 64


async def seed() -> None:
    from datetime import UTC, datetime

    from litestar.serialization import encode_json  # the session middleware's own serialisation

    from chonaikai.accounts.sessions import SESSION_MAX_AGE, DatabaseStore
    from chonaikai.accounts.tables import Account, RoleGrant
    from chonaikai.cli import migrate
    from chonaikai.notices.tables import Notice
    from chonaikai.roster.tables import Household
    from chonaikai.tenancy.tables import Association, City

    await migrate()
    now = datetime.now(UTC)
    city = City(slug="bench", name="計測市", municipality_code="079995", updated_at=now)
    await city.save()
    association = Association(slug=SLUG, name="計測町内会", kana="けいそく", city=city.id, updated_at=now)
    await association.save()
    await Notice.insert(*[
        Notice(association=association.id, title=f"お知らせ{n}", body="本文です。\n" * 20, visibility="members",
               audience="all", status="published", published_at=now, created_at=now, updated_at=now)
        for n in range(20)
    ])
    household = Household(association=association.id, name="計測 太郎", channel="email", email="m@example.jp",
                          created_at=now, updated_at=now)
    await household.save()
    account = Account(email="m@example.jp", created_at=now)
    await account.save()
    await RoleGrant(account=account.id, role="member", association=association.id, household=household.id,
                    created_at=now).save()
    await DatabaseStore().set(SESSION_ID, encode_json({"account_id": account.id, "household_id": household.id}),
                              expires_in=SESSION_MAX_AGE)


async def session_row() -> tuple:
    from chonaikai.accounts.tables import WebSession

    row = await WebSession.select(WebSession.value, WebSession.expires_at).first()
    return (bytes(row["value"]), row["expires_at"]) if row else ()


def run(kind: str, args: argparse.Namespace) -> None:
    env = pages.bench_env(pages.prepare_database(kind))
    subprocess.run([sys.executable, __file__, "--seed"], env=env, check=True)
    before = subprocess.run([sys.executable, __file__, "--row"], env=env, check=True, capture_output=True, text=True).stdout
    with pages.served(env, f"signed-in-{kind}") as base:
        url = f"{base}/a/{SLUG}/notices/"
        result = subprocess.run(
            ["wrk", "-t2", f"-c{args.connections}", f"-d{args.duration}s", "--latency",
             "-H", f"Cookie: chonaikai_session={SESSION_ID}", url],
            capture_output=True, text=True, check=True,
        )
    after = subprocess.run([sys.executable, __file__, "--row"], env=env, check=True, capture_output=True, text=True).stdout
    out = result.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+\w+)", out).group(1)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    print(f"[{kind}] signed-in board, {args.connections} connections: {rps:.0f} rps, p99 {p99}, "
          f"{bad.group(1) if bad else 0} of {total} answers not 2xx/3xx"
          f"{', socket errors ' + errors.group(1) if errors else ''}; "
          f"session row {'unchanged' if before == after else 'written during the run'}")


def main() -> None:
    from chonaikai.db import run_with_database

    if sys.argv[1:] == ["--seed"]:
        run_with_database(seed())
        return
    if sys.argv[1:] == ["--row"]:
        print(run_with_database(session_row()))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=int, default=10)
    args = parser.parse_args()
    for kind in (["sqlite", "postgres"] if args.db == "both" else [args.db]):
        run(kind, args)


if __name__ == "__main__":
    main()
