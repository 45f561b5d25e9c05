"""Benchmark (not a test): the 「読みました」 endpoint against a hello route in the same server.

    .venv/bin/python bench/confirm.py                    # SQLite (temporary file)
    CHONAIKAI_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench .venv/bin/python bench/confirm.py
    .venv/bin/python bench/confirm.py --no-freeze        # without gc.freeze() at start-up

Seeds one notice delivered to N households (default 20,000), starts `chonaikai serve`, then
with `wrk` (Debian package `wrk`) loads `/healthz/live` (the reference) and
`POST /r/{token}/confirm` (htmx fragment) with tokens picked at random, and prints
confirm_rps ÷ hello_rps (target ≥ 0.3) and the server's memory afterwards. Every confirmation
is committed before its answer is sent, so it is durable when the reader sees 「受け付けました」;
the script checks the count.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import outbox  # noqa: E402  (sets the database from CHONAIKAI_BENCH_DATABASE_URL)
from pages import bench_env, csrf_cookie, rss_mb, served, wrk  # noqa: E402

from chonaikai.db import get_engine, postgres_pool, run_with_database  # noqa: E402
from chonaikai.delivery.tables import Delivery  # noqa: E402

LUA = """
tokens = {%s}
cookie = "chonaikai_csrf=%s"
csrf = "%s"
request = function()
  local token = tokens[math.random(#tokens)]
  return wrk.format("POST", "/r/" .. token .. "/confirm",
    {["Cookie"] = cookie, ["x-chonaikai-csrf"] = csrf, ["HX-Request"] = "true",
     ["Content-Length"] = "0"}, "")
end
"""



async def confirmed(notice_id: int) -> int:
    async with postgres_pool(get_engine()):
        count = await Delivery.count().where(
            (Delivery.notice == notice_id) & Delivery.confirmed_at.is_not_null()
        )
        await outbox.cleanup()
    return count


def main() -> None:
    n = int(os.environ.get("N", 20_000))
    duration = int(os.environ.get("DURATION", 10))
    connections = int(os.environ.get("CONNECTIONS", 64))
    notice_id, tokens = run_with_database(outbox.seed_read_links(n))  # closes SQLite's connection threads
    # The database is the one outbox.py chose (CHONAIKAI_DATABASE_URL is already set).
    with served(bench_env(), "confirm") as base:
        cookie = csrf_cookie(base, tokens[0])
        script = Path(tempfile.mkdtemp()) / "confirm.lua"
        script.write_text(LUA % (",".join(f'"{t}"' for t in tokens), cookie, cookie))
        wrk(f"{base}/healthz/live", 8, 1)  # warm up
        hello_rps, hello_p99 = wrk(f"{base}/healthz/live", connections, duration)
        started = time.perf_counter()
        confirm_rps, confirm_p99 = wrk(base, connections, duration, script)  # error answers stop the run
        elapsed = time.perf_counter() - started
        rss = rss_mb(base)
    count = run_with_database(confirmed(notice_id))
    database = "PostgreSQL" if outbox.url.startswith("postgres") else "SQLite"
    freeze = " (no gc.freeze)" if "--no-freeze" in sys.argv else ""
    print(f"{database}{freeze}: {n} households, wrk {connections} connections, {duration} s each")
    print(f"  hello /healthz/live: {hello_rps:,.0f} rps (p99 {hello_p99:.1f} ms)")
    print(f"  POST /r/{{token}}/confirm: {confirm_rps:,.0f} rps (p99 {confirm_p99:.1f} ms)")
    print(f"  ratio: {confirm_rps / hello_rps:.2f} (target >= 0.3)")
    print(f"  server RSS after the run: {rss:.0f} MB")
    print(f"  confirmed rows afterwards: {count} (≈ distinct tokens hit in {elapsed:.0f} s; committed before each answer)")


if __name__ == "__main__":
    main()
