"""``/healthz``: answers 200 only when the database answers, within HEALTH_TIMEOUT_SECONDS."""

import asyncio

from litestar import get
from litestar.response import Response

from chonaikai.db import check_database

# Fly's health check gives up after 5 s: answer before it does, whatever the database is doing.
HEALTH_TIMEOUT_SECONDS = 3.0


@get("/healthz", name="healthz", cache=False)
async def healthz() -> Response:
    try:
        await asyncio.wait_for(check_database(), HEALTH_TIMEOUT_SECONDS)
    except TimeoutError:
        return Response({"status": "error", "database": "no answer within 3 s"}, status_code=503)
    except Exception as error:  # any failure to reach the database means "not ready"
        return Response({"status": "error", "database": f"unreachable: {type(error).__name__}"}, status_code=503)
    return Response({"status": "ok", "database": "ok"})


@get("/healthz/live", name="liveness", cache=False)
async def liveness() -> dict[str, str]:
    """The process answers (no database): for a load balancer's liveness probe and as the
    "hello" reference that bench/pages.py compares real pages against."""
    return {"status": "ok"}
