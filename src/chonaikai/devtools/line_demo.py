"""The demo's LINE channel: fictional credentials shared by ``chonaikai demo`` and the fake server.

These are not secrets: they only open the fake LINE server on loopback. A real channel's
token and secret live in environment variables named by the tenant file.
"""

CHANNEL_ID = "2000000001"
TOKEN_ENV = "CHONAIKAI_DEMO_LINE_TOKEN"
SECRET_ENV = "CHONAIKAI_DEMO_LINE_SECRET"
ACCESS_TOKEN = "demo-line-access-token-for-the-fake-server-only"
CHANNEL_SECRET = "demo0secret0for0the0fake0server0"
FAKE_PORT = 8090


def start_fake_line(app_host: str, app_port: int, port: int = FAKE_PORT) -> str | None:
    """For ``chonaikai demo``: run the fake LINE server beside the app and point the app at it.

    Only when nothing else is configured (``CHONAIKAI_LINE_API_BASE`` unset): a real channel is
    never replaced by the fake. Returns the preview page's address, or None.
    """
    import atexit
    import os
    import subprocess
    import sys
    import time
    import urllib.request

    from chonaikai.settings import get_settings

    if os.environ.get("CHONAIKAI_LINE_API_BASE"):
        return None
    os.environ.setdefault(TOKEN_ENV, ACCESS_TOKEN)
    os.environ.setdefault(SECRET_ENV, CHANNEL_SECRET)
    os.environ["CHONAIKAI_LINE_API_BASE"] = f"http://127.0.0.1:{port}"
    get_settings.cache_clear()
    process = subprocess.Popen(
        [sys.executable, "-m", "chonaikai.devtools.fake_line_server", "--port", str(port),
         "--token", os.environ[TOKEN_ENV], "--secret", os.environ[SECRET_ENV],
         "--webhook", f"http://{app_host}:{app_port}/line/webhook/{CHANNEL_ID}"],
    )
    atexit.register(process.terminate)
    for _ in range(50):  # wait until it answers (at most ~5 s)
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_fake/messages", timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    return f"http://127.0.0.1:{port}/_fake/"


async def link_demo_households(limit: int = 5) -> int:
    """Give a few demo households on LINE a fictional LINE user on the fake server, so the demo
    shows LINE messages at once. Links kept in the database are re-announced to the fresh fake."""
    import hashlib
    from datetime import UTC, datetime

    import aiohttp

    from chonaikai.line.config import channel_id_for_association
    from chonaikai.line.tables import LineLink
    from chonaikai.roster.tables import Household
    from chonaikai.settings import get_settings
    from chonaikai.tenancy.tables import Association

    ids = [row["id"] for row in await Association.select(Association.id) if await channel_id_for_association(row["id"]) == CHANNEL_ID]
    if not ids:
        return 0
    existing = {row["household"] for row in await LineLink.select(LineLink.household)}
    candidates = await Household.select(Household.id, Household.association, Household.name).where(
        Household.association.is_in(ids) & (Household.channel == "line")
    ).order_by(Household.id)
    now = datetime.now(UTC)
    for row in [c for c in candidates if c["id"] not in existing][: max(0, limit - len(existing))]:
        user_id = "U" + hashlib.md5(f"demo-household-{row['id']}".encode()).hexdigest()
        await LineLink.insert(LineLink(association=row["association"], household=row["id"], channel_id=CHANNEL_ID,
                                       line_user_id=user_id, display_name=row["name"], active=True, linked_at=now))
    links = await LineLink.select(LineLink.line_user_id, LineLink.display_name).where(LineLink.active == True)  # noqa: E712
    async with aiohttp.ClientSession() as session:
        for link in links:
            async with session.post(f"{get_settings().line_api_base}/_fake/friend",
                                    json={"user_id": link["line_user_id"], "display_name": link["display_name"]}) as response:
                response.raise_for_status()
    return len(links)

