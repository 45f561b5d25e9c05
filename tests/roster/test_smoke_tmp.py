from chonaikai.accounts.roles import Role
from tests.auth import sign_in_as


async def test_smoke(client, tenant, roster):
    await sign_in_as(client, "k@example.jp", Role.CHAIR, tenant)
    for path in ["/a/sakura/roster", "/a/sakura/roster/new", f"/a/sakura/roster/{roster['taro']['id']}",
                 f"/a/sakura/roster/{roster['taro']['id']}/card", "/a/sakura/roster/import", "/a/sakura/audit",
                 "/a/sakura/roster/export.csv", "/a/sakura/roster/sample.csv", "/card"]:
        r = await client.get(path)
        assert r.status_code == 200, (path, r.text[:3000])
    r = await client.get("/a/sakura/roster?q=みほん", headers={"HX-Request": "true"})
    assert "見本 太郎" in r.text and "仮野" not in r.text and "<html" not in r.text
