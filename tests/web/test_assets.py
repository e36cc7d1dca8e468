"""The dashboard's static page and assets, served by the web app."""

from __future__ import annotations

from tests.web.conftest import Web


async def test_dashboard_page_ships_its_assets(web: Web) -> None:
    anonymous = web.client(None)
    root = await anonymous.get("/")
    assert root.status_code == 307
    assert root.headers["location"] == "/ui/"
    page = await anonymous.get("/ui/")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "/ui/static/app.js" in page.text
    for asset in ("/ui/static/app.js", "/ui/static/style.css"):
        resp = await anonymous.get(asset)
        assert resp.status_code == 200
        assert "http://" not in resp.text
        assert "https://" not in resp.text
