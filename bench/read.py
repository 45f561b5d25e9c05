"""Benchmark (not a test): the read page ``GET /r/{token}`` against a hello route in the same server.

    .venv/bin/python bench/read.py                     # SQLite (temporary file)
    CHONAIKAI_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench .venv/bin/python bench/read.py
    .venv/bin/python bench/read.py --no-freeze         # without gc.freeze() at start-up

Seeds one notice delivered to N households (default 20,000), starts ``chonaikai serve``, loads
``/healthz/live`` (the reference) and ``GET /r/{token}`` with tokens picked at random (each first
visit is an "opened" to record: in batches, at most a second after the visit), then prints
read_rps ÷ hello_rps (target ≥ 0.30, p99 ≤ 50 ms), the server's memory, and how many read links
are recorded as opened afterwards (≈ the distinct tokens visited).
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
from pages import SEEDED_THREADS_LUA, bench_env, rss_mb, served, wrk  # noqa: E402

from chonaikai.db import get_engine, postgres_pool, run_with_database  # noqa: E402
from chonaikai.delivery.tables import Delivery  # noqa: E402

LUA = SEEDED_THREADS_LUA + """
tokens = {%s}
request = function()
  return wrk.format("GET", "/r/" .. tokens[math.random(#tokens)])
end
"""



async def opened(notice_id: int) -> int:
    async with postgres_pool(get_engine()):
        count = await Delivery.count().where((Delivery.notice == notice_id) & Delivery.opened_at.is_not_null())
        await outbox.cleanup()
    return count


def main() -> None:
    n = int(os.environ.get("N", 20_000))
    duration = int(os.environ.get("DURATION", 10))
    connections = int(os.environ.get("CONNECTIONS", 64))
    notice_id, tokens = run_with_database(outbox.seed_read_links(n))
    with served(bench_env(), "read") as base:
        script = Path(tempfile.mkdtemp()) / "read.lua"
        script.write_text(LUA % ",".join(f'"{t}"' for t in tokens))
        wrk(f"{base}/healthz/live", 8, 1)  # warm up: each route as the other
        wrk(base, 8, 1, script)
        hello_rps, hello_p99 = wrk(f"{base}/healthz/live", connections, duration)
        profiler = None
        if profile := os.environ.get("PROFILE"):  # PROFILE=out.svg: py-spy's flame graph of the read run
            import subprocess

            profiler = subprocess.Popen(["py-spy", "record", "--subprocesses", "-d", str(duration), "-o", profile,
                                         "-f", "raw" if profile.endswith(".txt") else "flamegraph",
                                         "-p", str(base.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        read_rps, read_p99 = wrk(base, connections, duration, script)  # error answers stop the run
        if profiler is not None:
            profiler.wait()
        rss = rss_mb(base)
        time.sleep(1.5)  # the last batch of opens
    count = run_with_database(opened(notice_id))
    database = "PostgreSQL" if outbox.url.startswith("postgres") else "SQLite"
    freeze = " (no gc.freeze)" if "--no-freeze" in sys.argv else ""
    print(f"{database}{freeze}: {n} households, wrk {connections} connections, {duration} s each")
    print(f"  hello /healthz/live: {hello_rps:,.0f} rps (p99 {hello_p99:.1f} ms)")
    print(f"  GET /r/{{token}}: {read_rps:,.0f} rps (p99 {read_p99:.1f} ms)")
    print(f"  ratio: {read_rps / hello_rps:.2f} (target >= 0.30, p99 <= 50 ms)")
    print(f"  server RSS after the run: {rss:.0f} MB")
    print(f"  read links recorded as opened afterwards: {count}")


if __name__ == "__main__":
    main()
