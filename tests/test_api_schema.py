"""/schema: the API page is served from our own origin (vendored, pinned, checksummed Swagger UI),
lists only /api/ routes, and every one has a summary, a description and its error answers."""

from __future__ import annotations

import hashlib
import re

from chonaikai.api_docs import SWAGGER_DIR
from chonaikai.web import STATIC_DIR


def test_the_vendored_viewer_matches_its_pinned_checksums():
    folder = STATIC_DIR / SWAGGER_DIR
    lines = (folder / "SHA256SUMS").read_text().splitlines()
    assert len(lines) == 2
    for line in lines:
        expected, name = line.split()
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == expected, name
    assert re.search(r"swagger-ui-\d+\.\d+\.\d+$", SWAGGER_DIR)


async def test_the_api_page_loads_nothing_from_elsewhere(client):
    for path in ("/schema", "/schema/swagger"):
        page = await client.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert sources and all(source.startswith("/") for source in sources), sources
        assert "<script>" not in page.text  # no inline script: the CSP would refuse it
        for source in sources:
            if source.startswith("/static/"):
                assert (await client.get(source)).status_code == 200, source


async def test_the_schema_lists_only_api_routes_each_documented(client):
    schema = (await client.get("/schema/openapi.json")).json()
    paths = schema["paths"]
    assert paths and all(path.startswith("/api/v1/") for path in paths), sorted(paths)
    assert "/api/v1/associations/{slug}/notices" in paths
    assert schema["info"]["description"]
    for path, item in paths.items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            assert operation.get("summary"), where
            assert operation.get("description"), where
            assert {"401", "403", "404"} <= set(operation["responses"]), where
            error = operation["responses"]["401"]["content"]["application/json"]["schema"]
            assert error, where
