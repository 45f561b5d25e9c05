"""Benchmark (not a test): e-mail fan-out rate of the worker against Postfix's smtp-source.

    apt-get install postfix   # "No configuration": only smtp-sink / smtp-source are used
    .venv/bin/python bench/fanout.py                  # SQLite, N=10,000
    CHONAIKAI_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench N=20000 .venv/bin/python bench/fanout.py

Starts `smtp-sink` on loopback; `smtp-source` sends N messages over 10 connections (the
reference); then our worker delivers one notice to N e-mail households to the same sink, with
10 SMTP connections — claiming, rendering each personalised message, sending, recording.
Prints our rate ÷ smtp-source's rate (target ≥ 0.25).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


PORT = free_port()
os.environ["CHONAIKAI_SMTP_HOST"] = "127.0.0.1"
os.environ["CHONAIKAI_SMTP_PORT"] = str(PORT)
os.environ["CHONAIKAI_SMTP_TLS"] = "none"
os.environ["CHONAIKAI_BASE_URL"] = "https://chonaikai.example.jp"

import outbox  # noqa: E402  (sets the database from CHONAIKAI_BENCH_DATABASE_URL)

from chonaikai.channels.email import EmailChannel  # noqa: E402
from chonaikai.db import get_engine, postgres_pool  # noqa: E402
from chonaikai.delivery.outbox import create_deliveries  # noqa: E402
from chonaikai.delivery.tables import Delivery  # noqa: E402
from chonaikai.delivery.worker import Worker  # noqa: E402

CONNECTIONS = 10


def tool(name: str) -> str:
    path = shutil.which(name) or f"/usr/sbin/{name}"
    if not os.path.exists(path):
        sys.exit(f"{name} not found: apt-get install postfix (choose 'No configuration')")
    return path


def reference(n: int, size: int) -> float:
    started = time.perf_counter()
    subprocess.run(
        [tool("smtp-source"), "-s", str(CONNECTIONS), "-m", str(n), "-l", str(size),
         "-f", "noreply@chonaikai.example.jp", "-t", "h1@example.jp", f"127.0.0.1:{PORT}"],
        check=True,
    )
    return time.perf_counter() - started


async def ours(n: int) -> tuple[float, int]:
    async with postgres_pool(get_engine()):
        await outbox.migrate()
        _, notice_id = await outbox.setup(n, channels=("email",))
        try:
            await create_deliveries(notice_id)
            worker = Worker([EmailChannel(connections=CONNECTIONS)], lanes=3, publish_due=False)
            started = time.perf_counter()
            await worker.run(once=True)
            elapsed = time.perf_counter() - started
            sent = await Delivery.count().where((Delivery.notice == notice_id) & (Delivery.status == "sent"))
            return elapsed, sent
        finally:
            await outbox.cleanup()


def main() -> None:
    n = int(os.environ.get("N", 10_000))
    sink = subprocess.Popen([tool("smtp-sink"), "-u", "nobody", f"127.0.0.1:{PORT}", "1000"])
    try:
        time.sleep(0.5)
        elapsed, sent = asyncio.run(ours(n))
        ref = reference(n, 3000)  # ~ the size of one of our notice e-mails
    finally:
        sink.terminate()
        sink.wait()
    database = "PostgreSQL" if outbox.url.startswith("postgres") else "SQLite"
    our_rate, ref_rate = sent / elapsed, n / ref
    print(f"{database}, {n} e-mail households, {CONNECTIONS} SMTP connections each")
    print(f"  smtp-source: {ref_rate:,.0f} msg/s")
    print(f"  chonaikai worker: {sent} sent in {elapsed:.2f} s = {our_rate:,.0f} msg/s")
    print(f"  ratio: {our_rate / ref_rate:.2f} (target >= 0.25)")


if __name__ == "__main__":
    main()
