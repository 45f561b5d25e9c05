"""Benchmark (not a test): many machines on one PostgreSQL — two web processes and two workers.

A city circular goes to ASSOCIATIONS × HOUSEHOLDS households (default 800 × 150 = 120,000, all
on e-mail to Postfix's ``smtp-sink``), while readers open their read links and tap 「読みました」
(``wrk``, random tokens of READERS households, both web processes). Run twice on a fresh
database: one web process and one worker, then two of each. Prints, for each:

- deliveries/s: households sent from the circular's publication until none is pending;
- read rps and confirm rps (GET /r/{token}, POST /r/{token}/confirm, htmx) summed over the web
  processes, with p99, measured while the workers send;
- and the two-process figures ÷ the one-process figures.

    apt-get install wrk postfix        # postfix: "No configuration" (only smtp-sink is used)
    .venv/bin/python bench/scale.py
    .venv/bin/python bench/scale.py --no-freeze        # web processes without gc.freeze() at start-up
    ASSOCIATIONS=100 HOUSEHOLDS=100 DURATION=5 .venv/bin/python bench/scale.py

The database is CHONAIKAI_BENCH_PG_DB (default chonaikai_bench_scale), dropped and made again.
On a 2-core machine the processes share two cores with PostgreSQL, smtp-sink and wrk: the ratio
says how much the extra processes cost or gain there, not what two machines would do.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("CHONAIKAI_BENCH_PG_DB", "chonaikai_bench_scale")

import pages  # noqa: E402  (server, wrk and database helpers)

ASSOCIATIONS = int(os.environ.get("ASSOCIATIONS", 800))
HOUSEHOLDS = int(os.environ.get("HOUSEHOLDS", 150))
READERS = int(os.environ.get("READERS", 20_000))
DURATION = int(os.environ.get("DURATION", 10))
CONNECTIONS = int(os.environ.get("CONNECTIONS", 32))  # per web process and kind of request
TIMEOUT = int(os.environ.get("TIMEOUT", 600))
SLUG = "bench-scale"

READ_LUA = """
tokens = {%s}
request = function()
  return wrk.format("GET", "/r/" .. tokens[math.random(#tokens)])
end
"""
CONFIRM_LUA = """
tokens = {%s}
cookie = "chonaikai_csrf=%s"
request = function()
  return wrk.format("POST", "/r/" .. tokens[math.random(#tokens)] .. "/confirm",
    {["Cookie"] = cookie, ["x-chonaikai-csrf"] = "%s", ["HX-Request"] = "true", ["Content-Length"] = "0"}, "")
end
"""


async def seed() -> None:
    """Runs in a child process on the bench database: the city, associations and households."""
    from datetime import UTC, datetime

    from chonaikai.cli import migrate
    from chonaikai.db import get_engine
    from chonaikai.tenancy.tables import Association, City

    await migrate()
    now = datetime.now(UTC)
    city = City(slug=SLUG, name="計測市", municipality_code="079994", updated_at=now)
    await city.save()
    async with get_engine().pool.acquire() as connection:
        await connection.copy_records_to_table(
            "association",
            columns=("slug", "name", "kana", "city", "district", "contact", "introduction", "public_officers",
                     "hosts", "line_channel", "auto_forward_circulars", "updated_at"),
            records=[(f"{SLUG}-{i}", f"計測町内会{i}", f"けいそく{i:04d}", city.id, f"第{i % 12}地区", "", "", "[]",
                      "[]", "{}", True, now) for i in range(ASSOCIATIONS)],
        )
        ids = [row["id"] for row in await Association.select(Association.id).where(Association.city == city.id)]
        await connection.copy_records_to_table(
            "han", columns=("association", "name", "position"), records=[(a, "1班", 0) for a in ids])
        await connection.copy_records_to_table(
            "household",
            columns=("association", "name", "channel", "email", "moved_out", "created_at", "updated_at"),
            records=[(a, f"世帯{i}", "email", f"h{a}-{i}@example.jp", False, now, now)
                     for a in ids for i in range(HOUSEHOLDS)],
        )
        await connection.execute("ANALYZE")


async def send() -> None:
    """Runs in a child process: the circular, forwarded to every association at once."""
    from chonaikai.circulars import logic
    from chonaikai.tenancy.tables import City

    city = await City.select(City.id).where(City.slug == SLUG).first()
    await logic.create_circular(city["id"], logic.CircularInput(
        title="市からのお知らせ（計測）", summary="大量送信の計測です。", needs_confirmation=True))


def child(step: str, env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, __file__, f"--{step}"], env=env, check=True,
                          capture_output=True, text=True)
    return done.stdout


def query(env: dict[str, str], sql: str) -> list:
    import asyncpg

    async def fetch() -> list:
        connection = await asyncpg.connect(env["CHONAIKAI_DATABASE_URL"])
        try:
            return await connection.fetch(sql)
        finally:
            await connection.close()

    return asyncio.run(fetch())


def pending_and_total(env: dict[str, str]) -> tuple[int, int]:
    row = query(env, "SELECT count(*) FILTER (WHERE status IN ('pending', 'sending')) AS pending, "
                     "count(*) AS total FROM delivery")[0]
    return row["pending"], row["total"]


def start_wrk(base: str, script: Path) -> subprocess.Popen:
    return subprocess.Popen(
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{DURATION}s", "--latency", "-s", str(script), base],
        stdout=subprocess.PIPE, text=True,
    )


def wrk_result(process: subprocess.Popen) -> tuple[float, float, int]:
    out = process.communicate()[0]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, float(p99.group(1)) * scale, int(errors.group(1)) if errors else 0


def run(webs: int, workers: int) -> dict:
    env = pages.bench_env(pages.prepare_database("postgres"))
    sink_port = pages.free_port()
    env.update({"CHONAIKAI_SMTP_HOST": "127.0.0.1", "CHONAIKAI_SMTP_PORT": str(sink_port),
                "CHONAIKAI_SMTP_TLS": "none", "CHONAIKAI_SMTP_CONNECTIONS": "8"})
    child("seed", env)
    with ExitStack() as stack:
        sink = subprocess.Popen([shutil.which("smtp-sink") or "/usr/sbin/smtp-sink", "-c", "-u", "nobody",
                                 f"127.0.0.1:{sink_port}", "256"], stdout=subprocess.DEVNULL)
        stack.callback(lambda: (sink.terminate(), sink.wait()))
        bases = [stack.enter_context(pages.served(env, f"scale-web{n}")) for n in range(webs)]
        logs = [open(pages.OUT / f"scale-worker{n}.log", "w") for n in range(workers)]  # noqa: SIM115
        procs = [subprocess.Popen([str(Path(sys.executable).parent / "chonaikai"), "worker"], env=env,
                                  stdout=log, stderr=log) for log in logs]

        def stop_workers() -> None:
            for process in procs:
                process.terminate()
            for process in procs:
                process.wait(timeout=60)

        stack.callback(stop_workers)
        started = time.monotonic()
        child("send", env)
        sent_in = time.monotonic() - started
        pending, total = pending_and_total(env)
        tokens = [row["token"] for row in query(env, f"SELECT token FROM delivery ORDER BY random() LIMIT {READERS}")]
        print(f"[{webs} web + {workers} workers] circular stored: {total} deliveries in {sent_in:.1f} s", flush=True)
        folder = Path(tempfile.mkdtemp())
        cookie = pages.csrf_cookie(bases[0], tokens[0])
        quoted = ",".join(f'"{t}"' for t in tokens)
        (folder / "read.lua").write_text(READ_LUA % quoted)
        (folder / "confirm.lua").write_text(CONFIRM_LUA % (quoted, cookie, cookie))
        loads = [start_wrk(base, folder / name) for base in bases for name in ("read.lua", "confirm.lua")]
        while pending and time.monotonic() - started < TIMEOUT:
            time.sleep(0.5)
            pending, _ = pending_and_total(env)
        elapsed = time.monotonic() - started
        results = [wrk_result(load) for load in loads]
        rss = sum(pages.rss_mb(base) for base in bases)
    reads = results[0::2]
    confirms = results[1::2]
    return {
        "webs": webs, "workers": workers, "total": total, "pending": pending,
        "deliveries_per_s": (total - pending) / elapsed,
        "read_rps": sum(r[0] for r in reads), "read_p99": max(r[1] for r in reads),
        "confirm_rps": sum(r[0] for r in confirms), "confirm_p99": max(r[1] for r in confirms),
        "errors": sum(r[2] for r in results), "rss": rss,
    }


def main() -> None:
    if len(sys.argv) == 2 and sys.argv[1] in ("--seed", "--send"):
        from chonaikai.db import get_engine, postgres_pool, run_with_database
        from chonaikai.wiring import wire

        wire()  # the delivery core's channels and content source

        async def in_child(step: str) -> None:
            async with postgres_pool(get_engine()):
                await (seed() if step == "--seed" else send())

        run_with_database(in_child(sys.argv[1]))
        return
    for tool in ("wrk", "smtp-sink"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            raise SystemExit(f"{tool} is missing: apt-get install wrk postfix")
    one = run(1, 1)
    two = run(2, 2)
    print(f"\n{ASSOCIATIONS} associations × {HOUSEHOLDS} households, readers: random tokens of {READERS},"
          f" wrk {CONNECTIONS} connections per web process and kind, PostgreSQL"
          + (" (web processes without gc.freeze)" if "--no-freeze" in sys.argv else ""))
    print(f"{'':<22}{'deliveries/s':>13}{'read rps':>10}{'p99':>9}{'confirm rps':>13}{'p99':>9}{'web RSS':>9}")
    for r in (one, two):
        print(f"{r['webs']} web + {r['workers']} worker{'s' if r['workers'] > 1 else ' '}      "
              f"{r['deliveries_per_s']:>13,.0f}{r['read_rps']:>10,.0f}{r['read_p99']:>7.0f}ms"
              f"{r['confirm_rps']:>13,.0f}{r['confirm_p99']:>7.0f}ms{r['rss']:>7.0f}MB"
              + (f"  ({r['pending']} still pending)" if r["pending"] else "")
              + (f"  ({r['errors']} error answers)" if r["errors"] else ""))
    print(f"two ÷ one: deliveries {two['deliveries_per_s'] / one['deliveries_per_s']:.2f}, "
          f"reads {two['read_rps'] / one['read_rps']:.2f}, confirms {two['confirm_rps'] / one['confirm_rps']:.2f}")


if __name__ == "__main__":
    main()
