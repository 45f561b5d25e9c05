"""Lighthouse (mobile) on the pages members see most: homepage, notice board, read page.

Serves the demo data (tests/browser/demo_site.py: the demo tenants and rosters plus notices made from
the 文例, e-mailed by the real worker to a loopback sink) from its own SQLite file under bench/out/,
runs Lighthouse 12 (npm, installed into bench/node_modules on first use) with Debian's Chromium on a
loopback port, and prints the scores. Targets: accessibility 100,
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
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
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
    parser.add_argument("--keep", action="store_true", help="keep the JSON reports")
    args = parser.parse_args()
    if not os.access(CHROMIUM, os.X_OK):
        sys.exit(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium")
    from tests.browser.demo_site import SLUG, DemoSite

    binary = ensure_lighthouse()
    misses = []
    OUT.mkdir(parents=True, exist_ok=True)
    with DemoSite(OUT / "site") as site:
        pages = {
            "homepage": f"{site.url}/a/{SLUG}/",
            "board": f"{site.url}/a/{SLUG}/notices",
            "read page": site.read_link,
        }
        for name, url in pages.items():
            scores = run_lighthouse(binary, name, url, args.keep)
            misses += [f"{name} {key} {scores[key]} < {target}" for key, target in TARGETS.items()
                       if scores[key] < target]
    print("targets: accessibility 100, performance ≥ 95 —", "met" if not misses else "MISSED: " + "; ".join(misses))
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
