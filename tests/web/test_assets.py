"""The dashboard's static page and assets, served by the web app; and its markup rule: HTML is built
only with html`...` (static/html.js), which escapes every value, so forgetting to escape cannot happen."""

from __future__ import annotations

import re
from pathlib import Path

import kubeprobe.web
from tests.web.conftest import Web

STATIC = Path(kubeprobe.web.__file__).parent / "static"
MODULES = sorted(p.name for p in STATIC.glob("*.js"))


async def test_dashboard_page_ships_its_assets(web: Web) -> None:
    anonymous = web.client(None)
    root = await anonymous.get("/")
    assert root.status_code == 307
    assert root.headers["location"] == "/ui/"
    page = await anonymous.get("/ui/")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert '<script type="module" src="/ui/static/app.js"></script>' in page.text
    for module in set(MODULES) - {"app.js"}:  # fetched at once, not one import level after another
        assert f'<link rel="modulepreload" href="/ui/static/{module}">' in page.text
    for asset in ("/ui/static/app.js", "/ui/static/style.css", *(f"/ui/static/{m}" for m in MODULES)):
        resp = await anonymous.get(asset)
        assert resp.status_code == 200
        assert "http://" not in resp.text
        assert "https://" not in resp.text


def test_every_module_is_imported_and_markup_goes_through_html_js() -> None:
    imported = {"app.js"}
    sinks = re.compile(r"\.innerHTML\b|\.outerHTML\b|insertAdjacentHTML|document\.write")
    for module in MODULES:
        text = "\n".join(
            line for line in (STATIC / module).read_text().splitlines() if not line.lstrip().startswith("//")
        )
        imported |= set(re.findall(r'from "\./([a-z]+\.js)"', text))
        if module != "html.js":
            assert not sinks.search(text), f"{module} writes HTML itself: use render()/insert() of html.js"
            assert not re.search(r"\braw\(", text), f"{module} inserts raw markup: build it with html`...`"
        assert "esc(" not in text, f"{module} escapes by hand: html`...` does it"
    assert imported == set(MODULES), f"modules nobody imports: {set(MODULES) - imported}"
