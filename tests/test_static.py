import hashlib
import re

from chonaikai.web import HTMX_FILE, STATIC_DIR


def test_vendored_htmx_is_the_pinned_2_0_file():
    path = STATIC_DIR / HTMX_FILE
    expected = (path.parent / (path.name + ".sha256")).read_text().split()[0]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == expected
    assert re.search(r"htmx-2\.0\.\d+\.min\.js$", HTMX_FILE)
    assert 'version:"2.0.11"' in path.read_text()


async def test_static_files_are_served(client):
    response = await client.get("/static/css/site.css")
    assert response.status_code == 200
    assert "font-size: 112.5%" in response.text  # 18px base
    response = await client.get(f"/static/{HTMX_FILE}")
    assert response.status_code == 200
