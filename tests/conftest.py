"""Shared fixtures: simulators and ratecalc itself, each a real HTTP server."""

from __future__ import annotations

import pytest
import requests
from hypothesis import settings as hypothesis_settings

from ratecalc.app import create_app
from ratecalc.sandbox.server import ServerThread
from ratecalc.sandbox.shipstation import ShipStationSimulator
from ratecalc.settings import Settings

TOKEN = "test-token-0123456789abcdef"  # noqa: S105

# `make fuzz` runs the property tests with this profile: many more examples.
hypothesis_settings.register_profile("fuzz", max_examples=2000, deadline=None)


class Api:
    """A client of a running ratecalc: ``api.post("/v1/rates", json=...)``."""

    def __init__(self, url: str, app, token: str = TOKEN):
        self.url = url
        self.app = app
        self.session = requests.Session()
        self.token = token

    @property
    def services(self):
        return self.app.extensions["ratecalc"]

    def request(self, method: str, path: str, *, auth: bool = True, **kwargs):
        headers = dict(kwargs.pop("headers", None) or {})
        if auth:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, self.url + path, headers=headers, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)


class QuickServerThread(ServerThread):
    """A :class:`ServerThread` that stops at once (polls for shutdown every 5 ms)."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0):
        super().__init__(app, host, port, poll_interval=0.005)


@pytest.fixture
def shipstation():
    sim = ShipStationSimulator()
    server = QuickServerThread(sim.app).start()
    sim.url = server.url
    yield sim
    server.stop()


def base_env(shipstation_url: str) -> dict:
    return {
        "RATECALC_SHIPSTATION_BASE_URL": shipstation_url,
        "RATECALC_SHIPSTATION_API_KEY": "demo-key",
        "RATECALC_SHIPSTATION_API_SECRET": "demo-secret",
        "RATECALC_SHIPSTATION_V2_API_KEY": "demo-v2-key",
        "RATECALC_API_TOKENS": TOKEN,
        "RATECALC_SHIP_FROM_POSTAL_CODE": "78703",
        "RATECALC_SHIP_FROM_CITY": "Austin",
        "RATECALC_SHIP_FROM_STATE": "TX",
    }


@pytest.fixture
def make_settings(shipstation):
    def make(**env) -> Settings:
        merged = base_env(shipstation.url)
        merged.update({k if k.startswith("RATECALC_") else f"RATECALC_{k.upper()}": str(v)
                       for k, v in env.items()})
        return Settings.from_env(merged)

    return make


@pytest.fixture
def make_api(make_settings):
    started = []

    def start(settings: Settings | None = None, **env) -> Api:
        settings = settings or make_settings(**env)
        app = create_app(settings)
        server = QuickServerThread(app).start()
        started.append((server, app))
        return Api(server.url, app)

    yield start
    for server, app in started:
        server.stop()
        app.extensions["ratecalc"].close()


@pytest.fixture
def api(make_api) -> Api:
    return make_api()


DC_REQUEST = {
    "ship_to": {"country": "US", "postal_code": "20500", "state": "DC", "city": "Washington",
                "residential": False},
    "ship_from": {"postal_code": "78703"},
    "package": {"weight": {"value": 24, "units": "ounces"},
                "dimensions": {"length": 7, "width": 5, "height": 6, "units": "inches"}},
}
