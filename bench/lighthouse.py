"""Lighthouse (mobile) on the pages members see most: homepage, notice board, read page.

Starts the demo (`chonaikai demo`, its own SQLite file under bench/out/) on a loopback port, finds a
notice and a read link in the demo data, runs Lighthouse 12 (npm, installed into bench/node_modules
on first use) with Debian's Chromium, and prints the scores. Targets: accessibility 100,
performance ≥ 95. Exit status 1 when a page misses them.

    .venv/bin/python bench/lighthouse.py
    .venv/bin/python bench/lighthouse.py --keep     # keep the JSON reports in bench/out/lighthouse/
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
OUT = BENCH / "out" / "lighthouse"
CHROMIUM = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
CHROME_FLAGS = (
    "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking"
    " --disable-component-update --disable-sync"
)
TARGETS = {"accessibility": 100, "performance": 95}


def ensure_lighthouse() -> Path:
    binary = BENCH / "node_modules" / ".bin" / "lighthouse"
    if not binary.exists():
        if not shutil.which("npm"):
            sys.exit("npm is needed for Lighthouse: apt-get install -y npm")
        print("installing lighthouse into bench/node_modules …", flush=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent"], cwd=BENCH, check=True)
    return binary


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, ""


def start_demo(port: int) -> subprocess.Popen:
    OUT.mkdir(parents=True, exist_ok=True)
    database = OUT / "demo.sqlite3"
    for leftover in OUT.glob("demo.sqlite3*"):
        leftover.unlink()
    env = {
        **os.environ,
        "CHONAIKAI_DATABASE_URL": f"sqlite:///{database}",
        "CHONAIKAI_BASE_URL": f"http://127.0.0.1:{port}",
        "CHONAIKAI_UPLOAD_DIR": str(OUT / "uploads"),
    }
    process = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "chonaikai"), "demo", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=(OUT / "demo.log").open("wb"), stderr=subprocess.STDOUT, cwd=ROOT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the demo stopped:\n{(OUT / 'demo.log').read_text()[-3000:]}")
        try:
            if get(f"http://127.0.0.1:{port}/healthz")[0] == 200:
                return process
        except OSError:
            pass
        time.sleep(0.2)
    process.kill()
    sys.exit("the demo did not start within 60 s")


def pages(base: str, slug: str) -> dict[str, str | None]:
    """The three pages, or None for one this version does not have yet."""
    found: dict[str, str | None] = {"homepage": f"{base}/a/{slug}/"}
    status, board = get(f"{base}/a/{slug}/notices")
    found["board"] = f"{base}/a/{slug}/notices" if status == 200 else None
    found["read page"] = None
    # The demo's mail catcher lists the e-mails members received, with their read links.
    for catcher in ("/demo/mail", "/demo/mails", "/demo/"):
        status, html = get(base + catcher)
        match = re.search(r'href="(?:https?://[^/"]+)?(/r/[A-Za-z0-9_\-]+)"', html) if status == 200 else None
        if match:
            found["read page"] = base + match.group(1)
            break
    return found


def run_lighthouse(binary: Path, name: str, url: str, keep: bool) -> dict[str, int]:
    report = OUT / f"{re.sub(r'[^a-z]+', '-', name)}.json"
    subprocess.run(
        [str(binary), url, "--quiet", "--output=json", f"--output-path={report}",
         "--only-categories=performance,accessibility", "--form-factor=mobile",
         f"--chrome-flags={CHROME_FLAGS}"],
        env={**os.environ, "CHROME_PATH": CHROMIUM}, check=True,
    )
    data = json.loads(report.read_text())
    scores = {key: round(category["score"] * 100) for key, category in data["categories"].items()}
    failing = [
        audit["id"] for audit in data["audits"].values()
        if audit.get("score") is not None and audit["score"] < 1
        and audit.get("scoreDisplayMode") == "binary"
    ]
    metrics = {
        key: data["audits"][key]["displayValue"]
        for key in ("first-contentful-paint", "largest-contentful-paint", "total-blocking-time",
                    "cumulative-layout-shift", "total-byte-weight")
        if key in data["audits"]
    }
    print(f"{name:<10} accessibility {scores['accessibility']:>3}  performance {scores['performance']:>3}  "
          + "  ".join(f"{k}={v}" for k, v in metrics.items()))
    if failing:
        print(f"           audits not passed: {', '.join(failing)}")
    if not keep:
        report.unlink()
    return scores


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slug", default="sakuragaoka", help="demo association to measure")
    parser.add_argument("--keep", action="store_true", help="keep the JSON reports")
    args = parser.parse_args()
    if not os.access(CHROMIUM, os.X_OK):
        sys.exit(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium")
    binary = ensure_lighthouse()
    port = free_port()
    demo = start_demo(port)
    misses = []
    try:
        for name, url in pages(f"http://127.0.0.1:{port}", args.slug).items():
            if url is None:
                print(f"{name:<10} (not in this version yet)")
                continue
            scores = run_lighthouse(binary, name, url, args.keep)
            misses += [f"{name} {key} {scores[key]} < {target}" for key, target in TARGETS.items()
                       if scores[key] < target]
    finally:
        demo.terminate()
        demo.wait(timeout=10)
    print("targets: accessibility 100, performance ≥ 95 —", "met" if not misses else "MISSED: " + "; ".join(misses))
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
