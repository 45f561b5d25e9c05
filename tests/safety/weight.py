"""What a cold load of a page costs over the wire: the page and every stylesheet, script and image
it names, as the test client receives them with gzip (bytes before decompression)."""

from __future__ import annotations

import re

import httpx

ASSET = re.compile(r"""<(?:link[^>]+href|script[^>]+src|img[^>]+src)=["']([^"']+)["']""")


async def wire_bytes(client: httpx.AsyncClient, url: str) -> tuple[int, dict[str, int]]:
    sizes: dict[str, int] = {}
    headers = {"Accept-Encoding": "gzip"}
    page = await client.get(url, headers=headers)
    assert page.status_code == 200, page.status_code
    sizes[url] = page.num_bytes_downloaded
    for asset in dict.fromkeys(ASSET.findall(page.text)):
        if asset.startswith("data:"):
            continue
        response = await client.get(asset, headers=headers)
        assert response.status_code == 200, asset
        sizes[asset] = response.num_bytes_downloaded
    return sum(sizes.values()), sizes
