"""Signed-in members' pages under load, against a hello route in the same server (issues 14 and 20).

Seeds one association with members-only notices (some for one 班 only) and ``--members``
households, each signed in with a server-side session of its own, starts the real server
(``chonaikai serve``), and loads with ``wrk`` (64 connections), one after the other:

- ``/healthz/live`` (no database: the reference);
- the board ``/a/{slug}/notices/``, each request with a session picked at random;
- a notice page ``/a/{slug}/notices/{id}``, a random member opening a random notice.

Prints each page's rps ÷ hello rps (target ≥ 0.25, p99 ≤ 50 ms), the answers that were not 200
(any stops the run), the server's RSS after the run, and whether any session row was written
during the run (a signed-in page view whose session did not change writes nothing).

    .venv/bin/python bench/signed_in.py --db sqlite --duration 8
    .venv/bin/python bench/signed_in.py --db both --members 1 --no-freeze
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pages  # noqa: E402

SLUG = "bench-signed-in"
NOTICES = 40  # members-only; every fifth for 班 1 only
HANS = 3


def session_id(n: int) -> str:
    return f"{n:064x}"


async def seed(members: int) -> None:
    from datetime import UTC, datetime, timedelta

    from chonaikai.cli import migrate
    from chonaikai.notices.tables import Notice, NoticeHan
    from chonaikai.tenancy.tables import Association, City

    await migrate()
    now = datetime.now(UTC)
    city = City(slug="bench", name="計測市", municipality_code="079995", updated_at=now)
    await city.save()
    association = Association(slug=SLUG, name="計測町内会", kana="けいそく", city=city.id, updated_at=now)
    await association.save()
    hans = await seed_members(association.id, members)
    notices = [
        Notice(association=association.id, title=f"お知らせ{n}", body="本文です。ごみの出し方について。\n\n" * 20,
               category="行事", visibility="members", audience="han" if n % 5 == 4 else "all",
               needs_confirmation=n % 3 == 0, status="published", published_at=now - timedelta(hours=n),
               created_at=now, updated_at=now)
        for n in range(NOTICES)
    ]
    await Notice.insert(*notices)
    ids = [row["id"] for row in await Notice.select(Notice.id, Notice.audience)]
    han_rows = [row["id"] for row in await Notice.select(Notice.id).where(Notice.audience == "han")]
    await NoticeHan.insert(*[NoticeHan(association=association.id, notice=i, han=hans[0]) for i in han_rows])
    print(f"seeded {len(ids)} notices, {members} signed-in members", flush=True)


async def seed_members(association_id: int, members: int) -> list[int]:
    """``members`` households of the association in HANS 班 (member n in 班 n % HANS), each with
    an account, a member's role and a server-side session (``session_id(n)``); the 班' ids."""
    from datetime import UTC, datetime

    from litestar.serialization import encode_json  # the session middleware's own serialisation

    from chonaikai.accounts.sessions import SESSION_MAX_AGE, DatabaseStore
    from chonaikai.accounts.tables import Account, RoleGrant
    from chonaikai.db import insert_many, write_transaction
    from chonaikai.roster.tables import Han, Household

    now = datetime.now(UTC)
    hans = []
    for n in range(HANS):
        han = Han(association=association_id, name=f"{n + 1}班", position=n)
        await han.save()
        hans.append(han.id)
    store = DatabaseStore()
    async with write_transaction():
        await insert_many(Household, [
            Household(association=association_id, name=f"計測 {n}", han=hans[n % HANS], channel="email",
                      email=f"m{n}@example.jp", created_at=now, updated_at=now)
            for n in range(members)
        ])
        await insert_many(Account, [Account(email=f"m{n}@example.jp", created_at=now) for n in range(members)])
    households = [row["id"] for row in await Household.select(Household.id).order_by(Household.id)]
    accounts = [row["id"] for row in await Account.select(Account.id).order_by(Account.id)]
    async with write_transaction():
        await insert_many(RoleGrant, [
            RoleGrant(account=a, role="member", association=association_id, household=h, created_at=now)
            for a, h in zip(accounts, households, strict=True)
        ])
    for n, (a, h) in enumerate(zip(accounts, households, strict=True)):
        await store.set(session_id(n), encode_json({"account_id": a, "household_id": h}), expires_in=SESSION_MAX_AGE)
    return hans


async def session_rows() -> str:
    from chonaikai.accounts.tables import WebSession

    rows = await WebSession.select(WebSession.key, WebSession.value, WebSession.expires_at).order_by(WebSession.key)
    return repr([(row["key"], bytes(row["value"]), row["expires_at"]) for row in rows])


async def notice_ids() -> str:
    from chonaikai.notices.tables import Notice

    return ",".join(str(row["id"]) for row in await Notice.select(Notice.id).where(Notice.audience == "all"))


def member_script(name: str, members: int, csrf: str, path: str, setup: str = "") -> Path:
    """A wrk script: each request with a random member's session cookie and, as a browser that
    has been here before, the CSRF cookie it was given; ``path``: a Lua expression (``setup``:
    Lua it needs, run once per thread)."""
    pages.OUT.mkdir(parents=True, exist_ok=True)
    target = pages.OUT / f"{name}.lua"
    target.write_text(
        pages.SEEDED_THREADS_LUA + setup +
        "request = function()\n"
        f'  local cookie = string.format("chonaikai_session=%064x; chonaikai_csrf={csrf}", math.random(0, {members - 1}))\n'
        f"  return wrk.format(\"GET\", {path}, {{[\"Cookie\"] = cookie, [\"Accept-Encoding\"] = \"gzip\"}})\n"
        "end\n"
    )
    return target


def script(members: int, paths: str, ids: str = "", csrf: str = "") -> Path:
    """The board (``paths``) or, with ``ids``, a random notice of those every member may read."""
    if ids:
        return member_script("signed-in-page", members, csrf, f'"{paths}" .. ids[math.random(#ids)]', f"ids = {{{ids}}}\n")
    return member_script("signed-in-board", members, csrf, f'"{paths}"')


def first_visits(base: str, path: str, members: int) -> str:
    """Each member's first visit of ``path`` (as a board visited all day); the CSRF cookie a
    browser is given on its first visit (every member then sends it, as their browser would)."""
    csrf = ""
    for n in range(min(members, 2000)):
        request = urllib.request.Request(f"{base}{path}", headers={"Cookie": f"chonaikai_session={session_id(n)}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert "ログアウト" in response.read().decode()
            for cookie in response.headers.get_all("set-cookie") or []:
                if cookie.startswith("chonaikai_csrf=") and not csrf:
                    csrf = cookie.split("=", 1)[1].split(";", 1)[0]
    return csrf


def child(env: dict[str, str], *args: str) -> str:
    import subprocess

    return subprocess.run([sys.executable, __file__, *args], env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def run(kind: str, args: argparse.Namespace) -> dict:
    env = pages.bench_env(pages.prepare_database(kind))
    print(f"[{kind}] {child(env, '--seed', str(args.members))}", flush=True)
    ids = child(env, "--ids")
    before = child(env, "--rows")
    board_path = f"/a/{SLUG}/notices/"
    with pages.served(env, f"signed-in-{kind}") as base:
        csrf = first_visits(base, board_path, args.members)
        board_script = script(args.members, board_path, csrf=csrf)
        page_script = script(args.members, f"/a/{SLUG}/notices/", ids, csrf=csrf)
        pages.wrk(f"{base}/healthz/live", 8, 1)
        pages.wrk(base, 8, 1, board_script)
        pages.wrk(base, 8, 1, page_script)
        hello = pages.wrk(f"{base}/healthz/live", args.connections, args.duration)
        # PROFILE=out.txt: py-spy's samples of the board run (PROFILE_RUN=page: of the notice page's).
        profiled = os.environ.get("PROFILE_RUN", "board")

        def run(name: str, lua: Path) -> dict:
            profiler = None
            if (profile := os.environ.get("PROFILE")) and name == profiled:
                profiler = subprocess.Popen(["py-spy", "record", "--subprocesses", "-d", str(args.duration), "-o",
                                             profile, "-f", "raw", "-p", str(base.pid)],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            result = pages.wrk(base, args.connections, args.duration, lua)  # error answers stop the run
            if profiler is not None:
                profiler.wait()
            return result

        board = run("board", board_script)
        page = run("page", page_script)
        rss = pages.rss_mb(base)
    time.sleep(0.5)
    after = child(env, "--rows")
    return {"db": kind, "hello": hello, "board": board, "page": page, "rss": rss, "rows_unchanged": before == after}


def main() -> None:
    from chonaikai.db import run_with_database

    if sys.argv[1:2] == ["--seed"]:
        run_with_database(seed(int(sys.argv[2])))
        return
    if sys.argv[1:] == ["--rows"]:
        print(run_with_database(session_rows()))
        return
    if sys.argv[1:] == ["--ids"]:
        print(run_with_database(notice_ids()))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--members", type=int, default=200, help="signed-in members, one session each")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--no-freeze", action="store_true", help="without gc.freeze() at start-up")
    args = parser.parse_args()
    results = [run(kind, args) for kind in (["sqlite", "postgres"] if args.db == "both" else [args.db])]
    freeze = " (no gc.freeze)" if args.no_freeze else ""
    print(f"\n{args.members} members, wrk {args.connections} connections, {args.duration} s each{freeze}")
    print(f"{'db':<9}{'page':<14}{'rps':>9}{'÷ hello':>9}{'p99':>10}  target: ≥ 0.25 of hello, p99 ≤ 50 ms")
    for r in results:
        hello_rps, hello_p99 = r["hello"]
        print(f"{r['db']:<9}{'hello':<14}{hello_rps:>9.0f}{1:>9.2f}{hello_p99:>8.1f}ms")
        for label in ("board", "page"):
            rps, p99 = r[label]
            verdict = "ok" if rps / hello_rps >= 0.25 and p99 <= 50 else "BELOW TARGET"
            print(f"{'':<9}{'signed-in ' + label:<14}{rps:>9.0f}{rps / hello_rps:>9.3f}{p99:>8.1f}ms  {verdict}")
        print(f"{'':<9}server RSS after the run: {r['rss']:.0f} MB; session rows "
              f"{'unchanged' if r['rows_unchanged'] else 'WRITTEN during the run'}")


if __name__ == "__main__":
    main()
