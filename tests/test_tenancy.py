"""Tenant resolution, the directory pages and the association homepage."""

from chonaikai.tenancy.logic import HostMap
from tests.factories import make_association, make_household


async def test_directory_lists_cities_and_associations(client, city, tenant):
    await make_association(city, slug="kawa", name="テスト川自治会", kana="てすとかわ", district="西部地区")
    response = await client.get("/")
    assert response.status_code == 200
    assert 'lang="ja"' in response.text
    assert "試験市" in response.text
    assert "テスト桜町内会" in response.text and "テスト川自治会" in response.text


async def test_directory_search_matches_name_and_district(client, city, tenant):
    await make_association(city, slug="kawa", name="テスト川自治会", district="西部地区")
    response = await client.get("/", params={"q": "西部"})
    assert "テスト川自治会" in response.text
    assert "テスト桜町内会" not in response.text
    assert "1件" in response.text


async def test_city_page_groups_by_district(client, city, tenant):
    await make_association(city, slug="kawa", name="テスト川自治会", district="西部地区")
    response = await client.get("/c/testcity/")
    assert response.status_code == 200
    assert "西部地区" in response.text and "テスト川自治会" in response.text
    assert (await client.get("/c/nowhere/")).status_code == 404


async def test_tenant_resolved_from_path(client, tenant):
    response = await client.get("/a/sakura/")
    assert response.status_code == 200
    assert "<h1>テスト桜町内会</h1>" in response.text


async def test_tenant_resolved_from_custom_host(client, city):
    await make_association(city, slug="kawa", name="テスト川自治会", hosts=["kawa.example.jp"])
    response = await client.get("/", headers={"host": "kawa.example.jp"})
    assert response.status_code == 200
    assert "<h1>テスト川自治会</h1>" in response.text


async def test_tenant_resolved_from_subdomain_of_tenant_domain(city, tenant):
    host_map = HostMap(tenant_domain="chonaikai.example.jp")
    assert await host_map.slug_for("sakura.chonaikai.example.jp") == "sakura"
    assert await host_map.slug_for("SAKURA.chonaikai.example.jp:443") == "sakura"
    assert await host_map.slug_for("chonaikai.example.jp") is None
    assert await host_map.slug_for("www.chonaikai.example.jp") is None
    assert await host_map.slug_for("a.b.chonaikai.example.jp") is None


async def test_host_routing_leaves_global_paths_alone(client, city):
    await make_association(city, slug="kawa", name="テスト川自治会", hosts=["kawa.example.jp"])
    response = await client.get("/healthz", headers={"host": "kawa.example.jp"})
    assert response.json()["status"] == "ok"
    response = await client.get("/a/kawa/", headers={"host": "kawa.example.jp"})
    assert "<h1>テスト川自治会</h1>" in response.text


async def test_unknown_tenant_is_a_japanese_404_with_a_way_back(client, tenant):
    response = await client.get("/a/no-such-town/", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert "町内会・自治会は見つかりませんでした" in response.text
    assert 'href="/"' in response.text


async def test_unknown_page_is_a_japanese_404(client):
    response = await client.get("/no/such/page", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert "ページが見つかりません" in response.text


async def test_homepage_shows_public_data_only(client, city):
    tenant = await make_association(
        city,
        slug="kawa",
        name="テスト川自治会",
        district="西部地区",
        contact="会長 公開 太郎",
        introduction="川沿いの自治会です。",
        public_officers=[{"title": "会長", "name": "公開 太郎"}, {"title": "会計", "name": ""}],
        han=["1班"],
    )
    await make_household(
        tenant, "秘密 花子", han="1班", kana="ヒミツ ハナコ", address="秘密町1-2-3",
        phone="090-0000-1111", email="secret@example.jp", notes="非公開メモ", channel="email",
    )
    response = await client.get("/a/kawa/")
    assert response.status_code == 200
    page = response.text
    for public in ("テスト川自治会", "西部地区", "会長 公開 太郎", "川沿いの自治会です。", "会計"):
        assert public in page
    for private in ("秘密", "ヒミツ", "090-0000-1111", "secret@example.jp", "非公開メモ", "1班"):
        assert private not in page


async def test_pages_meet_the_reading_basics(client, tenant):
    page = (await client.get("/a/sakura/")).text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "文字を大きく" in page
    assert 'defer' in page and "htmx-2.0.11.min.js" in page
    assert "<script>" not in page  # no inline scripts: the CSP forbids them


async def test_text_size_switch_works_without_javascript(client, tenant):
    # A plain form with no CSRF token: it only sets a display cookie, and public pages are
    # shared between visitors (page_cache.py), so they cannot carry one visitor's token.
    page = await client.get("/a/sakura/")
    assert 'action="/prefs/text-size"' in page.text and 'name="_csrf_token"' not in page.text
    response = await client.post("/prefs/text-size", data={"size": "large", "next": "/a/sakura/"})
    assert response.status_code == 303
    assert response.headers["location"] == "/a/sakura/"
    page = await client.get("/a/sakura/")
    assert 'class="text-large"' in page.text
    assert "文字を元に戻す" in page.text


async def test_text_size_refuses_offsite_redirects(client, tenant):
    response = await client.post("/prefs/text-size", data={"size": "large", "next": "//evil.example/"})
    assert response.headers["location"] == "/"


async def test_security_headers_on_every_page(client, tenant):
    for path in ("/", "/a/sakura/", "/no/such/page"):
        response = await client.get(path)
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_tenant_cache_reuses_a_lookup_for_its_ttl_and_never_caches_unknown_slugs(city):
    from chonaikai.tenancy.logic import TenantCache
    from chonaikai.tenancy.tables import Association

    cache = TenantCache(ttl=60)
    assert await cache.get("later") is None
    await make_association(city, slug="later", name="後から町内会")
    first = await cache.get("later")
    assert first is not None and first.city["slug"] == city["slug"]
    await Association.update({Association.name: "改名町内会"}).where(Association.slug == "later")
    assert (await cache.get("later")).name == "後から町内会"  # within the TTL
    assert (await TenantCache(ttl=0).get("later")).name == "改名町内会"
    cache.clear()
    assert (await cache.get("later")).name == "改名町内会"


async def test_tenant_cache_reads_once_for_many_requests_and_serves_the_old_entry_meanwhile(city, monkeypatch):
    """When an entry's time is up, the requests at that moment do not each read it again (64
    connections queueing on the pool every few seconds): one reads, the others go on with the
    entry there is; with none, they all wait for that one read. A forget is not undone by a read
    that began before it."""
    import asyncio

    from chonaikai.tenancy import logic
    from chonaikai.tenancy.tables import Association

    await make_association(city, slug="busy", name="賑町内会")
    reads = 0
    gate = asyncio.Event()
    real = logic.find_tenant

    async def counted(slug):
        nonlocal reads
        reads += 1
        await gate.wait()
        return await real(slug)

    monkeypatch.setattr(logic, "find_tenant", counted)
    cache = logic.TenantCache(ttl=60)
    waiting = [asyncio.create_task(cache.get("busy")) for _ in range(20)]
    await asyncio.sleep(0.01)
    assert reads == 1 and not any(task.done() for task in waiting)  # no entry yet: all wait for the one read
    gate.set()
    assert {(await task).name for task in waiting} == {"賑町内会"} and reads == 1

    await Association.update({Association.name: "新賑町内会"}).where(Association.slug == "busy")
    gate.clear()
    at, tenant = cache._entries["busy"]
    cache._entries["busy"] = (at - 61, tenant)  # its time is up
    first = asyncio.create_task(cache.get("busy"))
    await asyncio.sleep(0.01)
    others = await asyncio.gather(*[cache.get("busy") for _ in range(20)])
    assert reads == 2 and {tenant.name for tenant in others} == {"賑町内会"}  # the old entry, not 20 reads
    gate.set()
    assert (await first).name == "新賑町内会"
    assert (await cache.get("busy")).name == "新賑町内会" and reads == 2

    gate.clear()  # a read that does not come back: the old entry is served only so long
    at, tenant = cache._entries["busy"]
    cache._entries["busy"] = (at - 60 - cache.STALE_SECONDS, tenant)
    first = asyncio.create_task(cache.get("busy"))
    await asyncio.sleep(0.01)
    late = asyncio.create_task(cache.get("busy"))
    await asyncio.sleep(0.01)
    assert not late.done() and reads == 3  # waits for the read, not the old entry
    gate.set()
    assert (await late).name == "新賑町内会" and (await first).name == "新賑町内会"

    gate.clear()
    cache.forget("busy")
    read_before_forget = asyncio.create_task(cache.get("busy"))
    await asyncio.sleep(0.01)
    cache.forget("busy")  # a change while it was read: what it read is not kept
    gate.set()
    await read_before_forget
    assert "busy" not in cache._entries

