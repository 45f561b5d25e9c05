"""Real-browser tests: Debian's Chromium driven by Playwright against the real app.

The app runs in its own process (uvicorn on a random loopback port) on the same test database
as the rest of the suite, so tests create rows with the usual factories and the browser sees them.
A separate process, not a thread: on PostgreSQL the server's connection pool must live on the
server's own event loop.

Chromium is a Debian package (`apt-get install chromium fonts-noto-cjk`); `.ci/run` installs it and
sets CHONAIKAI_REQUIRE_BROWSER=1, which turns the skip below into a failure.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHONAIKAI_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
HERE = Path(__file__).parent
ARTIFACTS = HERE.parent / "artifacts"
AXE_FILE = HERE / "vendor" / "axe-core-4.14.1.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

_missing_reason = None
if not (os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
    _missing_reason = f"Chromium not found at {CHROMIUM}"
else:
    try:
        import playwright  # noqa: F401
    except ImportError:
        _missing_reason = "the playwright package is not installed (make test installs it)"


def pytest_collection_modifyitems(config, items):
    browser_items = [item for item in items if "browser" in item.keywords]
    for item in browser_items:
        item.add_marker(pytest.mark.slow)
    if _missing_reason is None or not browser_items:
        return
    reason = (
        f"BROWSER TESTS NOT RUN: {_missing_reason}. "
        "Install with `apt-get install -y chromium fonts-noto-cjk` (.ci/run does this)."
    )
    if os.environ.get("CHONAIKAI_REQUIRE_BROWSER") == "1":
        raise pytest.UsageError(reason + " CHONAIKAI_REQUIRE_BROWSER=1 forbids skipping them.")
    for item in browser_items:
        item.add_marker(pytest.mark.skip(reason=reason))


def pytest_terminal_summary(terminalreporter):
    if _missing_reason is not None:
        terminalreporter.write_sep("!", f"BROWSER TESTS SKIPPED: {_missing_reason}", red=True, bold=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


# ---------------------------------------------------------------------------------------------
# The app under test


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    def __init__(self, url: str, process: subprocess.Popen, log_path: Path) -> None:
        self.url = url
        self.process = process
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def start_server(extra_env: dict[str, str] | None = None) -> LiveServer:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "CHONAIKAI_BASE_URL": url, **(extra_env or {})}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / f"server-{port}.log"
    log_file = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "chonaikai.app:create_asgi_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"],
        env=env, stdout=log_file, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the app did not start:\n{log_path.read_text(errors='replace')[-4000:]}")
        time.sleep(0.1)
    return LiveServer(url, process, log_path)


def stop_server(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture(scope="session")
def live_server(migrated_database) -> AsyncIterator[LiveServer]:
    if _missing_reason is not None:
        pytest.skip(_missing_reason)
    server = start_server()
    yield server
    stop_server(server)


# ---------------------------------------------------------------------------------------------
# The browser


@pytest.fixture(scope="session")
async def browser():
    if _missing_reason is not None:
        pytest.skip(_missing_reason)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


async def _context(browser, request, live_server, options: dict, *, javascript: bool = True):
    context = await browser.new_context(
        base_url=live_server.url, locale="ja-JP", java_script_enabled=javascript, **options
    )
    context.set_default_timeout(20_000)  # generous: CI machines have 2 busy cores
    # Remembered for assert_accessible: with JavaScript off a page cannot run axe (evaluate hangs).
    context.chonaikai_javascript = javascript
    return context


async def _close_with_screenshots(context, request) -> None:
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for number, page in enumerate(context.pages):
            name = f"{request.node.name}-{number}.png".replace("/", "_").replace("[", "-").replace("]", "")
            try:
                await page.screenshot(path=str(ARTIFACTS / name), full_page=True)
            except Exception as exc:  # a crashed page must not hide the test's own failure
                print(f"screenshot {name} failed: {exc}")
            else:
                print(f"screenshot on failure: {ARTIFACTS / name} ({page.url})")
    await context.close()


@pytest.fixture
async def phone(browser, request, live_server):
    """A page in a phone-sized window (390×844)."""
    context = await _context(browser, request, live_server, PHONE)
    yield await context.new_page()
    await _close_with_screenshots(context, request)


@pytest.fixture
async def desktop(browser, request, live_server):
    context = await _context(browser, request, live_server, DESKTOP)
    yield await context.new_page()
    await _close_with_screenshots(context, request)


@pytest.fixture(params=["phone", "desktop"])
async def any_page(browser, request, live_server):
    """Each test that takes it runs on a phone and on a desktop."""
    context = await _context(browser, request, live_server, PHONE if request.param == "phone" else DESKTOP)
    yield await context.new_page()
    await _close_with_screenshots(context, request)


@pytest.fixture
async def new_context(browser, request, live_server):
    """Open more contexts (another person, JavaScript off); all are closed, with screenshots on failure."""
    contexts = []

    async def make(kind: str = "phone", *, javascript: bool = True):
        context = await _context(browser, request, live_server, PHONE if kind == "phone" else DESKTOP,
                                 javascript=javascript)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        await _close_with_screenshots(context, request)


# ---------------------------------------------------------------------------------------------
# Accessibility


def axe_source() -> str:
    expected = (AXE_FILE.parent / (AXE_FILE.name + ".sha256")).read_text().split()[0]
    data = AXE_FILE.read_bytes()
    if hashlib.sha256(data).hexdigest() != expected:
        raise AssertionError(f"{AXE_FILE} does not match its pinned checksum")
    return data.decode()


_AXE: dict[str, str] = {}


async def axe_violations(page) -> list[dict]:
    """Run axe-core in the page at WCAG 2.1 A/AA. Evaluated, not added as a <script>: our CSP forbids that."""
    if "source" not in _AXE:
        _AXE["source"] = axe_source()
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(_AXE["source"])
    result = await page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        AXE_TAGS,
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
            "summary": (v["nodes"][0].get("failureSummary") or "")[:300] if v["nodes"] else "",
        }
        for v in result["violations"]
    ]


async def assert_accessible(page, label: str = "") -> None:
    if not getattr(page.context, "chonaikai_javascript", True):
        return  # the same pages are checked in the JavaScript-on runs of each journey
    violations = await axe_violations(page)
    where = label or page.url
    print(f"axe {where}: {len(violations)} violations {[v['id'] for v in violations]}")
    assert not violations, f"axe-core WCAG 2.1 AA violations on {where}:\n" + json.dumps(
        violations, ensure_ascii=False, indent=1
    )


def chromium_available() -> bool:
    return _missing_reason is None and shutil.which(CHROMIUM) is not None
