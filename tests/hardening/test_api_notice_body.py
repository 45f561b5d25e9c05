"""POST /api/v1/associations/{slug}/notices validates its body with a typed schema (issue 14, Low):
``"audience": {"han": [{}]}`` or ``[["1班"]]`` answered 500; now 400 naming the field."""

from __future__ import annotations

import pytest

from chonaikai.accounts.api_tokens import create_token
from chonaikai.notices.tables import Notice

BAD = [
    ({"title": "x", "audience": {"han": [{}]}}, "audience"),
    ({"title": "x", "audience": [["1班"]]}, "audience"),
    ({"title": "x", "audience": {"han": [["1班"]]}}, "audience"),
    ({"title": "x", "audience": {"han": "1班"}}, "audience"),
    ({"title": "x", "audience": {"han": []}}, "audience"),
    ({"title": "x", "audience": {"han": ["1班"], "x": 1}}, "audience"),
    ({"title": ["x"]}, "title"),
    ({"title": "x", "body": {"a": 1}}, "body"),
    ({"title": "x", "category": ["行事"]}, "category"),
    ({"title": "x", "visibility": None}, "visibility"),
    ({"title": "x", "publish": 1}, "publish"),
    ({"title": "x", "unknown": 1}, "unknown"),
]


@pytest.mark.parametrize(("body", "field"), BAD)
async def test_a_malformed_body_is_400_naming_the_field(client, tenant, body, field):
    token = (await create_token(role="editor", association_slug="sakura")).secret
    response = await client.post("/api/v1/associations/sakura/notices", json=body,
                                 headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 400, (body, response.status_code, response.text)
    assert field in response.text, (field, response.text)
    assert await Notice.count() == 0
