"""Fixtures of the /ui/ tests: ratecalc in shop mode with its pages on, on real HTTP.

``ui_api(**env)`` starts ratecalc pointed at the ShipStation and Cin7 simulators
(real servers) with RATECALC_UI_SECRET_KEY set, its shop store on SQLite, the
delivery worker driven by the test (``api.shop.worker.run_once()``).
"""

from __future__ import annotations

import re

import pytest
import requests

from tests.shop.conftest import STORE_PASSWORD, STORE_USER, cin7, shop_env  # noqa: F401

UI_KEY = "ui-secret-key-for-tests-0123456789abcdef"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def ui_api(make_api, shop_env, tmp_path):  # noqa: F811 - shop_env is the imported fixture
    def start(**env):
        values = shop_env(f"sqlite:///{tmp_path}/shop.sqlite3", UI_SECRET_KEY=UI_KEY,
                          MARKUP_PERCENT="10")
        values.update(env)
        api = make_api(**values)
        api.shop = api.services.extras.get("shop")
        return api

    return start


def csrf_of(html: str) -> str:
    found = CSRF_RE.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def logged_in(api, token: str | None = None) -> requests.Session:
    """A browser-like session (cookies kept) logged in to ``api``'s pages."""
    session = requests.Session()
    page = session.get(api.url + "/ui/login", timeout=10)
    assert page.status_code == 200
    response = session.post(api.url + "/ui/login", allow_redirects=False, timeout=10,
                            data={"token": token or api.token, "csrf_token": csrf_of(page.text)})
    assert response.status_code == 303, response.text
    return session
